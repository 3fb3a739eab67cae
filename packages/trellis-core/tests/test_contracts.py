from __future__ import annotations

import types

import pytest

from trellis.core import Contract, ContractError
from trellis.core._contracts import contract_of, parse_range, satisfies


def test_contract_names_its_provider_variable():
    assert Contract("blobs", "1.0.0").env_var == "TRELLIS_BLOBS_PROVIDER"


@pytest.mark.parametrize(("name", "version"), [("Blobs", "1.0.0"), ("blobs", "1.0"), ("", "1.0.0")])
def test_invalid_contracts_are_refused(name, version):
    with pytest.raises(ContractError, match=repr(name) if name != "blobs" else "'1.0'"):
        Contract(name, version)


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        ("1.4.0", ">=1.2,<2", True),
        ("2.0.0", ">=1.2,<2", False),
        ("1.0.0", "~=1.0", True),
        ("1.1.0", "==1.0.*", False),
        ("2.0.0rc1", ">=2.0.0rc1", True),
    ],
)
def test_ranges(version, spec, expected):
    assert satisfies(version, parse_range("c", spec)) is expected


@pytest.mark.parametrize("spec", ["", "  ", "one", ">=>1"])
def test_bad_ranges_name_the_contract(spec):
    with pytest.raises(ContractError, match="contract 'blobs'"):
        parse_range("blobs", spec)


def test_hookspec_module_without_contract():
    module = types.ModuleType("plain_specs")
    with pytest.raises(ContractError, match=r"'plain_specs' must declare CONTRACT"):
        contract_of(module)
