#!/bin/bash
# The man page and shell completions for BERTH (a built berth binary), into
# OUT: OUT/berth.1 from swift-argument-parser's generate-manual tool (built
# once, with the package's own pinned swift-argument-parser) and
# OUT/berth.bash, berth.zsh, berth.fish from --generate-completion-script.
# `make install` installs them; Tests/cli/test_install_files.py checks them.
#   usage: scripts/generate-docs.sh BERTH OUT [SCRATCH_PATH]
set -euo pipefail
berth=${1:?usage: generate-docs.sh BERTH OUT [SCRATCH_PATH]}
out=${2:?usage: generate-docs.sh BERTH OUT [SCRATCH_PATH]}
scratch=${3:-.build}
swift=${SWIFT:-swift}
# Paths given relative to where it was called from, then work from the package root.
berth=$(realpath -m "$berth")
out=$(realpath -m "$out")
[[ $scratch = /* ]] || scratch=$(realpath -m "$scratch")
cd "$(dirname "$0")/.."
bin=$("$swift" build --scratch-path "$scratch" --show-bin-path)
if [ ! -x "$bin/generate-manual" ]; then
    "$swift" build --scratch-path "$scratch" --product generate-manual >&2
fi
mkdir -p "$out"
# A reproducible date: the commit's (or SOURCE_DATE_EPOCH's), not today's.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
"$bin/generate-manual" "$berth" --date "$(date -u -d "@$epoch" +%Y-%m-%d)" --output-directory "$out" >&2
for shell in bash zsh fish; do
    "$berth" --generate-completion-script "$shell" > "$out/berth.$shell"
done
