"""The contract-suite machinery, run in a separate pytest session (pytester)."""

from __future__ import annotations

import textwrap

pytest_plugins = ["pytester"]

SUITE = '''
import types
import pytest
from trellis.core import Contract, hookimpl, hookspec
from trellis.core.testing import ContractSuite

specs = types.ModuleType("kv_specs")
exec("""
from trellis.core import Contract, hookspec
CONTRACT = Contract("kv", "1.0.0")
@hookspec(firstresult=True)
def kv_put(key, value): ...
@hookspec(firstresult=True)
def kv_get(key): ...
""", specs.__dict__)


class KVContract(ContractSuite):
    contract = "kv"

    def test_round_trip(self, contract_host):
        contract_host.call("kv_put", key="a", value="1")
        assert contract_host.call("kv_get", key="a") == "1"

    def test_missing_is_none(self, contract_host):
        assert contract_host.call("kv_get", key="nope") is None

    def test_is_the_process_wide_host(self, contract_host):
        from trellis.core import get_host

        assert get_host() is contract_host


def make_provider(name, store_factory):
    module = types.ModuleType(f"kv_{name}")
    store = store_factory()
    module.TRELLIS_IMPLEMENTS = {"kv": ">=1,<2"}
    module.TRELLIS_PROVIDES = {"kv": name}
    module.TRELLIS_HOOKSPECS = [specs]
    module.kv_put = hookimpl(lambda key, value: store.__setitem__(key, value) or True)
    module.kv_get = hookimpl(lambda key: store.get(key))
    module.kv_put.__name__, module.kv_get.__name__ = "kv_put", "kv_get"
    return module


class Forgetful(dict):
    def __setitem__(self, key, value):
        pass
'''


def test_suite_passes_for_good_providers_and_fails_for_a_broken_one(pytester):
    pytester.makepyfile(
        kvsuite=SUITE,
        test_providers=textwrap.dedent(
            """
            from kvsuite import KVContract, Forgetful, make_provider

            class TestMemory(KVContract):
                provider = "memory"
                plugins = [make_provider("memory", dict)]

            class TestForgetful(KVContract):
                provider = "forgetful"
                plugins = [make_provider("forgetful", Forgetful)]

            class TestNotLoaded(KVContract):
                provider = "absent"
                plugins = [make_provider("memory", dict)]
            """
        ),
    )
    result = pytester.runpytest("-q", "-p", "no:django")  # the outer run owns Django
    result.assert_outcomes(passed=5, failed=1, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of TestNotLoaded.test_round_trip*",
            "provider 'absent' of contract 'kv' is not loaded; loaded: memory",
            "*TestForgetful.test_round_trip*",
        ]
    )


def test_fixtures_are_registered_by_the_pytest11_entry_point(pytester):
    pytester.makepyfile(
        """
        import types
        from trellis.core import hookimpl

        def test_register(trellis_host, trellis_register):
            module = types.ModuleType("extra")
            module.TRELLIS_IMPLEMENTS = {"core": ">=1,<2"}
            module.core_django_apps = hookimpl(lambda: ["extra"])
            module.core_django_apps.__name__ = "core_django_apps"
            record = trellis_register(module, "extra", host=trellis_host)
            assert record.status == "active"
            assert ["extra"] in trellis_host.collect("core_django_apps")
        """
    )
    result = pytester.runpytest("-q", "-p", "no:django")  # the outer run owns Django
    result.assert_outcomes(passed=1)


def test_contract_suite_modules_get_assertion_rewriting(pytester, monkeypatch):
    # A subsystem "zzsuite" installed as a portion of the trellis namespace, whose testing
    # module asserts like BlobsContract does; a provider author must see the values compared.
    portion = pytester.path / "portion"
    (portion / "trellis" / "zzsuite").mkdir(parents=True)
    (portion / "trellis" / "zzsuite" / "__init__.py").write_text("")
    (portion / "trellis" / "zzsuite" / "testing.py").write_text(
        "def assert_stored(host_answer):\n    assert host_answer == b'expected bytes'\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(portion))
    pytester.makepyfile(
        """
        from trellis.zzsuite.testing import assert_stored

        def test_provider():
            assert_stored(b'damaged bytes')
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:django", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert b'damaged bytes' == b'expected bytes'*"])


def test_the_test_settings_remove_their_data_directory_at_exit():
    """Importing trellis.core.testing.settings makes a data directory; exiting removes it."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import django\n"
        "from trellis.core.testing import settings\n"
        "(settings.DATA_DIR / 'db.sqlite3').write_bytes(b'x')\n"
        "print(settings.DATA_DIR)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    data_dir = Path(result.stdout.strip().splitlines()[-1])
    assert data_dir.name.startswith("trellis-test-")
    assert not data_dir.exists(), f"{data_dir} was left behind"
