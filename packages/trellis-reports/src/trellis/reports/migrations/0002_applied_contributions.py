"""Keep each counted record's revision and contribution on its mark (revised records)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("trellis_reports", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="appliedrecord",
            name="revision",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="appliedrecord",
            name="key",
            field=models.CharField(
                blank=True, help_text="The group's key.", max_length=64, null=True
            ),
        ),
        migrations.AddField(
            model_name="appliedrecord",
            name="parts",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="appliedrecord",
            index=models.Index(fields=["report", "key"], name="trellis_reports_applied_key"),
        ),
        migrations.AddIndex(
            model_name="appliedrecord",
            index=models.Index(
                condition=models.Q(("revision__isnull", True)),
                fields=["report"],
                name="trellis_reports_applied_old",
            ),
        ),
    ]
