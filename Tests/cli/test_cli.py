"""The berth binary as a user runs it: exit codes, output formats, directories.

Run from the repository root after `swift build`:
    /usr/bin/python3 -m pytest -q Tests/cli
BERTH names the binary (default .build/debug/berth).
"""
import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BERTH = str((ROOT / os.environ.get("BERTH", ".build/debug/berth")).resolve())
ERROR_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): error: (?P<rest>.+)$")

SUBCOMMANDS = [
    "validate", "plan", "apply", "drift", "list", "status", "exec", "enter", "start", "stop",
    "ubc", "quota", "suspend", "resume", "checkpoint", "restore", "migrate", "events", "agent",
]

VALID = """\
apiVersion: berth/v1
kind: Container
metadata:
  name: web1
spec:
  rootfs: {template: busybox}
"""


def berth(*args, cwd=ROOT):
    return subprocess.run([BERTH, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_bundled_examples_are_valid():
    result = berth("validate", "manifests/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid: ")


def test_invalid_manifest_exits_1_with_file_line_col_field(tmp_path):
    bad = tmp_path / "web.yaml"
    bad.write_text(VALID + "  resources:\n    memroy: {max: 1Gi}\n  hostname: 123\n")
    result = berth("validate", str(bad))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if ERROR_LINE.match(line)]
    assert lines == [
        f"{bad}:8:5: error: spec.resources.memroy: unknown field (did you mean 'memory'?)",
        f"{bad}:9:13: error: spec.hostname: expected a string, got an integer (quote it: \"123\")",
    ]


def test_json_output_lists_every_error(tmp_path):
    bad = tmp_path / "web.yaml"
    bad.write_text(VALID + "  state: up\n")
    result = berth("validate", "--output", "json", str(bad))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["errors"] == [{
        "file": str(bad), "line": 7, "column": 10, "field": "spec.state",
        "message": "'up' is not one of running, stopped, frozen",
    }]


def test_json_output_when_valid(tmp_path):
    (tmp_path / "web.yaml").write_text(VALID)
    result = berth("validate", "-o", "json", "--host", "node7", str(tmp_path))
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report == {"valid": True, "host": "node7", "files": 1, "documents": 1, "errors": []}


def test_directory_skips_hidden_files_backups_and_other_extensions(tmp_path):
    (tmp_path / "web.yaml").write_text(VALID)
    broken = "this: [is not valid"
    for name in [".web.yaml.swp", ".hidden.yaml", "web.yaml~", "#web.yaml#", "web.yaml.bak", "notes.txt", "web.json"]:
        (tmp_path / name).write_text(broken)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.yaml").write_text(broken)
    result = berth("validate", "-o", "json", str(tmp_path))
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["files"] == 1


def test_errors_from_several_files_are_all_reported(tmp_path):
    (tmp_path / "a.yaml").write_text(VALID.replace("web1", "Web1"))
    (tmp_path / "b.yml").write_text(VALID.replace("busybox", "Busy Box"))
    result = berth("validate", str(tmp_path))
    assert result.returncode == 1
    files = {ERROR_LINE.match(line)["file"] for line in result.stderr.splitlines() if ERROR_LINE.match(line)}
    assert files == {str(tmp_path / "a.yaml"), str(tmp_path / "b.yml")}


def test_missing_path_is_an_error():
    result = berth("validate", "/nonexistent/berth.yaml")
    assert result.returncode == 1
    assert "/nonexistent/berth.yaml:1:1: error: no such file or directory" in result.stderr


def test_billion_laughs_is_refused_fast(tmp_path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\n")
    started = time.monotonic()
    result = berth("validate", str(bomb))
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert "YAML bomb" in result.stderr
    assert elapsed < 10  # exponential expansion would take minutes and gigabytes


def test_host_label_selects_placed_objects(tmp_path):
    (tmp_path / "web.yaml").write_text(VALID + "  placement: {hostLabels: {role: web}}\n")
    placed = berth("validate", "-o", "json", "--host", "n1", "--host-label", "role=web", str(tmp_path))
    assert placed.returncode == 0
    assert "1 containers" in berth("validate", "--host", "n1", "--host-label", "role=web", str(tmp_path)).stdout
    assert "0 containers" in berth("validate", "--host", "n1", "--host-label", "role=db", str(tmp_path)).stdout


def test_bad_host_label_is_refused(tmp_path):
    result = berth("validate", "--host-label", "no-equals-sign", str(tmp_path))
    assert result.returncode != 0
    assert "not key=value" in result.stderr


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_with_global_options(command):
    result = berth(command, "--help")
    assert result.returncode == 0, result.stderr
    for option in ["--state-dir", "--run-dir", "--cgroup-parent"]:
        assert option in result.stdout, f"{command} --help lacks {option}"


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_plan_and_drift_take_detailed_exitcode(command):
    assert "--detailed-exitcode" in berth(command, "--help").stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_generated(shell):
    result = berth("--generate-completion-script", shell)
    assert result.returncode == 0
    assert "validate" in result.stdout and "checkpoint" in result.stdout


CORPUS = ROOT / "Tests" / "ManifestTests" / "Corpus"
INVALID = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("invalid*/*.yaml"))
VALID_CASES = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("valid/*.yaml"))
CORPUS_HOST = ["--host", "node1", "--host-label", "role=web"]


