#!/usr/bin/env bash
# libFuzzer targets for berth's hostile-input paths (fuzz/*.swift):
#   manifest  bytes → ManifestLoader.decode → ManifestSet.resolve → defaults
#   netlink   bytes → netlink framing, attributes and the rtnetlink client's decoders
# Each runs for a fixed number of executions from its seed corpus
# (fuzz/corpus/TARGET, read-only: new inputs go to a scratch directory).
#
#   scripts/fuzz.sh [RUNS] [TARGET...]     RUNS defaults to 1000000 (make fuzz);
#                                          CI runs 20000 each
#
# The library modules are built by SwiftPM with the fuzzer's coverage
# instrumentation (--sanitize fuzzer, its own scratch path .build-fuzz, so
# `swift build` and `swift test` are untouched); each target is then linked by
# swiftc with libFuzzer. A crash, a hang (-timeout) or an input over the
# memory limit fails the run and leaves the input in .build-fuzz/artifacts/:
# add it to fuzz/regressions/TARGET/ (Tests/ManifestTests/FuzzRegressionTests.swift
# and Tests/NetlinkTests/FuzzRegressionTests.swift replay every file there
# through the same fuzz/*FuzzInput.swift, linked into those test targets).
# The figures of the last run go to fuzz/last-run.txt (the README's hostile
# input table is checked against it).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
# FUZZ_SEED: libFuzzer's seed (0, the default, picks one): CI's short pass
# fixes it, so that what passed once passes again; make fuzz explores.
seed=${FUZZ_SEED:-0}
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then targets=(manifest netlink); fi
scratch=.build-fuzz
# libFuzzer comes with the Swift toolchain (clang's compiler-rt); nothing from apt.
toolchain=$(dirname "$(readlink -f "$(command -v swiftc)")")/..
if ! compgen -G "$toolchain/lib/clang/*/lib/linux/libclang_rt.fuzzer-$(uname -m).a" >/dev/null; then
    echo "fuzz: this Swift toolchain has no libFuzzer (libclang_rt.fuzzer-$(uname -m).a); use a swift.org toolchain" >&2
    exit 1
fi
configuration=release

swift build -c "$configuration" --scratch-path "$scratch" --sanitize fuzzer --target Manifest >/dev/null
swift build -c "$configuration" --scratch-path "$scratch" --sanitize fuzzer --target Netlink >/dev/null
bin=$(swift build -c "$configuration" --scratch-path "$scratch" --show-bin-path)

# Every object of the modules the targets import, and their module maps.
objects=()
for module in Model Manifest CLibraries Netlink Kernel CLinux SystemPackage CSystem; do
    while IFS= read -r -d '' object; do objects+=("$object"); done < <(find "$bin/$module.build" -name '*.o' -print0)
done
maps=()
while IFS= read -r -d '' map; do maps+=(-Xcc "-fmodule-map-file=$map"); done < <(find "$bin" -maxdepth 2 -name module.modulemap -print0)
includes=(-I "$bin/Modules" -I Sources/CLibraries/include -I Sources/CLinux/include)
for checkout in "$scratch"/checkouts/swift-system/Sources/CSystem/include; do includes+=(-I "$checkout"); done

mkdir -p "$scratch/fuzzers" "$scratch/artifacts"
report=$(mktemp)
trap 'rm -f "$report"' EXIT
for target in "${targets[@]}"; do
    case $target in
        manifest) sources=(fuzz/ManifestFuzz.swift fuzz/ManifestFuzzInput.swift); max_len=16384 ;;
        netlink) sources=(fuzz/NetlinkFuzz.swift fuzz/NetlinkFuzzInput.swift); max_len=4096 ;;
        *) echo "fuzz: unknown target '$target' (manifest, netlink)" >&2; exit 64 ;;
    esac
    binary="$scratch/fuzzers/$target"
    swiftc -O -sanitize=fuzzer -parse-as-library "${includes[@]}" "${maps[@]}" \
        "${sources[@]}" "${objects[@]}" -ldl -o "$binary"
    work="$scratch/corpus/$target"
    mkdir -p "$work"
    echo "fuzz $target: $runs executions"
    start=$(date +%s)
    set +e
    # Swift's own crash handler would take the signal before libFuzzer
    # writes the crashing input to artifacts/: off.
    SWIFT_BACKTRACE=enable=no "$binary" -seed="$seed" -runs="$runs" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$scratch/artifacts/$target-" "$work" "fuzz/corpus/$target" "fuzz/regressions/$target" \
        >"$scratch/$target.log" 2>&1
    status=$?
    set -e
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$target.log" | tail -1)
    echo "fuzz $target: ${executed:-0} executions in $(($(date +%s) - start)) s, exit $status"
    if [[ $status -ne 0 ]]; then
        tail -40 "$scratch/$target.log" >&2
        echo "fuzz $target: failed; the input is in $scratch/artifacts/ (add it to fuzz/regressions/$target/)" >&2
        exit 1
    fi
    echo "$target ${executed:-0}" >>"$report"
done
if [[ $runs -ge 1000000 ]]; then cp "$report" fuzz/last-run.txt; fi
