"""The operator's day (issue 15): global options anywhere, BERTH_* variables,
typo suggestions, `berth version`, one line per action with a total, -q/-v.

Tests marked `sandbox` run berth as root and touch cgroups: they run only
inside a sandbox host, as lane 2 does:
    BERTH=.build/debug/berth bash scripts/sandbox-run.sh /usr/bin/python3 -m pytest -q -p no:cacheprovider -m sandbox Tests/cli
and then scripts/check-leaks.sh. Elsewhere they are skipped.
"""
import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BERTH = str((ROOT / os.environ.get("BERTH", ".build/debug/berth")).resolve())

_outside_sandbox = pytest.mark.skipif(
    os.environ.get("BERTH_SANDBOX") != "1" or os.geteuid() != 0
    or os.readlink("/proc/self/ns/net") == os.environ.get("BERTH_HOST_NETNS"),
    reason="runs berth as root: only inside scripts/sandbox-run.sh")


def sandbox(test):
    """Marked `sandbox` (lane 2 selects them with `-m sandbox`) and skipped elsewhere."""
    return pytest.mark.sandbox(_outside_sandbox(test))


def berth(*args, env=None, cwd=ROOT, timeout=120):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_") or k in ("BERTH_SANDBOX", "BERTH_HOST_NETNS")}
    # No journald: what a person sees on stderr is all there is.
    environment["BERTH_JOURNAL_SOCKET"] = "/nonexistent/berth-test/journal"
    environment.update(env or {})
    return subprocess.run([BERTH, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)


def fake_record(state, name):
    """A stopped container's record: `list` shows it without root or a kernel object."""
    directory = state / "containers" / name
    directory.mkdir(parents=True)
    (directory / "container.json").write_text(json.dumps({
        "name": name, "cgroup": f"berth-cli-test/{name}", "rootfs": "/nonexistent", "lower": "/nonexistent",
        "upper": "/nonexistent", "work": "/nonexistent", "keepPrivateLayer": False,
    }))


def listed(result):
    assert result.returncode == 0, result.stderr
    return [entry["name"] for entry in json.loads(result.stdout)]


@pytest.fixture
def instances(tmp_path):
    """Two state dirs, each with one container's record."""
    a, b = tmp_path / "a", tmp_path / "b"
    fake_record(a, "in-a")
    fake_record(b, "in-b")
    return a, b, tmp_path / "run"


# --- 1. global options before or after the subcommand, and BERTH_* ---------------

@pytest.mark.parametrize("order", ["after", "before", "mixed", "equals"])
def test_global_options_before_or_after_the_subcommand(instances, order):
    a, _, run = instances
    options = ["--state-dir", str(a), "--run-dir", str(run), "--cgroup-parent", "berth-cli-test"]
    args = {
        "after": ["list", *options, "-o", "json"],
        "before": [*options, "-o", "json", "list"],
        "mixed": ["--state-dir", str(a), "-o", "json", "list", "--run-dir", str(run), "--cgroup-parent", "berth-cli-test"],
        "equals": [f"--state-dir={a}", f"--run-dir={run}", "--output=json", "list", "--cgroup-parent=berth-cli-test"],
    }[order]
    assert listed(berth(*args)) == ["in-a"]


def test_environment_names_the_instance_and_a_flag_beats_it(instances):
    a, b, run = instances
    env = {"BERTH_STATE_DIR": str(a), "BERTH_RUN_DIR": str(run), "BERTH_CGROUP_PARENT": "berth-cli-test"}
    assert listed(berth("list", "-o", "json", env=env)) == ["in-a"]
    assert listed(berth("--state-dir", str(b), "list", "-o", "json", env=env)) == ["in-b"]
    assert listed(berth("list", "-o", "json", "--state-dir", str(b), env=env)) == ["in-b"]
    # An empty variable is no variable: the default shows in the help.
    assert "(default: /var/lib/berth)" in berth("list", "--help", env={"BERTH_STATE_DIR": ""}).stdout


def test_help_names_the_variables():
    help = berth("plan", "--help").stdout
    for variable in ["BERTH_STATE_DIR", "BERTH_RUN_DIR", "BERTH_CGROUP_PARENT", "BERTH_CGROUP_DRIVER"]:
        assert variable in help


@pytest.mark.parametrize("where", ["flag", "env"])
@pytest.mark.parametrize("command", [["list"], ["stop", "web1"], ["start", "web1"]])
def test_an_unknown_cgroup_driver_is_a_usage_error_naming_both(command, where, tmp_path):
    # stop and start go through the fast path, which leaves the error to ArgumentParser.
    options = ["--state-dir", str(tmp_path / "s"), "--run-dir", str(tmp_path / "r")]
    if where == "flag":
        result = berth(*command, *options, "--cgroup-driver", "systemdd")
    else:
        result = berth(*command, *options, env={"BERTH_CGROUP_DRIVER": "systemdd"})
    assert result.returncode == 64, result.stderr
    assert "--cgroup-driver systemdd" in result.stderr and "cgroupfs or systemd" in result.stderr


@pytest.mark.parametrize("command", ["logs", "show", "version"])
def test_new_subcommands_take_the_global_options(command):
    result = berth(command, "--help")
    assert result.returncode == 0, result.stderr
    for option in ["--state-dir", "--run-dir", "--cgroup-parent", "--quiet", "--verbose"]:
        assert option in result.stdout, f"{command} --help lacks {option}"


def test_a_global_option_without_its_value_is_a_usage_error():
    result = berth("--state-dir")
    assert result.returncode == 64, result.stderr


# --- 2. typos and version ---------------------------------------------------------

@pytest.mark.parametrize("typo, meant", [("aply", "apply"), ("lsit", "list"), ("valdate", "validate"), ("evnets", "events")])
def test_a_mistyped_command_suggests_the_closest(typo, meant):
    result = berth(typo, "manifests/")
    assert result.returncode == 64
    assert f"Error: unknown command '{typo}'; did you mean '{meant}'?" in result.stderr.splitlines()
    assert result.stdout == ""


def test_an_unknown_command_lists_the_commands():
    result = berth("--state-dir", "/tmp/x", "frobnicate")
    assert result.returncode == 64
    assert "unknown command 'frobnicate' (commands: validate, plan, apply," in result.stderr


@pytest.mark.parametrize("args", [["version"], ["--version"]])
def test_version_names_build_commit_cgroup_mode_and_kernel(args):
    result = berth(*args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"berth \d+\.\d+\.\d+", lines[0])
    assert re.fullmatch(r"commit: ([0-9a-f]{12}(-dirty)?|unknown \(not built from a git checkout\))", lines[1])
    assert lines[2] in ("cgroup: v2", "cgroup: v1", "cgroup: v1 (hybrid)")
    assert lines[3] == "kernel: " + os.uname().release


def test_version_json_and_the_commit_berth_was_built_from():
    report = json.loads(berth("version", "-o", "json").stdout)
    assert set(report) <= {"version", "commit", "cgroup", "kernel"}
    assert report["kernel"] == os.uname().release
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0 and "commit" in report:
        # Built from this checkout (perhaps at an older commit): a commit, not a guess.
        assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", report["commit"])


# --- 3. one line per action, a total, -q and -v -----------------------------------

CONTAINER = """\
apiVersion: berth/v1
kind: Container
metadata: {{name: {name}}}
spec:
  rootfs: {rootfs}
  init: {{command: [{command}]}}
  resources: {{memory: {{max: {memory}}}}}
  proc: {{virtualize: false}}
"""
# (proc.virtualize off: the sandbox runs no LXCFS, whose absence would be a note on stderr.)


def created(name, memory="64Mi", result=": applied"):
    """How apply prints the create of a container `Instance.write` made."""
    return [f"create Container/{name} (does not exist){result}", "    spec.state: absent → running",
            f"    spec.resources.memory.max: unlimited → {memory}"]


def without_inventory(lines):
    """The lines of the source's own bookkeeping action (record Inventory[...]) left out."""
    return [line for line in lines if not line.startswith("record Inventory[")]


class Instance:
    def __init__(self, tmp_path):
        self.root = tmp_path
        self.manifests = tmp_path / "manifests"
        self.manifests.mkdir()
        self.parent = f"berth-test-cli-{uuid.uuid4().hex[:8]}"
        self.flags = ["--state-dir", str(tmp_path / "state"), "--run-dir", str(tmp_path / "run"), "--cgroup-parent", self.parent]

    def write(self, name, memory="64Mi", command="/bin/sleep, '600'", rootfs="{template: busybox}"):
        (self.manifests / f"{name}.yaml").write_text(CONTAINER.format(name=name, memory=memory, command=command, rootfs=rootfs))

    def berth(self, *args, env=None):
        return berth(*args, *self.flags, env=env)

    def apply(self, *args, env=None):
        return self.berth("apply", *args, str(self.manifests), env=env)

    def clean(self):
        result = self.berth("apply", "--prune", "--yes")
        # The parent cgroups berth made are the test's to remove (as TestHost's tearDown does).
        for top in [Path("/sys/fs/cgroup")] + [p for p in Path("/sys/fs/cgroup").iterdir() if p.is_dir()]:
            parent = top / self.parent
            if not parent.is_dir():
                continue
            for directory in sorted((d for d in parent.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)) + [parent]:
                try:
                    directory.rmdir()
                except OSError:
                    pass
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def instance(tmp_path):
    made = Instance(tmp_path)
    yield made
    made.clean()


@sandbox
def test_each_action_prints_one_line_then_a_total_and_a_failure_once(instance, tmp_path):
    for name in ["c1", "c2", "c3"]:
        instance.write(name)
    result = instance.apply()
    assert result.returncode == 0, result.stdout + result.stderr
    # An action that changes several fields: its line, then one indented line
    # per field; creates run side by side, each printed as it ends.
    lines = without_inventory(result.stdout.splitlines())
    blocks = sorted(tuple(lines[i:i + 3]) for i in range(0, 9, 3))
    assert blocks == [tuple(created(name)) for name in ["c1", "c2", "c3"]], result.stdout
    assert lines[9:] == ["Applied: 3 created, 1 inventory recorded, 0 failed"]
    assert result.stderr == ""

    # A root whose init cannot be executed: its start fails, once, with the reason.
    broken = tmp_path / "broken"
    (broken / "sbin").mkdir(parents=True)
    (broken / "sbin" / "init").write_text("#!/nonexistent/interpreter\n")
    (broken / "sbin" / "init").chmod(0o755)
    instance.write("c1", memory="96Mi")
    instance.write("c4", command="/sbin/init", rootfs=f"{{directory: {broken}}}")
    result = instance.apply()
    assert result.returncode == 1
    lines = [line for line in without_inventory(result.stdout.splitlines()) if not line.startswith("    ")]
    assert len(lines) == 3, result.stdout
    assert lines[0] == "update-live Container/c1 spec.resources.memory.max: 64Mi → 96Mi (the kernel can change it live): applied"
    assert lines[1].startswith("create Container/c4 (does not exist): failed: ")
    assert re.fullmatch(r"Applied: 1 updated live, (1 inventory recorded, )?1 failed", lines[2]), lines[2]
    failure = lines[1].split(": failed: ", 1)[1]
    assert (result.stdout + result.stderr).count(failure) == 1, result.stderr
    assert "desired=" not in result.stderr and "field=" not in result.stderr


@sandbox
def test_quiet_prints_errors_and_the_total_and_json_a_result_per_action(instance):
    instance.write("q1")
    instance.write("q2")
    # q1 asks for LXCFS's /proc, which the sandbox lacks: a note, which -q leaves out.
    q1 = instance.manifests / "q1.yaml"
    q1.write_text(q1.read_text().replace("  proc: {virtualize: false}\n", ""))
    assert "note: LXCFS" in instance.berth("plan", str(instance.manifests)).stderr
    quiet = instance.apply("-q")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stdout.splitlines() == ["Applied: 2 created, 1 inventory recorded, 0 failed"]
    assert quiet.stderr == ""

    instance.write("q1", memory="80Mi")
    instance.write("q2", memory="80Mi")
    (instance.manifests / "q2.yaml").write_text((instance.manifests / "q2.yaml").read_text() + "  hostname: other\n")
    result = instance.apply("-o", "json")
    assert result.returncode == 0, result.stderr
    actions = json.loads(result.stdout)
    assert [(a["kind"], a["object"], a["result"]) for a in actions if a["kind"] != "record"] == [
        ("update-live", "Container/q1", "applied"), ("update-live", "Container/q2", "applied"),
        ("pending-restart", "Container/q2", "pending-restart"),
    ]
    assert all(isinstance(a["durationMs"], int) and a["failed"] is False for a in actions)
    # The same in microseconds: within the millisecond clock's quantum of durationMs.
    assert all(isinstance(a["durationUs"], int) and abs(a["durationUs"] - a["durationMs"] * 1000) < 1000 for a in actions)
    assert result.stderr == ""


@sandbox
def test_verbose_shows_informational_events_as_readable_lines(instance):
    instance.write("v1")
    result = instance.apply("-v")
    assert result.returncode == 0, result.stderr
    assert "\n".join(created("v1")) in result.stdout
    # The runtime's own events, one line each; the outcome not again.
    assert any(line.startswith("berth: started") for line in result.stderr.splitlines()), result.stderr
    assert "v1: created" not in result.stderr


def test_progress_line_never_when_not_a_terminal(tmp_path):
    """Nothing to apply, nothing to show; and stderr is a pipe here: no \\r, no escape."""
    result = berth("plan", "--prune", "--state-dir", str(tmp_path / "s"), "--run-dir", str(tmp_path / "r"),
                   "--cgroup-parent", "berth-cli-test")
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stderr and "\x1b" not in result.stderr


# --- 6. a saved plan: plan --out FILE, show FILE, apply FILE ----------------------

@sandbox
def test_saved_plan_is_applied_exactly_or_refused_once_anything_changed(instance, tmp_path):
    instance.write("s1")
    saved = tmp_path / "plan.json"
    planned = instance.berth("plan", "-out", str(saved), str(instance.manifests))
    assert planned.returncode == 0, planned.stderr
    assert f"Saved the plan to {saved}" in planned.stdout

    # show: the reviewed actions, as text and as JSON.
    shown = berth("show", str(saved))
    assert "\n".join("  " + line for line in created("s1", result="")) in shown.stdout
    document = json.loads(berth("show", "-json", str(saved)).stdout)
    assert document["format"] == "berth-plan/v1"
    assert document["paths"] == [str(instance.manifests)]
    assert [(a["kind"], a["object"]) for a in document["actions"]] == [
        ("create", "Container/s1"), ("record", f"Inventory[{instance.manifests}]")]
    assert document["source"] == str(instance.manifests)
    assert json.loads(berth("show", "-o", "json", str(saved)).stdout) == document

    # The manifests changed since: refused, nothing changed.
    instance.write("s1", memory="96Mi")
    refused = instance.berth("apply", str(saved))
    assert refused.returncode == 1
    assert f"the manifests changed since {saved} was saved; nothing was changed" in refused.stderr
    assert json.loads(instance.berth("list", "-o", "json").stdout) == []

    # As reviewed: applied, exactly.
    assert instance.berth("plan", "--out", str(saved), str(instance.manifests)).returncode == 0
    applied = instance.berth("apply", str(saved))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert without_inventory(applied.stdout.splitlines()) == created("s1", memory="96Mi") + ["Applied: 1 created, 1 inventory recorded, 0 failed"]

    # The host changed since (the container was stopped): refused, with the plan as it is now.
    instance.write("s1", memory="128Mi")
    assert instance.berth("plan", "-out", str(saved), str(instance.manifests)).returncode == 0
    assert instance.berth("stop", "s1").returncode == 0
    refused = instance.berth("apply", str(saved))
    assert refused.returncode == 1
    assert f"the host changed since {saved} was saved: the plan now is" in refused.stderr
    assert "start Container/s1" in refused.stderr
    assert instance.berth("list", "-o", "json").stdout.count('"stopped"') == 1


def test_show_refuses_what_is_not_a_saved_plan(tmp_path):
    (tmp_path / "web.yaml").write_text("apiVersion: berth/v1\n")
    result = berth("show", str(tmp_path / "web.yaml"))
    assert result.returncode == 1
    assert "is not a plan saved by berth plan --out" in result.stderr


# --- on a terminal, and under systemd -------------------------------------------

@sandbox
def test_a_progress_line_on_a_terminal_only(instance):
    """stderr a terminal, stdout a pipe: the step that runs is shown on
    stderr and cleared; the result lines stay on stdout, unchanged."""
    import pty
    instance.write("p1")
    instance.write("p2")
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run([BERTH, "apply", *instance.flags, str(instance.manifests)], stderr=terminal,
                                stdout=subprocess.PIPE, text=True, timeout=120,
                                env={**os.environ, "BERTH_JOURNAL_SOCKET": "/nonexistent/berth-test/journal"})
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "Applied: 2 created, 1 inventory recorded, 0 failed"
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    text = shown.decode()
    assert "[1/3] create Container/p1 …" in text and "[2/3] create Container/p2 …" in text, repr(text)
    assert "[3/3] record Inventory[" in text, repr(text)
    assert text.endswith("\r\x1b[K"), repr(text)


@sandbox
def test_under_systemd_stderr_does_not_repeat_what_goes_to_the_journal(tmp_path):
    """journald present and stderr its stream (JOURNAL_STREAM): an event goes
    to the journal once and not to stderr; without JOURNAL_STREAM, stderr shows it."""
    import socket
    import signal
    import time
    journal = tmp_path / "journal.socket"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(journal))
    receiver.settimeout(10)
    flags = ["--state-dir", str(tmp_path / "state"), "--run-dir", str(tmp_path / "run"),
             "--cgroup-parent", f"berth-test-cli-{uuid.uuid4().hex[:8]}"]

    def agent(stream):
        log = tmp_path / f"agent-{stream}.log"
        with open(log, "w") as stderr:
            info = os.fstat(stderr.fileno())
            env = {**os.environ, "BERTH_JOURNAL_SOCKET": str(journal)}
            if stream:
                env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
            process = subprocess.Popen([BERTH, "agent", *flags, "--manifests", str(tmp_path / "missing"), "--interval", "1h"],
                                       stdout=stderr, stderr=stderr, env=env)
            datagram = ""
            while "MESSAGE_ID=e500167be879417b8c3cf6113bb1d00d" not in datagram:
                datagram = receiver.recv(65536).decode(errors="replace")
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        return datagram, log.read_text()

    datagram, stderr = agent(stream=True)
    assert "MESSAGE_ID=e500167be879417b8c3cf6113bb1d00d" in datagram, datagram
    assert f"MESSAGE=manifests directory {tmp_path / 'missing'} is missing; watching for it" in datagram
    assert "missing" not in stderr, stderr
    _, stderr = agent(stream=False)
    assert "berth: warning: manifests directory is missing; watching for it" in stderr, stderr
    receiver.close()


