// sysinfo(2) as the container sees it. busybox's `free` and `uptime` (and
// procps' `uptime`) ask the kernel with sysinfo(2), not /proc: LXCFS's
// files cannot reach them, and a 128 MiB container would show the host's
// memory and uptime. A seccomp filter in the container hands each sysinfo
// call to this responder (SECCOMP_RET_USER_NOTIF, as LXD's
// security.syscalls.intercept.sysinfo), which answers from the container's
// cgroup: memory limit and use, swap limit and use, its task count, and the
// time since the container started.
//
// Why a process and why C: it must outlive the berth that started the
// container (as the journal relay, BerthRelay.h), and berth re-executed as
// `berth sysinfo-responder` calls straight into this C, single-threaded.
#ifndef BERTH_SYSINFO_H
#define BERTH_SYSINFO_H

#include <stdint.h>
#include <sys/sysinfo.h>

// What the container's cgroup holds. A limit of UINT64_MAX is "max" (none).
struct berth_sysinfo_values {
    uint64_t memory_limit;
    uint64_t memory_usage;
    // The swap the container may use on top of its memory, and uses.
    uint64_t swap_limit;
    uint64_t swap_usage;
    uint64_t tasks;
    // Seconds since the container started.
    int64_t uptime;
};

// The answer: the host's figures (`host`, from the responder's own
// sysinfo: load averages, total sizes) bounded by the container's. Total
// RAM is the memory limit (the host's when lower or unlimited), free RAM
// what the container has left of it; swap likewise; procs its task count;
// uptime its own. Pure; exposed for tests.
void berth_sysinfo_fill(struct sysinfo *out, const struct sysinfo *host, const struct berth_sysinfo_values *values);

// Reads the cgroup files into `values` (cgroup v2 names, or v1's with
// `v1`): 0, or -1 with errno when the memory files are gone (the
// container has ended).
int berth_sysinfo_read(struct berth_sysinfo_values *values, const char *memory_dir, const char *pids_dir, int v1);

// Runs the responder with berth's argv (argv[1] is "sysinfo-responder"):
//   --socket-fd N --memory DIR --pids DIR --started-ns NS [--v1]
// N is a connected SOCK_SEQPACKET socket on which the container's child
// sends the listener (SCM_RIGHTS); NS is CLOCK_BOOTTIME at the
// container's start. It forks; the parent prints the child's pid (one line)
// and returns 0, or 1 with "error: ..." on stdout. The child (a new
// session, stdio on /dev/null) waits for the listener (none: the start
// failed, it exits), then answers every sysinfo call until no process of
// the container is left, and exits 0.
int berth_sysinfo_responder_main(int argc, char **argv);

#endif
