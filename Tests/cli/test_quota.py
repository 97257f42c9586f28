"""`berth quota` (issue 13's second level): its arguments, and what it says
of a container without user quotas. No root needed; the VM lane
(DiskQuotaTests) sets and reads real user quotas on a disk image."""
import pytest

from test_ubc import instance  # noqa: F401 (a fixture)


def test_a_container_without_user_quotas_says_what_they_need(instance):  # noqa: F811
    result = instance("quota", "web1")
    assert result.returncode == 1
    assert "spec.resources.disk.userQuota: true on a disk image (it has no disk quota)" in result.stderr


def test_an_unknown_container_is_an_error(instance):  # noqa: F811
    result = instance("quota", "nosuch")
    assert result.returncode == 1
    assert "no container named 'nosuch'" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["set", "--blocks", "1024"], "give --user ID or --group ID"),
        (["set", "--user", "1000", "--group", "1000", "--blocks", "1"], "give --user ID or --group ID"),
        (["set", "--user", "1000"], "give --blocks, --inodes or both"),
        (["--user", "1000", "--blocks", "1"], "set a quota: berth quota web1 set --user ID"),
        (["unset"], "unknown action 'unset'"),
    ],
)
def test_set_needs_one_id_and_a_limit(instance, args, message):  # noqa: F811
    result = instance("quota", "web1", *args)
    assert result.returncode == 64, result.stderr
    assert message in result.stderr