def as_nobody():
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)


@pytest.mark.parametrize("value, accepted", [("soon", False), ("-1", False), ("10x", False)])
def test_stop_timeout_takes_seconds_or_a_duration(value, accepted):
    """Refused before anything is touched (as nobody: no root needed to refuse)."""
    result = subprocess.run([BERTH, "stop", "--timeout", value, "--state-dir", "/nonexistent/s", "nope"],
                            capture_output=True, text=True, timeout=60, preexec_fn=as_nobody)
    assert result.returncode == 64, result.stderr
    assert "--timeout" in result.stderr
    assert "500ms, 1m" in berth("stop", "--help").stdout


def test_events_without_journald_says_so(tmp_path):
    """No journald (berth() points BERTH_JOURNAL_SOCKET nowhere): a note, not a silent empty history."""
    flags = ["--state-dir", str(tmp_path / "s"), "--run-dir", str(tmp_path / "r"), "--cgroup-parent", "berth-cli-test"]
    result = berth("events", *flags)
    assert result.returncode == 0, result.stderr
    assert "note: systemd-journald is not running here" in result.stderr
    assert berth("events", "-q", *flags).stderr == ""
    assert berth("events", "-o", "json", *flags).stderr == ""


@pytest.fixture
def as_user():
    """berth copied where user nobody can run it, and how to run it as nobody
    (as the caller itself when that is not root); the scratch dir is removed after."""
    import shutil
    import tempfile
    scratch = Path(tempfile.mkdtemp(prefix="berth-nonroot-"))
    scratch.chmod(0o755)
    binary = scratch / "berth"
    shutil.copy(BERTH, binary)
    binary.chmod(0o755)
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "BERTH_JOURNAL_SOCKET": "/nonexistent/berth-test/journal"}

    def run(*args):
        return subprocess.run(drop + [str(binary), *args], env=environment, capture_output=True, text=True, timeout=60)

    yield scratch, run
    shutil.rmtree(scratch)