@pytest.mark.parametrize("case", INVALID)
def test_invalid_corpus_case_exits_1_with_its_golden_diagnostics(case):
    result = berth("validate", *CORPUS_HOST, case, cwd=CORPUS)
    assert result.returncode == 1, result.stdout
    assert not result.stderr.startswith("Fatal error"), result.stderr  # no crash, no trap
    lines = [line for line in result.stderr.splitlines() if ERROR_LINE.match(line)]
    expected = (CORPUS / case).with_suffix(".expected").read_text().splitlines()
    assert lines == expected


@pytest.mark.parametrize("case", VALID_CASES)
def test_valid_corpus_case_exits_0(case):
    result = berth("validate", *CORPUS_HOST, case, cwd=CORPUS)
    assert result.returncode == 0, result.stderr


def test_fifo_in_manifest_directory_is_refused_not_waited_on(tmp_path):
    (tmp_path / "web.yaml").write_text(VALID)
    os.mkfifo(tmp_path / "pipe.yaml")
    result = berth("validate", str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path}/pipe.yaml:1:1: error: not a regular file" in result.stderr


def test_dangling_symlink_in_manifest_directory_is_an_error(tmp_path):
    (tmp_path / "web.yaml").write_text(VALID)
    (tmp_path / "gone.yaml").symlink_to("/nonexistent/gone.yaml")
    result = berth("validate", str(tmp_path))
    assert result.returncode == 1
    assert "broken symbolic link" in result.stderr


# --- berth run: flag values refused before anything is created ----------------

NOBODY = 65534


