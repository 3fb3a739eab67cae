"""Benchmark areas: each ``<area>.py`` module here exposes ``run() -> list[Record]``."""
