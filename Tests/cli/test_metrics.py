"""`berth metrics`: Prometheus' text exposition format, parsed strictly.

The parser follows the text-format spec (version 0.0.4): HELP and TYPE
lines, one TYPE per family given before its samples, metric and label
names by their grammar, label values with only \\\\, \\" and \\n escapes,
values as Go's ParseFloat reads them, no sample of a family after another
family began.
"""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BERTH = str((ROOT / os.environ.get("BERTH", ".build/debug/berth")).resolve())

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
VALUE = re.compile(r"^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$")


class FormatError(Exception):
    pass


def parse_labels(text, at):
    """Labels from text[at] == '{' to its '}'; returns (labels, index after '}')."""
    labels = {}
    index = at + 1
    while True:
        if text[index] == "}":
            return labels, index + 1
        match = LABEL_NAME.match(text, index)
        if not match:
            raise FormatError(f"bad label name at {text[index:]!r}")
        name = match.group(0)
        index = match.end()
        if text[index:index + 2] != '="':
            raise FormatError(f"label {name} without =\"")
        index += 2
        value = []
        while True:
            if index >= len(text):
                raise FormatError("unterminated label value")
            char = text[index]
            if char == "\\":
                escaped = text[index + 1:index + 2]
                if escaped not in ("\\", '"', "n"):
                    raise FormatError(f"bad escape \\{escaped}")
                value.append("\n" if escaped == "n" else escaped)
                index += 2
            elif char == '"':
                index += 1
                break
            elif char == "\n":
                raise FormatError("raw line feed in a label value")
            else:
                value.append(char)
                index += 1
        if name in labels:
            raise FormatError(f"label {name} twice")
        labels[name] = "".join(value)
        if text[index] == ",":
            index += 1
        elif text[index] != "}":
            raise FormatError(f"expected , or }} at {text[index:]!r}")


def parse(text):
    """{family: {"help", "type", "samples": [(labels, value)]}}, or FormatError."""
    if text and not text.endswith("\n"):
        raise FormatError("the last line does not end with a line feed")
    families = {}
    current = None
    finished = set()
    for line in text.split("\n")[:-1] if text else []:
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not METRIC_NAME.fullmatch(name):
                    raise FormatError(f"bad metric name {name!r}")
                if name != current:
                    if current is not None:
                        finished.add(current)
                    if name in finished:
                        raise FormatError(f"family {name} given again after another")
                    current = name
                family = families.setdefault(name, {"help": None, "type": None, "samples": []})
                if parts[1] == "TYPE":
                    if family["type"] is not None:
                        raise FormatError(f"second TYPE for {name}")
                    if family["samples"]:
                        raise FormatError(f"TYPE of {name} after its samples")
                    if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                        raise FormatError(f"bad TYPE line {line!r}")
                    family["type"] = parts[3]
                else:
                    if family["help"] is not None:
                        raise FormatError(f"second HELP for {name}")
                    help_text = parts[3] if len(parts) == 4 else ""
                    if re.search(r"\\[^\\n]", help_text.replace("\\\\", "")):
                        raise FormatError(f"bad escape in HELP of {name}")
                    family["help"] = help_text
            continue
        if not line.strip():
            raise FormatError("blank line")
        match = METRIC_NAME.match(line)
        if not match:
            raise FormatError(f"bad sample line {line!r}")
        name = match.group(0)
        index = match.end()
        labels = {}
        if index < len(line) and line[index] == "{":
            labels, index = parse_labels(line, index)
        rest = line[index:]
        if not rest.startswith(" "):
            raise FormatError(f"no space before the value in {line!r}")
        fields = rest[1:].split(" ")
        if not 1 <= len(fields) <= 2 or not VALUE.match(fields[0]):
            raise FormatError(f"bad value in {line!r}")
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise FormatError(f"bad timestamp in {line!r}")
        if name != current:
            raise FormatError(f"sample of {name} outside its family (current {current})")
        family = families[name]
        if family["type"] is None:
            raise FormatError(f"sample of {name} before its TYPE")
        if any(existing == labels for existing, _ in family["samples"]):
            raise FormatError(f"{name}{labels} twice")
        family["samples"].append((labels, float(fields[0])))
    return families


@pytest.mark.parametrize("text", [
    "x 1\n",  # no TYPE
    "# TYPE x gauge\n# TYPE x gauge\nx 1\n",
    "# TYPE x gauge\nx{a=\"\\t\"} 1\n",
    "# TYPE x gauge\nx{a=\"b\"} one\n",
    "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n",
    "# TYPE x gauge\nx 1",
    "# TYPE x gauge\nx{a=\"b\",a=\"c\"} 1\n",
])
def test_the_parser_refuses_what_the_format_does_not_allow(text):
    with pytest.raises(FormatError):
        parse(text)


def test_the_parser_reads_escapes():
    families = parse('# HELP x a \\\\ b\\n\n# TYPE x counter\nx{a="q\\"\\\\\\n"} 1.5e3\n')
    assert families["x"]["samples"] == [({"a": 'q"\\\n'}, 1500.0)]


