"""Trellis benchmarks: ``python bench/run.py [AREA ...]`` (see ``bench/_common.py``)."""
