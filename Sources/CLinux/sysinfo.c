// The sysinfo(2) responder (BerthSysinfo.h says why it is a process, and in C).
#define _GNU_SOURCE
#include "BerthSysinfo.h"
#include "BerthRelay.h"
#include "BerthContainer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

void berth_sysinfo_fill(struct sysinfo *out, const struct sysinfo *host, const struct berth_sysinfo_values *values) {
    *out = *host;
    uint64_t unit = host->mem_unit ? host->mem_unit : 1;
    uint64_t host_ram = (uint64_t)host->totalram * unit;
    uint64_t host_swap = (uint64_t)host->totalswap * unit;
    uint64_t ram = min_u64(values->memory_limit, host_ram);
    uint64_t swap = min_u64(values->swap_limit, host_swap);
    out->mem_unit = 1;
    out->totalram = (unsigned long)ram;
    out->freeram = (unsigned long)(values->memory_usage < ram ? ram - values->memory_usage : 0);
    out->sharedram = 0;
    out->bufferram = 0;
    out->totalswap = (unsigned long)swap;
    out->freeswap = (unsigned long)(values->swap_usage < swap ? swap - values->swap_usage : 0);
    out->totalhigh = 0;
    out->freehigh = 0;
    out->procs = (unsigned short)min_u64(values->tasks, 0xffff);
    out->uptime = (long)(values->uptime > 0 ? values->uptime : 0);
}

// A cgroup file's number: "max" is UINT64_MAX; -1 when unreadable.
static int read_number(const char *dir, const char *file, uint64_t *value) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char text[64];
    ssize_t length = read(fd, text, sizeof text - 1);
    int saved = errno;
    close(fd);
    if (length <= 0) {
        errno = length < 0 ? saved : EINVAL;
        return -1;
    }
    text[length] = '\0';
    if (strncmp(text, "max", 3) == 0) {
        *value = UINT64_MAX;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long parsed = strtoull(text, &end, 10);
    if (errno != 0 || end == text) {
        errno = EINVAL;
        return -1;
    }
    *value = (uint64_t)parsed;
    return 0;
}

int berth_sysinfo_read(struct berth_sysinfo_values *values, const char *memory_dir, const char *pids_dir, int v1) {
    memset(values, 0, sizeof *values);
    if (v1) {
        if (read_number(memory_dir, "memory.limit_in_bytes", &values->memory_limit) != 0 ||
            read_number(memory_dir, "memory.usage_in_bytes", &values->memory_usage) != 0)
            return -1;
        // v1 counts memory and swap together (memsw), when swap accounting is on.
        uint64_t both_limit = 0, both_usage = 0;
        if (read_number(memory_dir, "memory.memsw.limit_in_bytes", &both_limit) == 0 &&
            read_number(memory_dir, "memory.memsw.usage_in_bytes", &both_usage) == 0) {
            values->swap_limit = both_limit >= values->memory_limit ? both_limit - values->memory_limit : 0;
            values->swap_usage = both_usage >= values->memory_usage ? both_usage - values->memory_usage : 0;
        } else {
            values->swap_limit = UINT64_MAX;
        }
        // v1 reports "no limit" as a huge page-aligned number.
        if (values->memory_limit >= (UINT64_C(1) << 62)) values->memory_limit = UINT64_MAX;
        if (values->swap_limit >= (UINT64_C(1) << 62)) values->swap_limit = UINT64_MAX;
    } else {
        if (read_number(memory_dir, "memory.max", &values->memory_limit) != 0 ||
            read_number(memory_dir, "memory.current", &values->memory_usage) != 0)
            return -1;
        if (read_number(memory_dir, "memory.swap.max", &values->swap_limit) != 0) values->swap_limit = UINT64_MAX;
        if (read_number(memory_dir, "memory.swap.current", &values->swap_usage) != 0) values->swap_usage = 0;
    }
    if (read_number(pids_dir, "pids.current", &values->tasks) != 0) values->tasks = 0;
    return 0;
}

static int fail(const char *what, const char *subject, int error) { return berth_helper_fail(what, subject, error); }

