#!/usr/bin/env bash
# README's "Running the agent under systemd", as far as it can run without
# touching the machine: `make install` into a DESTDIR (as a packager would),
# then what the README does next with the installed files. The systemctl
# commands act on the machine's own systemd and are not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
destdir=$(mktemp -d)
trap 'rm -rf "$destdir"' EXIT
make --no-print-directory install DESTDIR="$destdir" PREFIX=/usr/local >/dev/null
fail() { echo "check-install: $*" >&2; exit 1; }
for file in usr/local/bin/berth etc/systemd/system/berth.service usr/lib/systemd/catalog/berth.catalog \
    usr/local/share/doc/berth/README.md; do
    [[ -f $destdir/$file ]] || fail "make install did not install /$file"
done
[[ -d $destdir/etc/berth/manifests ]] || fail "make install did not make /etc/berth/manifests"
# The unit runs the binary make install put in place.
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$destdir/etc/systemd/system/berth.service")
[[ -x $destdir$exec_start ]] || fail "the unit's ExecStart ($exec_start) is not the installed binary"
"$destdir/usr/local/bin/berth" --version >/dev/null || fail "the installed berth does not start"
# cp manifests/*.yaml /etc/berth/manifests/: the agent's manifests validate.
cp manifests/*.yaml "$destdir/etc/berth/manifests/"
"$destdir/usr/local/bin/berth" validate "$destdir/etc/berth/manifests" >/dev/null || fail "the copied manifests do not validate"
echo "check-install: make install DESTDIR=... installs what README says, and the unit runs it"
