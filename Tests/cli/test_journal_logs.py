"""Container output to the journal (spec.logs.driver: journal), without root:
the relay (`berth journal-relay`) against a datagram socket of the test's own
standing in for journald, and plan's refusal when nothing listens.

    BERTH=.build/debug/berth /usr/bin/python3 -m pytest -q -p no:cacheprovider Tests/cli/test_journal_logs.py
"""

import os
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BERTH = str((ROOT / os.environ.get("BERTH", ".build/debug/berth")).resolve())


def fields(datagram):
    """journald's native protocol: NAME=value lines, or NAME, a 64-bit length and the bytes."""
    parsed, index = [], 0
    while index < len(datagram):
        newline = datagram.index(b"\n", index)
        head = datagram[index:newline]
        if b"=" in head:
            name, value = head.split(b"=", 1)
            index = newline + 1
        else:
            (length,) = struct.unpack("<Q", datagram[newline + 1:newline + 9])
            name, value = head, datagram[newline + 9:newline + 9 + length]
            assert datagram[newline + 9 + length:newline + 10 + length] == b"\n"
            index = newline + 10 + length
        parsed.append((name.decode(), value.decode()))
    return parsed


class Relay:
    """FIFOs held open read-write as a container's init holds them, a relay on them."""

    def __init__(self, directory, patience_ms=1500):
        self.directory = directory
        self.socket_path = str(directory / "journal.sock")
        self.fallback = directory / "console.log"
        self.receiver = None
        self.listen()
        for name in ("stdout", "stderr"):
            os.mkfifo(directory / f"{name}.fifo")
        self.stdout = os.open(directory / "stdout.fifo", os.O_RDWR)
        self.stderr = os.open(directory / "stderr.fifo", os.O_RDWR)
        started = subprocess.run(
            [BERTH, "journal-relay", "--stdout", str(directory / "stdout.fifo"), "--stderr", str(directory / "stderr.fifo"),
             "--socket", self.socket_path, "--fallback", str(self.fallback), "--patience-ms", str(patience_ms),
             "CONTAINER_NAME=web1", "SYSLOG_IDENTIFIER=web1", "BERTH_STATE_DIR=/var/lib/berth"],
            capture_output=True, text=True, timeout=10)
        assert started.returncode == 0, started.stdout + started.stderr
        self.pid = int(started.stdout)

    def listen(self):
        self.receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.receiver.bind(self.socket_path)
        self.receiver.settimeout(10)

    def go_away(self):
        self.receiver.close()
        os.unlink(self.socket_path)

    def entry(self):
        return dict(fields(self.receiver.recv(1 << 20)))

    def running(self):
        try:
            return Path(f"/proc/{self.pid}/stat").read_text().split()[2] not in ("Z", "X")
        except FileNotFoundError:
            return False

    def close(self):
        for fd in (self.stdout, self.stderr):
            try:
                os.close(fd)
            except OSError:
                pass
        for _ in range(300):
            if not self.running():
                return
            time.sleep(0.01)
        os.kill(self.pid, 9)
        raise AssertionError("the relay did not end once its writers had gone")


@pytest.fixture
def relay(tmp_path):
    relay = Relay(tmp_path)
    yield relay
    relay.close()
    if relay.receiver:
        relay.receiver.close()


def test_each_line_is_an_entry_with_the_container_fields_and_its_priority(relay):
    os.write(relay.stdout, b"hello\nworld\n")
    os.write(relay.stderr, b"it broke\n")
    entries = [relay.entry() for _ in range(3)]
    stdout = [e for e in entries if e["PRIORITY"] == "6"]
    stderr = [e for e in entries if e["PRIORITY"] == "3"]
    assert [e["MESSAGE"] for e in stdout] == ["hello", "world"]
    assert [e["MESSAGE"] for e in stderr] == ["it broke"]
    for entry in entries:
        assert entry["CONTAINER_NAME"] == "web1"
        assert entry["SYSLOG_IDENTIFIER"] == "web1"
        assert entry["BERTH_STATE_DIR"] == "/var/lib/berth"


def test_a_partial_line_is_sent_whole_and_a_long_line_is_split(relay):
    os.write(relay.stdout, b"no newline yet")
    time.sleep(0.1)
    os.write(relay.stdout, b", now\n")
    assert relay.entry()["MESSAGE"] == "no newline yet, now"
    os.write(relay.stdout, b"x" * 20000 + b"\n")
    first, second = relay.entry()["MESSAGE"], relay.entry()["MESSAGE"]
    assert (len(first), len(second)) == (16384, 20000 - 16384)


def test_the_relay_outlives_its_starter_and_ends_with_the_last_writer(relay):
    """It forked into a session of its own: not the child of the berth that started it."""
    stat = Path(f"/proc/{relay.pid}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(stat[3]) == relay.pid, "the relay leads its own session"
    assert Path(f"/proc/{relay.pid}/status").read_text().count("Threads:\t1\n") == 1
    os.write(relay.stdout, b"last words")
    relay.close()
    assert relay.entry()["MESSAGE"] == "last words"


def test_no_line_is_lost_while_journald_restarts(relay):
    relay.go_away()
    os.write(relay.stdout, b"while away 1\nwhile away 2\n")
    time.sleep(0.5)
    relay.listen()
    assert [relay.entry()["MESSAGE"], relay.entry()["MESSAGE"]] == ["while away 1", "while away 2"]
    assert not relay.fallback.exists()


def test_past_its_patience_lines_go_to_console_log_and_back_to_journald_when_it_returns(relay):
    relay.go_away()
    os.write(relay.stdout, b"nobody listens\n")
    for _ in range(400):
        if relay.fallback.exists() and relay.fallback.read_text() == "nobody listens\n":
            break
        time.sleep(0.01)
    assert relay.fallback.read_text() == "nobody listens\n"
    relay.listen()
    os.write(relay.stdout, b"back again\n")
    assert relay.entry()["MESSAGE"] == "back again"


def test_a_bad_field_name_is_refused_before_it_starts(tmp_path):
    result = subprocess.run(
        [BERTH, "journal-relay", "--stdout", "/x", "--stderr", "/y", "--socket", "/z", "--fallback", "/w", "_PID=1"],
        capture_output=True, text=True, timeout=10)
    assert result.returncode == 1
    assert result.stdout.startswith("error: field _PID=1")


def test_plan_refuses_journal_output_at_its_line_when_journald_is_not_running(tmp_path):
    state, run = tmp_path / "state", tmp_path / "run"
    web = tmp_path / "web.yaml"
    web.write_text("apiVersion: berth/v1\nkind: Container\nmetadata:\n  name: web1\nspec:\n"
                   "  rootfs: {template: busybox}\n  logs: {driver: journal}\n")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    environment["BERTH_JOURNAL_SOCKET"] = str(tmp_path / "no-journald")
    result = subprocess.run(
        [BERTH, "plan", "--state-dir", str(state), "--run-dir", str(run), "--cgroup-parent", "berth-cli-test", str(web)],
        capture_output=True, text=True, timeout=60, env=environment)
    assert result.returncode == 1
    assert (f"{web}:7:18: error: spec.logs.driver: journal: journald is not running on this host "
            f"(nothing is bound to {tmp_path / 'no-journald'})") in result.stderr, result.stderr
