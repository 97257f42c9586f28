#!/usr/bin/env bash
# Runs a command in lane 3's VM with a bound of its own, below vm-run.sh's:
# past it, before anything is killed, prints what every process of the VM is
# waiting on (its state, its kernel wait channel, and the kernel stack of each
# thread that sleeps in the kernel), so a hang names itself in CI's output
# instead of ending as qemu's timeout. Usage: vm-watch.sh SECONDS COMMAND...;
# exits with the command's status, or 124 once the bound passed. Where the
# command writes swift-testing's event stream (--event-stream-output-path
# among its arguments), the tests started and not ended are named too.
set -uo pipefail
limit=$1
shift
events=
previous=
for argument in "$@"; do
    if [[ $previous == --event-stream-output-path ]]; then events=$argument; fi
    if [[ $argument == --event-stream-output-path=* ]]; then events=${argument#*=}; fi
    previous=$argument
done
"$@" &
pid=$!
# One line per thread of a user process asleep, stopped or in D state; the D
# ones (an uninterruptible wait in the kernel) and the tests not ended last,
# where an excerpt of CI's output ends.
threads() {
    for stat in /proc/[0-9]*/task/[0-9]*/stat; do
        task=${stat%/stat}
        read -r line < "$stat" 2>/dev/null || continue
        # comm may hold spaces: the state is the field after its closing ')'.
        rest=${line##*) }
        state=${rest%% *}
        [[ $state == [$1] ]] || continue
        comm=${line#*(}
        comm=${comm%)*}
        wchan=$(cat "$task/wchan" 2>/dev/null)
        # Kernel threads idle in their own loops say nothing about the hang.
        [[ -n $(tr -d '\0' < "${task%/task/*}/cmdline" 2>/dev/null) ]] || continue
        frames=$(grep -v -e '^$' "$task/stack" 2>/dev/null | sed -e 's/^\[<[0-9a-f]*>\] //' -e 's/+0x.*//' | head -n 6 | paste -sd' ')
        pidpart=${task#/proc/}
        echo "vm-watch: ${pidpart%%/*}/${task##*/} $comm $state ${wchan:--} ${frames:-}"
    done
}
report() {
    echo "vm-watch: '$*' still runs after ${limit} s; what each process waits on:"
    threads ST
    # The kernel's last words (a hung task, a device that waits for its
    # references, a warning).
    dmesg 2>/dev/null | tail -n 12 | sed 's/^/vm-watch: kernel: /'
    threads D
    if [[ -n $events && -r $events ]]; then
        /usr/bin/python3 - "$events" <<'EOF'
import json, sys
running = {}
for line in open(sys.argv[1], errors="replace"):
    try:
        payload = json.loads(line).get("payload", {})
    except ValueError:
        continue
    test, kind = payload.get("testID"), payload.get("kind")
    if test and kind == "testStarted":
        running[test] = payload.get("instant", {}).get("since1970", 0)
    elif test and kind == "testEnded":
        running.pop(test, None)
for test, since in sorted(running.items(), key=lambda item: item[1]):
    print(f"vm-watch: test not ended: {test}")
EOF
    fi
}
fired=$(mktemp)
(
    sleep "$limit"
    if kill -0 "$pid" 2>/dev/null; then
        echo 1 > "$fired"
        report "$@"
        # The tests' processes first, then the command (its children end with it).
        pkill -KILL -P "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    fi
) &
watcher=$!
wait "$pid"
status=$?
# The watcher's sleep first (else it holds the output open for the bound).
pkill -P "$watcher" 2>/dev/null
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
if [[ -s $fired ]]; then status=124; fi
rm -f "$fired"
exit "$status"