def test_apply_without_root_says_it_needs_root(as_user):
    """A user without root: apply is refused in words (not a Foundation error), a dry run plans."""
    scratch, run = as_user
    manifests = scratch / "m"
    manifests.mkdir()
    (manifests / "c.yaml").write_text(CONTAINER.format(name="nr1", memory="64Mi", command="/bin/sleep, '600'", rootfs="{template: busybox}"))
    manifests.chmod(0o755)
    (manifests / "c.yaml").chmod(0o644)
    flags = ["--state-dir", str(scratch / "state"), "--run-dir", str(scratch / "run"), "--cgroup-parent", "berth-cli-test"]
    applied = run("apply", "--yes", *flags, str(manifests))
    assert applied.returncode == 1
    assert "Error: apply changes the kernel (namespaces, cgroups, links, nftables): run it as root" in applied.stderr
    assert "CocoaError" not in applied.stderr
    dry = run("apply", "--dry-run", *flags, str(manifests))
    assert dry.returncode == 0, dry.stderr
    assert "create Container/nr1 (does not exist)" in dry.stdout
    assert not (scratch / "run").exists()


def test_a_file_refused_to_a_user_is_named_in_words(as_user):
    """`berth run` as a user cannot make its state dir: the path and the reason, not a Foundation dump."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    scratch, run = as_user
    locked = scratch / "locked"
    locked.mkdir(mode=0o700)
    result = run("run", "--state-dir", str(locked / "state"), "--run-dir", str(locked / "run"), "--", "/bin/true")
    assert result.returncode == 1
    assert f"Error: {locked}/state: Permission denied (berth runs containers as root)" in result.stderr, result.stderr
    assert "CocoaError" not in result.stderr
