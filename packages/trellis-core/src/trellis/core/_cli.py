"""The ``trellis`` command: inspect and check the plugins installed in this environment."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ._composition import compose_plugins
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
    plugins = commands.add_parser(
        "plugins", help="list plugins, their contracts, providers and status"
    )
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    hooks = commands.add_parser("hooks", help="list hooks, their contracts and implementers")
    hooks.add_argument("--json", action="store_true", help="print JSON instead of a table")
    commands.add_parser(
        "check",
        help="exit non-zero on any quarantined plugin, contract problem or, with "
        "DJANGO_SETTINGS_MODULE set, Django system check error",
    )
    args = parser.parse_args(argv)
    try:
        django_ready = _setup_django()
        host = get_host()
        urlconf_problem = _compose(host, django_ready)
    except TrellisError as exc:
        print(f"trellis: {exc}", file=sys.stderr)
        return 1
    if args.command == "check":
        errors, warnings = _system_checks() if django_ready else ([], [])
        return _check(host, [*([urlconf_problem] if urlconf_problem else []), *errors], warnings)
    if args.command == "plugins":
        return _plugins(host, as_json=args.json)
    return _hooks(host, as_json=args.json)


def _setup_django() -> bool:
    """With ``DJANGO_SETTINGS_MODULE`` set, load it so its ``TRELLIS`` setting applies.

    A settings module that calls ``compose()`` installs the host the service itself uses.

    :return: whether Django was set up.
    """
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        return False
    try:
        import django
    except ImportError:
        return False
    try:
        django.setup()
    except Exception as exc:
        module = os.environ["DJANGO_SETTINGS_MODULE"]
        raise TrellisError(
            f"DJANGO_SETTINGS_MODULE={module!r} could not be loaded: {describe_exception(exc)}"
        ) from exc
    return True


def _compose(host: Host, django_ready: bool) -> str:
    """Run the composition the service runs, so what it would quarantine is quarantined here.

    With Django set up that is the project's URLconf too (which imports every mounted
    plugin's URLs); without, the composition hooks alone.

    :return: a problem loading the project's URLconf, or ``""``.
    """
    compose_plugins(host)  # what compose() ran in the settings module, on this host
    if not django_ready:
        return ""
    from django.conf import settings
    from django.urls import get_resolver

    if not getattr(settings, "ROOT_URLCONF", None):
        return ""  # a project that serves no URLs has no mounts to check
    try:
        get_resolver().url_patterns  # noqa: B018 - imports ROOT_URLCONF and every plugin mount
    except Exception as exc:
        return f"the project's URLconf cannot be loaded: {describe_exception(exc)}"
    return ""


def _plugins(host: Host, *, as_json: bool) -> int:
    records = host.plugins()
    if as_json:
        print(json.dumps([r.as_dict() for r in records], indent=2))
        return 0
    rows = [("NAME", "DISTRIBUTION", "VERSION", "CONTRACTS", "PROVIDES", "STATUS", "REASON")]
    for r in records:
        contracts = ", ".join(f"{c} {v}" for c, v in sorted(r.implements.items()))
        provides = ", ".join(f"{c}:{p}" for c, p in sorted(r.provides.items()))
        rows.append(
            (
                r.name,
                r.distribution or "-",
                r.version or "-",
                contracts or "-",
                provides or "-",
                r.status,
                r.reason,
            )
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


def _system_checks() -> tuple[list[str], list[str]]:
    """Django's system checks (``manage.py check``): ``(errors, warnings)``, as lines.

    Plugins register checks of their own (trellis-blobs: a provider that cannot work), so
    ``trellis check`` sees what ``manage.py check`` sees. Silenced checks stay silent.
    """
    from django.core import checks

    errors: list[str] = []
    warnings: list[str] = []
    for message in checks.run_checks():
        if message.is_silenced():
            continue
        line = f"{message.id}: {message.msg}" + (f" (hint: {message.hint})" if message.hint else "")
        (errors if message.is_serious() else warnings).append(line)
    return errors, warnings


def _check(host: Host, extra: list[str], warnings: Sequence[str] = ()) -> int:
    problems = [*host.problems(), *extra]
    active = sum(1 for r in host.plugins() if r.status == "active")
    for warning in warnings:
        print(f"warning: {warning}")
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
