"""`berth ubc` (issue 13): OpenVZ's /proc/user_beancounters format, errors
for unknown containers, JSON for scripts. Stopped containers need no root;
lane 2 (BeancounterKernelTests, ContainerCLITests) checks running ones'
rows, units and failcnts."""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from test_operator import BERTH, berth

HEADER = ("       uid  resource                     held              maxheld              barrier"
          "                limit              failcnt")


@pytest.fixture
def instance(tmp_path):
    """One stopped container."""
    state = tmp_path / "state"
    directory = state / "containers" / "web1"
    directory.mkdir(parents=True)
    record = {
        "name": "web1", "cgroup": "berth-cli-test/web1", "rootfs": "/run/b/web1/rootfs", "lower": "/var/lib/b/templates/busybox",
        "upper": "/var/lib/b/web1/upper", "work": "/var/lib/b/web1/work", "keepPrivateLayer": False,
    }
    (directory / "container.json").write_text(json.dumps(record))
    options = ["--state-dir", str(state), "--run-dir", str(tmp_path / "run"), "--cgroup-parent", "berth-cli-test"]
    return lambda *args: berth(*args, *options)


def test_the_table_has_openvz_version_line_and_header(instance):
    result = instance("ubc")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Version: 2.5", HEADER]
    # The header's columns line up as the kernel's "%10s  %-12s %20s ..." does.
    assert HEADER == "%10s  %-12s %20s %20s %20s %20s %20s" % ("uid", "resource", "held", "maxheld", "barrier", "limit", "failcnt")


def test_a_stopped_container_has_no_rows_and_says_so(instance):
    result = instance("ubc", "web1")
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["Version: 2.5", HEADER]
    assert "web1: not running" in result.stderr


@pytest.mark.parametrize("args", [["ubc", "nosuch"], ["ubc", "web1", "nosuch", "-o", "json"]])
def test_an_unknown_container_is_an_error(instance, args):
    result = instance(*args)
    assert result.returncode == 1
    assert "no container named 'nosuch'" in result.stderr
    assert result.stdout == ""


def test_json_is_a_list_of_rows(instance):
    result = instance("ubc", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_help_names_the_units_and_unlimited():
    result = berth("ubc", "--help")
    assert result.returncode == 0
    assert "9223372036854775807" in result.stdout and "pages" in result.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to run berth as another user")
def test_a_non_root_reader_of_roots_records_is_told_ubc_needs_root():
    """The real state dir's records are root's, 0600: as another user ubc
    says it needs root instead of "not running" or a table it cannot fill."""
    base = pathlib.Path(tempfile.mkdtemp(prefix="berth-ubc-"))
    try:
        state = base / "state"
        directory = state / "containers" / "web1"
        directory.mkdir(parents=True)
        record = directory / "container.json"
        record.write_text(json.dumps({
            "name": "web1", "cgroup": "berth-cli-test/web1", "rootfs": "/run/b/web1/rootfs", "lower": "/l", "upper": "/u",
            "work": "/w", "keepPrivateLayer": False,
        }))
        record.chmod(0o600)
        for path in (base, state, state / "containers", directory):
            path.chmod(0o755)
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BERTH, "ubc", "--state-dir", str(state),
             "--run-dir", str(base / "run"), "--cgroup-parent", "berth-cli-test"],
            capture_output=True, text=True, timeout=60, env={"BERTH_JOURNAL_SOCKET": "/nonexistent/berth-test/journal"})
        assert result.returncode == 1, result
        assert "web1: ubc reads root's container records" in result.stderr and "run it as root" in result.stderr
    finally:
        shutil.rmtree(base)
