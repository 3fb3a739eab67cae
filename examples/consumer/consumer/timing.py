"""``python -m consumer.timing``: p50 of a 1 KiB put and get through ``trellis.blobs``, as JSON.

Migrates the database under ``TRELLIS_DATA_DIR`` first, so it runs on a fresh data dir. No
pytest: this is how the consumer's own code would call the store.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m consumer.timing", description=__doc__)
    parser.add_argument("--iterations", type=int, default=200, help="timed calls of each")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls of each first")
    parser.add_argument("--size", type=int, default=1024, help="bytes per blob")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.warmup < 0 or args.size < 0:
        parser.error("--iterations must be at least 1; --warmup and --size not negative")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consumer.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from consumer.attachments import attachment_read, attachment_store

    call_command("migrate", interactive=False, verbosity=0)
    payload = os.urandom(args.size)
    keys: list[str] = []
    put_ns: list[int] = []
    get_ns: list[int] = []
    for index in range(args.warmup + args.iterations):
        started = time.perf_counter_ns()
        info = attachment_store(payload, form_id="timing", name=f"{index}.bin")
        if index >= args.warmup:
            put_ns.append(time.perf_counter_ns() - started)
        keys.append(info.key)
    for index, key in enumerate(keys):
        started = time.perf_counter_ns()
        data = attachment_read(key)
        if index >= args.warmup:
            get_ns.append(time.perf_counter_ns() - started)
        if data != payload:
            raise SystemExit(f"blob {key} came back different from what was stored")
    print(
        json.dumps(
            {
                "iterations": args.iterations,
                "warmup": args.warmup,
                "size": args.size,
                "put_p50_ms": round(statistics.median(put_ns) / 1e6, 3),
                "get_p50_ms": round(statistics.median(get_ns) / 1e6, 3),
                "provider": os.environ.get("TRELLIS_BLOBS_PROVIDER", "filesystem"),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
