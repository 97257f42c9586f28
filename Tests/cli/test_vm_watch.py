"""Lane 3's watch inside the VM (scripts/vm-watch.sh): a run that passes its
bound is reported (what its processes wait on, the tests started and not
ended) and ended with 124, so a hang names itself in CI's output instead of
ending as qemu's timeout; a run within its bound keeps its own status."""
import json
import subprocess
import time

from test_operator import ROOT

WATCH = ROOT / "scripts" / "vm-watch.sh"


def watch(bound, command, env=None, timeout=60):
    return subprocess.run(["bash", str(WATCH), str(bound)] + command, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_a_run_within_its_bound_keeps_its_status():
    assert watch(30, ["true"]).returncode == 0
    failed = watch(30, ["sh", "-c", "echo out; exit 3"])
    assert failed.returncode == 3
    assert failed.stdout == "out\n"
    assert "vm-watch" not in failed.stdout + failed.stderr


def test_a_run_past_its_bound_is_reported_and_ended(tmp_path):
    events = tmp_path / "events.jsonl"

    def event(kind, test, at):
        return json.dumps({"kind": "event", "version": 0,
                           "payload": {"kind": kind, "testID": test, "instant": {"since1970": at}}})
    events.write_text("\n".join([
        event("testStarted", "HostKernelTests.A/ends()", 1),
        event("testStarted", "HostKernelTests.B/hangs()", 2),
        event("testEnded", "HostKernelTests.A/ends()", 3),
    ]) + "\n")
    started = time.monotonic()
    # A process that sleeps past the bound, with a child of its own.
    # (sh -c takes the event stream's option as its $0 and $1.)
    result = watch(2, ["sh", "-c", "sleep 317 & sleep 317", "--event-stream-output-path", str(events)],
                   env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 124
    assert time.monotonic() - started < 30
    lines = result.stdout.splitlines()
    assert any("still runs after 2 s" in line for line in lines)
    # The sleeping processes, each with its state and kernel wait channel.
    assert any(" sleep S " in line for line in lines), result.stdout
    assert "vm-watch: test not ended: HostKernelTests.B/hangs()" in lines
    assert not any("A/ends()" in line for line in lines)
    # Nothing it started is left running.
    left = subprocess.run(["pgrep", "-f", "^sleep 317$"], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout
