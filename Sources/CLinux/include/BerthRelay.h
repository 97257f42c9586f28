// The journal relay of a container whose spec.logs.driver is journal: a
// small process of its own (berth re-executed as `berth journal-relay`,
// which calls straight into this C before any Swift runs beyond main) that
// reads the init's stdout and stderr from two FIFOs and hands each line to
// journald over its native protocol, with the container's fields.
//
// Why a process and why C: journald's stream protocol
// (/run/systemd/journal/stdout) cannot carry custom fields such as
// CONTAINER_NAME, so someone must read the output and frame it (docker and
// conmon do the same). It must outlive the berth that started it (the CLI
// exits, the agent restarts), so it is not a thread of berth's; it is
// single-threaded C, so its memory is a few pages, a 64 KiB buffer and the
// binary's shared text.
#ifndef BERTH_RELAY_H
#define BERTH_RELAY_H

#include <stddef.h>

// Runs the relay with berth's argv (argv[1] is "journal-relay"):
//   --stdout FIFO --stderr FIFO --socket PATH --fallback FILE
//   [--patience-ms N] FIELD=VALUE...
// It opens both FIFOs for reading, forks, and the parent returns 0 (after
// the child printed its pid on stdout, one line), or 1 with
// "error: ..." on stdout when it could not start. The child (a new session,
// stdio on /dev/null) relays until both FIFOs reach end of file (every
// writer, the container, has gone), then exits 0.
//
// Each line (at most 16 KiB; a longer one is split) becomes one datagram:
// the fields, PRIORITY=6 (stdout) or 3 (stderr), MESSAGE. When journald
// cannot take it (no socket, nobody bound, queue full: it restarts or
// stalls) the relay stops reading and retries every 50 ms; the FIFOs hold
// what the container writes meanwhile (and then block its writes). After
// --patience-ms (default 10000) of failing it appends lines to FILE instead
// (the container's console.log), trying journald again with each next line.
int berth_journal_relay_main(int argc, char **argv);

// The child side of a helper's fork (the relay, the sysinfo responder): a
// session of its own, SIGPIPE and SIGHUP ignored, its pid printed on
// stdout (one line, which the starting berth reads), then stdio on
// /dev/null and / as its directory.
void berth_helper_detach(void);

// A helper's start-up failure, before it forks: "error: WHAT SUBJECT:
// strerror" on stdout (what the starting berth reports); returns 1.
int berth_helper_fail(const char *what, const char *subject, int error);

// One native-protocol datagram into `out`: `prefix` (fields already framed)
// then PRIORITY=`priority` and MESSAGE (binary-safe framing: name, newline,
// 64-bit little-endian length, bytes, newline). Returns its length, or 0
// when it does not fit in `size`. Pure; exposed for tests.
size_t berth_relay_frame(const char *prefix, size_t prefix_length, int priority, const char *line, size_t length, char *out,
                         size_t size);

// Appends FIELD=VALUE to `prefix` (`*length` bytes used of `size`) in the
// binary-safe framing. 0, or -1 when the name is invalid (1-64 of A-Z, 0-9,
// '_', not starting with '_' or a digit) or it does not fit.
int berth_relay_add_field(char *prefix, size_t *length, size_t size, const char *assignment);

#endif
