#!/usr/bin/env bash
# Lane 3: the host-kernel tests again on cgroup v2, in a VM booted by
# virtme-ng from Debian's kernel under qemu (no KVM here: TCG, ~25 s to boot; the suites take 10-18 min, so the bound is 40).
# The VM sees the host's filesystem (9p, which overlayfs refuses as an upper
# layer), so the tests keep their state on a tmpfs of the VM's own.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(realpath -m "${BERTH_VNG_VENV:-.build-venv}")
vng="$venv/bin/vng"
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
if [[ ! -x "$vng" || -z "$kernel" ]]; then
    echo "vm-lane: virtme-ng or a kernel in /boot is missing (make deps-vm installs them)" >&2
    exit 1
fi
tests=$(ls -d .build/debug/berthPackageTests.xctest 2>/dev/null || ls -d .build/*/debug/berthPackageTests.xctest)
# The suites whose code differs by cgroup version (drivers, clone into the
# cgroup, limits and their read-back, freezer, the agent, crash convergence,
# berth run, LXCFS's /proc answering from a v2 cgroup). Suites that only exercise netlink, nftables or journald run the
# same code on either hierarchy: lane 2 runs them, and under qemu without KVM
# they would double this lane's time. BERTH_VM_SUITES overrides the list.
# Then, alone (nothing else runs while they put their own bus and systemd
# manager over /run/dbus and /run/systemd): what systemd-machined makes of a
# container's cgroup, which differs by version too, and the systemd cgroup
# driver's scopes (~7 min under TCG).
# BERTH_VM_SERIAL_SUITES overrides that list; with BERTH_VM_SUITES it is empty
# unless given.
suites=${BERTH_VM_SUITES:-AgentTests|BeancounterKernelTests|CgroupDriverTests|CheckpointTests|ContainerCLITests|ContainerExecTests|ContainerResourceTests|ContainerRuntimeTests|CrashConvergenceTests|DiskQuotaTests|EscapeTests|FieldContractTests|ProcVirtualizationTests|ReconcileCLITests|RunCommandTests}
if [[ -n "${BERTH_VM_SUITES:-}" ]]; then
    serial=${BERTH_VM_SERIAL_SUITES:-}
else
    serial=${BERTH_VM_SERIAL_SUITES:-JournaldTests/MachinedRegistrationTests}
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Debian's kernel has loop, ext4's quota format, XFS (disk quotas) and FUSE (lxcfs, for the /proc suite)
# as modules, and the VM has no udev to load them.
inner="mkdir -p /run/berth-lane && mount -t tmpfs tmpfs /run/berth-lane && (modprobe loop 2>/dev/null || true) && \
(modprobe quota_v2 2>/dev/null || true) && (modprobe xfs 2>/dev/null || true) && (modprobe fuse 2>/dev/null || true) && \
stat -f -c 'vm-lane: /sys/fs/cgroup is %T' /sys/fs/cgroup && \
BERTH_CRIU_REQUIRED=1 BERTH_LXCFS_REQUIRED=1 BERTH_TEST_ROOT=/run/berth-lane scripts/sandbox-run.sh $tests --testing-library swift-testing --filter 'HostKernelTests\\.($suites)' && \
{ [ -z '$serial' ] || BERTH_TEST_ROOT=/run/berth-lane scripts/sandbox-run.sh $tests --testing-library swift-testing --filter 'HostKernelTests\\.($serial)'; } && \
scripts/check-leaks.sh; echo \"vm-lane-status=\$?\""
PATH="$venv/bin:$PATH" timeout 2400 "$vng" --disable-kvm --memory 2G -r "$kernel" --cwd "$PWD" -- "$inner" 2>&1 | tee "$log"
grep -q '^vm-lane-status=0' "$log"
