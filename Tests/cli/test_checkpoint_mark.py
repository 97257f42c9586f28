"""A container `berth checkpoint` dumped (issue 14) is checkpointed, not
stopped: status, list, plan and drift say so; neither apply nor `berth start`
starts it afresh; `berth stop` forgets the checkpoint. The record is made by
hand (as `berth checkpoint` leaves it), so no root or CRIU is needed; the VM
lane (CheckpointTests) checks the real checkpoint and restore."""
import json

import pytest

from test_cli import VALID as MANIFEST
from test_operator import berth

IMAGE = "/srv/images/web1"


@pytest.fixture
def instance(tmp_path):
    state = tmp_path / "state"
    directory = state / "containers" / "web1"
    directory.mkdir(parents=True)
    (directory / "container.json").write_text(json.dumps({
        "name": "web1", "cgroup": "berth-cli-test/web1", "rootfs": "/nonexistent", "lower": "/nonexistent",
        "upper": "/nonexistent", "work": "/nonexistent", "keepPrivateLayer": False,
        "spec": {"rootfs": {"source": {"template": {"_0": "busybox"}}}},
        "checkpoint": {"directory": IMAGE, "time": 1796334480},
    }))
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "web1.yaml").write_text(MANIFEST)
    options = ["--state-dir", str(state), "--run-dir", str(tmp_path / "run"), "--cgroup-parent", "berth-cli-test"]
    return lambda *args: berth(*args, *options), manifests, directory / "container.json"


def test_status_and_list_say_checkpointed_with_the_image(instance):
    run, _, _ = instance
    status = run("status", "web1")
    assert status.returncode == 0, status.stderr
    lines = [line.split() for line in status.stdout.splitlines()]
    assert ["state:", "checkpointed"] in lines
    assert ["checkpoint:", IMAGE, "(2026-12-03T21:48:00Z)"] in lines
    entry = json.loads(run("status", "web1", "-o", "json").stdout)
    assert entry["state"] == "checkpointed"
    assert entry["checkpoint"] == {"directory": IMAGE, "time": 1796334480}
    assert [row["state"] for row in json.loads(run("list", "-o", "json").stdout)] == ["checkpointed"]


def test_plan_shows_it_checkpointed_and_apply_does_not_start_it(instance):
    run, manifests, _ = instance
    plan = run("plan", "--detailed-exitcode", str(manifests))
    assert plan.returncode == 2, plan.stderr
    assert "checkpointed Container/web1 spec.state: checkpointed to /srv/images/web1 at 2026-12-03T21:48:00Z → running" in plan.stdout
    assert f"berth restore --from {IMAGE} brings it back" in plan.stdout
    assert "start Container/web1" not in plan.stdout
    assert "Plan: 1 checkpointed" in plan.stdout
    actions = json.loads(run("plan", "-o", "json", str(manifests)).stdout)
    assert [action["kind"] for action in actions if action["kind"] != "record"] == ["checkpointed"]
    drift = run("drift", str(manifests))
    assert "checkpointed (berth restore)" in drift.stdout, drift.stdout + drift.stderr


def test_start_refuses_and_names_the_restore(instance):
    run, _, _ = instance
    result = run("start", "web1")
    assert result.returncode == 1
    assert f"berth restore web1 --from {IMAGE} brings it back" in result.stderr


def test_stop_forgets_the_checkpoint(instance):
    run, manifests, record = instance
    result = run("stop", "web1")
    assert result.returncode == 0, result.stderr
    assert "checkpoint" not in json.loads(record.read_text())
    assert json.loads(run("status", "web1", "-o", "json").stdout)["state"] == "stopped"
    assert "start Container/web1" in run("plan", str(manifests)).stdout