def test_metrics_prints_the_agents_last_pass_in_the_text_format(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "agent-pass.json").write_text(json.dumps(
        {"finished": 1700000000.25, "durationSeconds": 0.125, "drifts": 3, "changes": 1, "failures": 0, "passes": 9}))
    result = subprocess.run(
        [BERTH, "metrics", "--state-dir", str(tmp_path / "state"), "--run-dir", str(run), "--cgroup-parent", "berth-metrics-test"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    families = parse(result.stdout)
    assert families["berth_drift_fields"]["type"] == "gauge"
    assert families["berth_drift_fields"]["samples"] == [({}, 3.0)]
    assert families["berth_last_pass_timestamp_seconds"]["samples"] == [({}, 1700000000.0)]
    assert families["berth_last_pass_duration_seconds"]["samples"] == [({}, 0.125)]
    assert families["berth_agent_passes_total"]["type"] == "counter"
    assert all(family["help"] for family in families.values())


def test_metrics_without_containers_or_agent_prints_nothing(tmp_path):
    result = subprocess.run(
        [BERTH, "metrics", "--state-dir", str(tmp_path / "state"), "--run-dir", str(tmp_path / "run"),
         "--cgroup-parent", "berth-metrics-test"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert parse(result.stdout) == {}


CAPACITY = """\
apiVersion: berth/v1
kind: Container
metadata:
  name: {name}
spec:
  rootfs: {{template: busybox}}
  init: {{command: [/bin/sleep, "1"]}}
  resources:
    memory: {{max: {memory}}}
"""


def test_plan_warns_when_memory_is_overcommitted_and_strict_refuses(tmp_path):
    """vzmemcheck: the containers' memory limits against the host's memory."""
    manifests = tmp_path / "m"
    manifests.mkdir()
    host_mib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGESIZE") >> 20
    for name, mib in (("big", host_mib), ("small", 64)):
        (manifests / f"{name}.yaml").write_text(CAPACITY.format(name=name, memory=f"{mib}Mi"))
    common = ["--state-dir", str(tmp_path / "state"), "--run-dir", str(tmp_path / "run"), "--cgroup-parent", "berth-capacity-test"]
    result = subprocess.run([BERTH, "plan", *common, str(manifests)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning: memory overcommitted")]
    assert len(warning) == 1, result.stderr
    assert "largest: big " in warning[0] and ", small 64Mi" in warning[0]
    strict = subprocess.run([BERTH, "plan", "--strict", *common, str(manifests)], capture_output=True, text=True, timeout=60)
    assert strict.returncode == 1
    assert "error: memory overcommitted" in strict.stderr and "nothing was planned or changed" in strict.stderr
    assert "create Container/big" not in strict.stdout
    allowed = subprocess.run(
        [BERTH, "plan", "--strict", "--overcommit", "memory=2", *common, str(manifests)], capture_output=True, text=True, timeout=60)
    assert allowed.returncode == 0, allowed.stderr
    assert "overcommitted" not in allowed.stderr
    env = dict(os.environ, BERTH_OVERCOMMIT="memory=2")
    from_env = subprocess.run([BERTH, "plan", "--strict", *common, str(manifests)], capture_output=True, text=True, timeout=60, env=env)
    assert from_env.returncode == 0, from_env.stderr
    bad = subprocess.run([BERTH, "plan", "--overcommit", "memory=0", *common, str(manifests)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 64 and "--overcommit" in bad.stderr


def test_plan_refuses_proc_virtualize_true_without_lxcfs(tmp_path):
    manifest = tmp_path / "web.yaml"
    manifest.write_text(
        "apiVersion: berth/v1\nkind: Container\nmetadata:\n  name: web\nspec:\n  rootfs: {template: busybox}\n"
        "  init: {command: [/bin/sleep, \"1\"]}\n  proc: {virtualize: true}\n")
    env = dict(os.environ, BERTH_LXCFS_DIR=str(tmp_path / "no-lxcfs"))
    common = ["--state-dir", str(tmp_path / "state"), "--run-dir", str(tmp_path / "run"), "--cgroup-parent", "berth-proc-test"]
    result = subprocess.run([BERTH, "plan", *common, str(manifest)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert (f"{manifest}:8:22: error: spec.proc.virtualize: LXCFS is not mounted at {tmp_path}/no-lxcfs: "
            "/proc cannot show the container's memory and CPUs") in result.stderr, result.stderr
    # Left unset: a note, and the plan goes on.
    manifest.write_text(manifest.read_text().replace("  proc: {virtualize: true}\n", ""))
    result = subprocess.run([BERTH, "plan", *common, str(manifest)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert f"note: LXCFS is not mounted at {tmp_path}/no-lxcfs: /proc of web shows the host's memory" in result.stderr


@pytest.mark.parametrize("address", ["9464", "localhost", "127.0.0.1:99999"])
def test_agent_refuses_a_metrics_address_without_a_port(tmp_path, address):
    result = subprocess.run([BERTH, "agent", "--manifests", str(tmp_path), "--metrics", address],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 64, result.stderr
    assert f"--metrics: '{address}' is not HOST:PORT" in result.stderr


@pytest.mark.parametrize("ratios", ["memory=0", "disk=2", "cpu"])
def test_agent_refuses_bad_overcommit_ratios_before_it_starts(tmp_path, ratios):
    """The agent's capacity check takes plan's ratios, checked the same way."""
    result = subprocess.run([BERTH, "agent", "--manifests", str(tmp_path), "--overcommit", ratios],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 64, result.stderr
    assert "--overcommit: " in result.stderr
    env = dict(os.environ, BERTH_OVERCOMMIT=ratios)
    result = subprocess.run([BERTH, "agent", "--manifests", str(tmp_path)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 64, result.stderr
