"""The ``trellis`` command: inspect and check the plugins installed in this environment."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ._errors import TrellisError
from ._global import get_host
from ._host import Host
from ._loader import describe_exception


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``trellis`` / ``python -m trellis.core``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="trellis", description="Inspect the Trellis plugins installed in this environment."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plugins = commands.add_parser("plugins", help="list plugins, their contracts and status")
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    hooks = commands.add_parser("hooks", help="list hooks, their contracts and implementers")
    hooks.add_argument("--json", action="store_true", help="print JSON instead of a table")
    commands.add_parser("check", help="exit non-zero on any quarantined plugin or contract problem")
    args = parser.parse_args(argv)
    try:
        _setup_django()
        host = get_host()
    except TrellisError as exc:
        print(f"trellis: {exc}", file=sys.stderr)
        return 1
    if args.command == "plugins":
        return _plugins(host, as_json=args.json)
    if args.command == "hooks":
        return _hooks(host, as_json=args.json)
    return _check(host)


def _setup_django() -> None:
    """With ``DJANGO_SETTINGS_MODULE`` set, load it so its ``TRELLIS`` setting applies.

    A settings module that calls ``compose()`` installs the host the service itself uses.
    """
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return
    try:
        import django
    except ImportError:
        return
    try:
        django.setup()
    except Exception as exc:
        module = os.environ["DJANGO_SETTINGS_MODULE"]
        raise TrellisError(
            f"DJANGO_SETTINGS_MODULE={module!r} could not be loaded: {describe_exception(exc)}"
        ) from exc


def _plugins(host: Host, *, as_json: bool) -> int:
    records = host.plugins()
    if as_json:
        print(json.dumps([r.as_dict() for r in records], indent=2))
        return 0
    rows = [("NAME", "DISTRIBUTION", "VERSION", "CONTRACTS", "STATUS", "REASON")]
    for r in records:
        contracts = ", ".join(f"{c} {v}" for c, v in sorted(r.implements.items()))
        rows.append(
            (r.name, r.distribution or "-", r.version or "-", contracts or "-", r.status, r.reason)
        )
    _table(rows)
    return 0


def _hooks(host: Host, *, as_json: bool) -> int:
    infos = host.hooks()
    if as_json:
        print(json.dumps([h.as_dict() for h in infos], indent=2))
        return 0
    rows = [("HOOK", "CONTRACT", "KIND", "IMPLEMENTERS (CALL ORDER)", "CALLS")]
    for h in infos:
        names = []
        for impl in h.implementers:
            mark = "*" if impl.selected else ""
            names.append(f"{impl.plugin}{mark}{' (wrapper)' if impl.wrapper else ''}")
        rows.append(
            (
                h.name,
                f"{h.contract} {h.contract_version}",
                h.kind,
                ", ".join(names) or "-",
                str(h.calls),
            )
        )
    _table(rows)
    print("* selected provider")
    return 0


def _check(host: Host) -> int:
    problems = host.problems()
    active = sum(1 for r in host.plugins() if r.status == "active")
    if not problems:
        print(f"ok: {active} plugin(s) active, {len(host.contracts())} contract(s), no problems")
        return 0
    for problem in problems:
        print(f"error: {problem}")
    print(f"{len(problems)} problem(s) found")
    return 1


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
