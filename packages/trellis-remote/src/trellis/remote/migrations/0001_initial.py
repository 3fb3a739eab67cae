from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="SeenNonce",
            fields=[
                ("nonce", models.CharField(max_length=32, primary_key=True, serialize=False)),
                ("expires", models.DateTimeField(db_index=True)),
            ],
            options={"verbose_name": "seen nonce"},
        ),
    ]
