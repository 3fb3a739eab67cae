"""The ``events`` benchmark's Django project: settings and a sink processor (written to a dir)."""

from __future__ import annotations

SETTINGS = """
import dj_database_url
import bench_events_plugin
from trellis.core.django import compose

SECRET_KEY = "bench-only"
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES = {"default": dj_database_url.parse(DATABASE)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
compose(globals(), plugins=[bench_events_plugin])
"""

PLUGIN = """
import os
import time
from pathlib import Path

from trellis import events
from trellis.core import hookimpl

TRELLIS_IMPLEMENTS = {"events": ">=1.0,<2"}
WORK = Path(os.environ["BENCH_EVENTS_DIR"])


def sink(batch):
    now = time.time()
    with (WORK / f"seen-{os.environ['BENCH_RUN']}.log").open("a") as out:
        out.write("".join(f"{e.payload['t']} {now}\\n" for e in batch))


@hookimpl
def events_topics():
    return [events.Topic("bench.tick", "benchmark events")]


@hookimpl
def events_processors():
    return [events.Processor("bench-sink", ["bench.tick"], sink, batch_size=200)]
"""
