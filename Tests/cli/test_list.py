"""`berth list` and `status` for scripts and people (issue 15): hostname,
uptime and restart columns, --columns, -q names, and JSON whose keys are the
same for a stopped container as for a running one (cgroup, rootfs layers,
the record). Stopped containers' records need no root; lane 2
(ContainerCLITests) checks a running one."""
import json

import pytest

from test_operator import berth

KEYS = ["name", "state", "pid", "hostname", "labels", "uptimeSeconds", "addresses", "cpuSeconds", "memory", "pids", "exitCode",
        "checkpoint", "restarts", "cgroup", "rootfs", "record"]
ROOTFS_KEYS = ["mountpoint", "lower", "upper", "work", "diskImage", "inMemory"]


@pytest.fixture
def instance(tmp_path):
    """Two stopped containers: one with a hostname and a disk image, one bare."""
    state = tmp_path / "state"
    for name, extra in [("db1", {"spec": {"hostname": "db.example", "restartPolicy": "always", "rootfs": {"source": {"template": {"_0": "busybox"}}}}, "diskImage": "/srv/db1.img",
                                 "labels": {"tier": "db", "env": "prod"}}),
                        ("web1", {"labels": {"tier": "web", "env": "prod"}}), ("tmp1", {})]:
        directory = state / "containers" / name
        directory.mkdir(parents=True)
        record = {
            "name": name, "cgroup": f"berth-cli-test/{name}", "rootfs": f"/run/b/{name}/rootfs", "lower": "/var/lib/b/templates/busybox",
            "upper": f"/var/lib/b/{name}/upper", "work": f"/var/lib/b/{name}/work", "keepPrivateLayer": False, **extra,
        }
        (directory / "container.json").write_text(json.dumps(record))
    options = ["--state-dir", str(state), "--run-dir", str(tmp_path / "run"), "--cgroup-parent", "berth-cli-test"]
    return lambda *args: berth(*args, *options)


def test_list_json_has_every_key_for_stopped_containers(instance):
    result = instance("list", "-o", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == ["db1", "tmp1", "web1"]
    for row in rows:
        assert sorted(row) == sorted(KEYS)
        assert sorted(row["rootfs"]) == sorted(ROOTFS_KEYS)
        assert sorted(row["memory"]) == ["current", "limit"]
        assert row["pid"] is None and row["uptimeSeconds"] is None and row["state"] == "stopped"
    db1, tmp1, web1 = rows
    assert db1["labels"] == {"tier": "db", "env": "prod"} and tmp1["labels"] == {}
    assert db1["hostname"] == "db.example" and web1["hostname"] == "web1"
    assert db1["cgroup"] == "berth-cli-test/db1"
    assert db1["rootfs"] == {"mountpoint": "/run/b/db1/rootfs", "lower": "/var/lib/b/templates/busybox", "upper": "/var/lib/b/db1/upper",
                             "work": "/var/lib/b/db1/work", "diskImage": "/srv/db1.img", "inMemory": False}
    assert web1["rootfs"]["diskImage"] is None
    assert db1["record"]["spec"]["restartPolicy"] == "always"


def test_status_json_is_one_list_entry(instance):
    listed = json.loads(instance("list", "-o", "json").stdout)
    status = instance("status", "db1", "-o", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == listed[0]


def test_list_table_columns(instance):
    lines = instance("list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "PID", "HOSTNAME", "UPTIME", "RESTARTS", "ADDRESSES", "CPU(s)", "MEMORY", "PIDS"]
    assert lines[1].split()[:6] == ["db1", "stopped", "-", "db.example", "-", "0"]
    chosen = instance("list", "--columns", "hostname,name,labels,cgroup").stdout.splitlines()
    assert [line.split() for line in chosen] == [["HOSTNAME", "NAME", "LABELS", "CGROUP"],
                                                 ["db.example", "db1", "env=prod,tier=db", "berth-cli-test/db1"],
                                                 ["tmp1", "tmp1", "-", "berth-cli-test/tmp1"],
                                                 ["web1", "web1", "env=prod,tier=web", "berth-cli-test/web1"]]


def test_an_unknown_column_names_the_choices(instance):
    result = instance("list", "--columns", "name,memroy")
    assert result.returncode == 64
    assert "unknown column 'memroy' (choose from name, state, pid, hostname, uptime, restarts, labels, addresses, cpu, memory, pids, " \
        "cgroup)" \
        in result.stderr


def test_list_quiet_prints_names_only(instance):
    assert instance("list", "-q").stdout.splitlines() == ["db1", "tmp1", "web1"]


@pytest.mark.parametrize("selectors, names", [
    (["-l", "env=prod"], ["db1", "web1"]), (["-l", "env=prod", "-l", "tier=web"], ["web1"]), (["--selector", "tier=db"], ["db1"]),
    (["-l", "env=dev"], []), (["-l", "tier="], []),
])
def test_label_selectors_all_must_match(instance, selectors, names):
    result = instance("list", "-q", *selectors)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == names
    assert [row["name"] for row in json.loads(instance("list", "-o", "json", *selectors).stdout)] == names


@pytest.mark.parametrize("selector", ["env", "=prod"])
def test_a_selector_is_key_equals_value(instance, selector):
    result = instance("list", "-l", selector)
    assert result.returncode == 64
    assert f"'{selector}' is not key=value" in result.stderr