def drop_root():
    """Runs berth as nobody when the tests run as root: a flag refusal must not
    need root, and a refusal that stopped working must not start a container."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def berth_run(tmp_path, *args):
    state, run = tmp_path / "state", tmp_path / "run"
    result = subprocess.run(
        [BERTH, "run", "--state-dir", str(state), "--run-dir", str(run), "--cgroup-parent", "berth-cli-test", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, preexec_fn=drop_root)
    assert not state.exists() and not run.exists(), "berth run created its directories before refusing"
    return result


RUN_REFUSALS = [
    (["--memory", "2Mi"], "--memory: 2Mi is below the 4Mi a container's init needs to start"),
    (["--memory", "4194303"], "--memory: 4194303 is below the 4Mi a container's init needs to start"),
    (["--memory=0"], "--memory: 0 is below the 4Mi a container's init needs to start"),
    (["--memory", "1G"], "--memory: decimal or ambiguous size suffix 'G' in '1G' (use a binary quantity such as 1Gi: "
                         "'G' means 10^9 to Kubernetes and 2^30 to OpenVZ and systemd)"),
    (["--memory", "512M"], "--memory: decimal or ambiguous size suffix 'M' in '512M' (use a binary quantity such as 512Mi: "
                           "'M' means 10^6 to Kubernetes and 2^20 to OpenVZ and systemd)"),
    (["--memory", "512MiB"], "--memory: size suffix 'MiB' in '512MiB' (write it 512Mi: manifests spell binary sizes as Kubernetes does)"),
    (["--cpus", "0"], "--cpus: must be at least 1m (one thousandth of a CPU)"),
    (["--cpus", "0m"], "--cpus: must be at least 1m (one thousandth of a CPU)"),
    (["--cpus=0.000"], "--cpus: must be at least 1m (one thousandth of a CPU)"),
    (["--template", "busybx"], "--template: unknown template 'busybx' (did you mean 'busybox'?)"),
    (["--template", "debian"], "--template: unknown template 'debian' (built in: busybox)"),
    (["--rootfs", "srv/root"], "--rootfs: 'srv/root' is not an absolute path (start it with '/')"),
    (["--rootfs", "/srv/a\nb"], r"--rootfs: path '/srv/a\nb' contains the control character \n"),
    (["-w", "work"], "--workdir: 'work' is not an absolute path (start it with '/')"),
    (["--workdir=/a/../b"], "--workdir: path '/a/../b' contains '..' (write the resolved path)"),
    (["-w", "/srv/\x1b[31mred"], r"--workdir: path '/srv/\u{1B}[31mred' contains the control character \u{1B}"),
    (["--pids", "0"], "--pids: 0 is out of range (1-4194304)"),
    (["--pids", "4194305"], "--pids: 4194305 is out of range (1-4194304)"),
    (["--pids", "many"], "--pids: 'many' is not a positive whole number"),
    (["--template", "busybox", "--rootfs", "/srv/root"], "give --template or --rootfs, not both"),
]


@pytest.mark.parametrize("args, message", RUN_REFUSALS, ids=[" ".join(args) for args, _ in RUN_REFUSALS])
@pytest.mark.parametrize("parser", ["fast path", "ArgumentParser"])
def test_run_refuses_a_flag_value_as_validate_refuses_the_field(tmp_path, parser, args, message):
    """The rules of `berth validate` (Manifest's ValueRules), applied to the flags
    that fill the same fields; a repeated --name takes ArgumentParser's path."""
    names = ["--name", "r1"] if parser == "fast path" else ["--name", "r0", "--name", "r1"]
    result = berth_run(tmp_path, *names, *args, "--", "/bin/true")
    assert result.returncode == 64, result.stderr  # ArgumentParser's ValidationError, as for any bad flag
    assert f"Error: {message}" in result.stderr.splitlines()
    assert not any(ord(c) < 0x20 and c not in "\n" for c in result.stderr), "a raw control character reached stderr"


# --- plan and apply look the init up in the root filesystem -------------------

def instance(tmp_path):
    state, run = tmp_path / "state", tmp_path / "run"
    return state, run, ["--state-dir", str(state), "--run-dir", str(run), "--cgroup-parent", "berth-cli-test"]


def container(init, rootfs="{template: busybox}"):
    return VALID.replace("rootfs: {template: busybox}", f"rootfs: {rootfs}") + init


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_init_missing_from_the_template_is_reported_at_its_line_before_anything_is_made(tmp_path, command):
    """The README once started web1 with /bin/httpd: busybox's is /usr/sbin/httpd.
    The template is not built (a fresh state dir): its layout is what is checked."""
    state, run, flags = instance(tmp_path)
    web = tmp_path / "web.yaml"
    web.write_text(container('  init:\n    command: ["/bin/httpd", "-f", "-p", "80"]\n    workingDir: /www\n'))
    result = berth(command, *flags, str(web))
    assert result.returncode == 1, result.stdout + result.stderr
    assert [line for line in result.stderr.splitlines() if ERROR_LINE.match(line)] == [
        f"{web}:8:15: error: spec.init.command[0]: /bin/httpd is not in template busybox (did you mean '/usr/sbin/httpd'?)",
        f"{web}:9:17: error: spec.init.workingDir: /www is not in template busybox",
    ]
    assert "nothing was planned or changed" in result.stderr
    assert not state.exists() and not run.exists(), "the check made berth's directories"


def test_init_from_a_profile_is_reported_in_the_profile(tmp_path):
    _, _, flags = instance(tmp_path)
    (tmp_path / "profile.yaml").write_text(
        "apiVersion: berth/v1\nkind: Profile\nmetadata: {name: web}\nspec:\n  init: {command: [nginx]}\n")
    (tmp_path / "web.yaml").write_text(VALID + "  profiles: [web]\n")
    result = berth("plan", "-o", "json", *flags, str(tmp_path))
    assert result.returncode == 1
    assert json.loads(result.stdout)["errors"] == [{
        "file": str(tmp_path / "profile.yaml"), "line": 5, "column": 20, "field": "spec.init.command[0]",
        "message": "nginx is not in the search path of template busybox",
        "hint": "searched /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    }]


def test_init_in_a_directory_rootfs_is_resolved_inside_it(tmp_path):
    """A link that leads out of the directory does not count: the container
    will not see the host's file."""
    _, _, flags = instance(tmp_path)
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "app").write_text("#!/bin/sh\n")
    (root / "bin" / "host-sh").symlink_to("/../../../../bin/sh")
    web = tmp_path / "web.yaml"
    web.write_text(container("", rootfs=f"{{directory: {root}}}"))
    result = berth("plan", *flags, str(web))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if ERROR_LINE.match(line)]
    assert errors == [f"{web}:6:3: error: spec.init.command[0]: /sbin/init is not in directory {root}"]
    for command, message in [("/bin/app", "/bin/app is not executable in directory {root} (no execute bit)"),
                             ("/bin/host-sh", "/bin/host-sh is not in directory {root}")]:
        web.write_text(container(f"  init: {{command: [{command}]}}\n", rootfs=f"{{directory: {root}}}"))
        result = berth("plan", *flags, str(web))
        assert f"error: spec.init.command[0]: {message.format(root=root)}" in result.stderr


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_no_manifests_without_prune_is_a_usage_error(tmp_path, command):
    _, _, flags = instance(tmp_path)
    result = berth(command, *flags)
    assert result.returncode == 64
    assert "--prune alone, to remove everything berth owns" in result.stderr


def test_apply_prune_without_manifests_asks_for_yes_when_not_on_a_terminal(tmp_path):
    """Nothing owned: nothing to confirm. The confirmation itself is checked on
    the kernel (HostKernelTests.ExampleTests), where there is something to remove."""
    _, _, flags = instance(tmp_path)
    assert "--yes" in berth("apply", "--help").stdout
    assert "None with --prune:" in berth("plan", "--help").stdout


def test_a_file_with_thousands_of_errors_shows_the_first_hundred_and_counts_the_rest(tmp_path):
    body = "apiVersion: berth/v1\nkind: Container\nmetadata:\n  name: dup\n  labels:\n"
    body += "".join(f"    k: v{i}\n" for i in range(2001)) + "spec:\n  init: {command: [/bin/true]}\n"
    (tmp_path / "dup.yaml").write_text(body)
    result = subprocess.run([BERTH, "validate", str(tmp_path / "dup.yaml")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 102, lines[-3:]
    assert lines[0] == f"{tmp_path}/dup.yaml:7:5: error: duplicate key 'k' (first defined at 6:5)"
    assert lines[-2:] == ["... and 1900 more errors not shown (-o json lists every one)", "2000 errors"]
    every = subprocess.run([BERTH, "validate", "-o", "json", str(tmp_path / "dup.yaml")], capture_output=True, text=True, timeout=60)
    assert len(json.loads(every.stdout)["errors"]) == 2000


def test_commands_on_an_unknown_container_say_it_does_not_exist(tmp_path):
    state, run = str(tmp_path / "state"), str(tmp_path / "run")
    for command in (["exec", "nosuch", "--", "true"], ["suspend", "nosuch"]):
        result = berth(command[0], "--state-dir", state, "--run-dir", run, *command[1:])
        assert result.returncode == 1, result.stderr
        assert "no container nosuch (berth list shows the containers)" in result.stderr, result.stderr


@pytest.mark.parametrize("value", ["soon", "-1s", "30"])
def test_apply_refuses_a_bad_lock_timeout_before_anything(tmp_path, value):
    """--lock-timeout is a duration (500ms, 30s, 5m): anything else is a usage error, before any lock or plan."""
    result = berth("apply", f"--lock-timeout={value}", "--run-dir", str(tmp_path / "run"), "--state-dir", str(tmp_path / "state"),
                   str(ROOT / "manifests"))
    assert result.returncode == 64, result.stderr
    assert any(line.startswith("Error: --lock-timeout: ") for line in result.stderr.splitlines()), result.stderr
    assert not (tmp_path / "run").exists()
