#!/usr/bin/env bash
# make bench's checkpoint figures (berth-bench checkpoint, as root): on this
# host when `criu check` passes here; where it fails (berth-bench exits 3;
# this machine's kernel) in the VM of lane 3 (vm-run.sh), where it passes.
# The VM's figures say how they were measured (qemu TCG here: they show
# where a freeze's time goes, not what it takes on real hardware).
# Usage: bench-checkpoint.sh [BERTH-BENCH] (default .build/release/berth-bench).
set -uo pipefail
cd "$(dirname "$0")/.."
bench=${1:-.build/release/berth-bench}
bash scripts/sandbox-run.sh "$bench" checkpoint
status=$?
[[ $status -eq 3 ]] || exit "$status"
if [[ ! -x "${BERTH_VNG_VENV:-.build-venv}/bin/vng" ]]; then
    echo "berth-bench checkpoint: skipped (no VM: make deps-vm installs one, where criu check passes)"
    exit 0
fi
echo "berth-bench checkpoint: in lane 3's VM (Debian's kernel under qemu), where criu check passes"
exec bash scripts/vm-run.sh "BERTH_BENCH_ROOT=/run/berth-lane BERTH_BENCH_UNDER=\"\$BERTH_VM_UNDER\" \
BERTH_BENCH_ROUNDS=${BERTH_BENCH_ROUNDS:-3} scripts/sandbox-run.sh $bench checkpoint" 1200
