"""The nonces of signed calls seen recently: a replay of one is refused."""

from __future__ import annotations

from django.db import models


class SeenNonce(models.Model):
    """A call's nonce, kept until its timestamp could no longer pass (twice the skew).

    A table, not a cache: a cache may evict an entry before it expires (Django's database
    cache culls a third of its entries once it holds 300), and an evicted nonce could be
    replayed. Inserting is the check: the primary key refuses a nonce seen before, in any
    worker or process sharing the database.
    """

    nonce = models.CharField(max_length=32, primary_key=True)
    expires = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "seen nonce"

    def __str__(self) -> str:
        return self.nonce
