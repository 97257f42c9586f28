#!/usr/bin/env bash
# Lane 3: the host-kernel tests again on cgroup v2, in a VM booted by
# virtme-ng from Debian's kernel under qemu (vm-run.sh; no KVM here: TCG, ~25 s
# to boot; the suites take 10-18 min, so the bound is 40). The tests keep
# their state on the VM's own tmpfs (/run/berth-lane).
set -euo pipefail
cd "$(dirname "$0")/.."
tests=$(ls -d .build/debug/berthPackageTests.xctest 2>/dev/null || ls -d .build/*/debug/berthPackageTests.xctest)
# The suites whose code differs by cgroup version (drivers, clone into the
# cgroup, limits and their read-back, freezer, the agent, crash convergence,
# berth run, LXCFS's /proc answering from a v2 cgroup), and the CRIU suites,
# which need the kernel `criu check` passes on (checkpoint and restore, a TCP
# connection across them, migrate over ssh between two berths: ~3 and ~5 min
# under TCG, run beside the others in the same boot). Suites that only
# exercise netlink, nftables or journald run the same code on either
# hierarchy: lane 2 runs them, and under qemu without KVM they would double
# this lane's time. BERTH_VM_SUITES overrides the list.
# Then, alone (nothing else runs while they put their own bus and systemd
# manager over /run/dbus and /run/systemd): what systemd-machined makes of a
# container's cgroup, which differs by version too, and the systemd cgroup
# driver's scopes (~7 min under TCG).
# BERTH_VM_SERIAL_SUITES overrides that list; with BERTH_VM_SUITES it is empty
# unless given. Each run has a bound of its own inside the VM (vm-watch.sh:
# 1400 s and 800 s, within vm-run's 2400), past which what every process
# waits on is printed before the run is ended.
suites=${BERTH_VM_SUITES:-AgentTests|BeancounterKernelTests|CgroupDriverTests|CheckpointTCPTests|CheckpointTests|ContainerCLITests|ContainerExecTests|ContainerResourceTests|ContainerRuntimeTests|CrashConvergenceTests|DiskQuotaTests|EscapeTests|FieldContractTests|MigrateTests|ProcVirtualizationTests|ReconcileCLITests|RunCommandTests}
if [[ -n "${BERTH_VM_SUITES:-}" ]]; then
    serial=${BERTH_VM_SERIAL_SUITES:-}
else
    serial=${BERTH_VM_SERIAL_SUITES:-JournaldTests/MachinedRegistrationTests}
fi
exec bash scripts/vm-run.sh "stat -f -c 'vm-lane: %n is %T' /sys/fs/cgroup /run && \
BERTH_CRIU_REQUIRED=1 BERTH_LXCFS_REQUIRED=1 BERTH_TEST_ROOT=/run/berth-lane scripts/vm-watch.sh 1400 scripts/sandbox-run.sh $tests --testing-library swift-testing --event-stream-output-path /run/berth-lane/events.jsonl --event-stream-version 0 --filter 'HostKernelTests\\.($suites)' && \
{ [ -z '$serial' ] || BERTH_TEST_ROOT=/run/berth-lane scripts/vm-watch.sh 800 scripts/sandbox-run.sh $tests --testing-library swift-testing --event-stream-output-path /run/berth-lane/serial.jsonl --event-stream-version 0 --filter 'HostKernelTests\\.($serial)'; } && \
scripts/check-leaks.sh" 2400
