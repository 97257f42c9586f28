"""Every live and restart field of the contract is exercised on the real kernel.

Run from the repository root: /usr/bin/python3 -m pytest -q Tests/schema

docs/manifests.md ("Field contract") gives each field a class; the lane-2 tests in
Tests/HostKernelTests change those fields and check the kernel. This test fails when
a live or restart field is named by no lane-2 test: a field added to the contract
must come with a test that changes it on a running container (FieldContractTests.swift
and NetworkContractTests.swift hold the tables). A field is named when its path, or
the path of the object it belongs to (`spec.resources.io.limits` for
`spec.resources.io.limits[].readBps`), appears in a test, with `[]` written as an
index or left out. Fields kept only in berth's record are covered when named too.
"""

import pathlib
import re

from test_field_contract import contract

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTS = ROOT / "Tests" / "HostKernelTests"

# Fields that select objects rather than configure one: planning tests cover them.
SELECTION = ("metadata.", "spec.placement.", "spec.profiles")


def kernel_test_text():
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(TESTS.glob("*.swift")))


def candidates(path):
    """The field's path and its parents' paths, as a test may write them."""
    bare = path.replace("[]", "").replace(".*", "")
    parts = bare.split(".")
    names = []
    for end in range(len(parts), 1, -1):
        names.append(".".join(parts[:end]))
    return names


def named(path, text):
    for name in candidates(path):
        pattern = re.escape(name).replace(r"\.", r"(?:\[[^\]]*\])?\.")
        if re.search(pattern + r"(?![A-Za-z])", text):
            return True
    return False


def uncovered(kind):
    text = kernel_test_text()
    return sorted(
        path
        for path, (klass, _) in contract(kind).items()
        if klass in ("live", "restart") and not path.startswith(SELECTION) and not named(path, text)
    )


def test_every_live_and_restart_container_field_has_a_kernel_test():
    missing = uncovered("Container")
    assert not missing, "fields with no lane-2 test: " + ", ".join(missing)


def test_every_live_and_restart_network_field_has_a_kernel_test():
    missing = uncovered("Network")
    assert not missing, "fields with no lane-2 test: " + ", ".join(missing)


def test_a_field_named_only_by_its_parent_counts():
    assert named("spec.resources.io.limits[].readBps", 'field: "spec.resources.io.limits"')
    assert named("spec.networks[].addresses", '"spec.networks[0].addresses"')
    assert not named("spec.mtu", '"spec.mtuX"')
