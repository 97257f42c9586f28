// cgroup v2 has no devices.allow file: a BPF_CGROUP_DEVICE program decides.
// berth assembles one from its allow-list (as runc and crun do) and attaches
// it to the container's cgroup. Plain C: the bpf(2) attribute unions and the
// instruction encoding are not expressible in Swift without this.
#ifndef BERTH_DEVICES_H
#define BERTH_DEVICES_H

#include <stddef.h>

struct berth_device_rule {
    int is_block;           // 1 block, 0 char
    unsigned int major;
    int minor;              // -1: every minor
    unsigned int access;    // bit 0 mknod, bit 1 read, bit 2 write (BPF_DEVCG_ACC_*)
};

// Loads an allow-list program; everything else is denied. Returns the program
// fd (O_CLOEXEC) or -1 with errno set; the verifier's log goes to `log`.
int berth_device_program_load(const struct berth_device_rule *rules, int count, char *log, size_t log_size);

// Attaches `program_fd` to the cgroup directory `cgroup_fd`, replacing the
// program berth attached before (there is at most one).
int berth_device_program_attach(int program_fd, int cgroup_fd);

#endif