struct responder {
    const char *memory_dir;
    const char *pids_dir;
    int v1;
    int64_t started_ns;
};

static int64_t boottime_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_BOOTTIME, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

// One notification: the answer written into the caller's buffer (its
// argument 0), then the call completed with 0, or an errno.
static void answer(const struct responder *responder, int listener, struct seccomp_notif *request,
                   struct seccomp_notif_resp *response) {
    memset(response, 0, sizeof *response);
    response->id = request->id;
    struct berth_sysinfo_values values;
    struct sysinfo host, result;
    if (sysinfo(&host) != 0 || berth_sysinfo_read(&values, responder->memory_dir, responder->pids_dir, responder->v1) != 0) {
        response->error = -ENOSYS;
    } else {
        values.uptime = (boottime_ns() - responder->started_ns) / 1000000000;
        berth_sysinfo_fill(&result, &host, &values);
        struct iovec local = {&result, sizeof result};
        struct iovec remote = {(void *)(uintptr_t)request->data.args[0], sizeof result};
        ssize_t written = process_vm_writev((pid_t)request->pid, &local, 1, &remote, 1, 0);
        response->error = written == (ssize_t)sizeof result ? 0 : -EFAULT;
    }
    // The caller may have died and its pid been reused meanwhile: the
    // memory written was its only if the notification is still live.
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &request->id) != 0) return;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, response);
}

static void serve(const struct responder *responder, int listener) {
    struct seccomp_notif_sizes sizes;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return;
    // The kernel's structures may be larger than these headers' (newer
    // kernels): buffers of its sizes.
    size_t request_size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
    size_t response_size = sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp) ? sizes.seccomp_notif_resp
                                                                                         : sizeof(struct seccomp_notif_resp);
    struct seccomp_notif *request = calloc(1, request_size);
    struct seccomp_notif_resp *response = calloc(1, response_size);
    if (!request || !response) return;
    for (;;) {
        struct pollfd entry = {listener, POLLIN, 0};
        int ready = poll(&entry, 1, -1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            return;
        }
        // POLLHUP: no task of the filter is left (the container ended).
        if (entry.revents & (POLLHUP | POLLERR | POLLNVAL)) return;
        memset(request, 0, request_size);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, request) != 0) {
            // ENOENT: the caller went away between poll and here.
            if (errno == EINTR || errno == ENOENT) continue;
            return;
        }
        answer(responder, listener, request, response);
    }
}

int berth_sysinfo_responder_main(int argc, char **argv) {
    static struct responder responder;
    int socket = -1;
    int have_start = 0;
    for (int i = 2; i < argc; i++) {
        const char *argument = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argument, "--socket-fd") == 0 && value) {
            socket = (int)strtol(value, NULL, 10);
            i++;
        } else if (strcmp(argument, "--memory") == 0 && value) {
            responder.memory_dir = value;
            i++;
        } else if (strcmp(argument, "--pids") == 0 && value) {
            responder.pids_dir = value;
            i++;
        } else if (strcmp(argument, "--started-ns") == 0 && value) {
            responder.started_ns = strtoll(value, NULL, 10);
            have_start = 1;
            i++;
        } else if (strcmp(argument, "--v1") == 0) {
            responder.v1 = 1;
        } else {
            return fail("argument", argument, 0);
        }
    }
    if (socket < 3 || !responder.memory_dir || !responder.pids_dir || !have_start) {
        return fail("usage:", "sysinfo-responder --socket-fd N --memory DIR --pids DIR --started-ns NS [--v1]", 0);
    }
    if (fcntl(socket, F_GETFD) < 0) return fail("socket", argv[0], errno);
    // A single-threaded process (berth's main called here first): fork is safe.
    pid_t child = fork();
    if (child < 0) return fail("fork", "", errno);
    if (child > 0) return 0;
    berth_helper_detach();
    // The listener, sent by the container's child; -1 when the socket
    // closed without one (the start failed before it).
    int listener = berth_receive_descriptor(socket);
    close(socket);
    if (listener >= 0) serve(&responder, listener);
    _exit(0);
}
