#define _GNU_SOURCE
#include "BerthContainer.h"
#include "BerthSignals.h"
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/seccomp.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <grp.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const char *const step_names[] = {
    [BERTH_STEP_SYNC] = "wait for the parent",
    [BERTH_STEP_CGROUP_NS] = "unshare the cgroup namespace",
    [BERTH_STEP_PROPAGATION] = "make / private",
    [BERTH_STEP_ROOT_MOUNT] = "mount the root filesystem",
    [BERTH_STEP_ROOT_OPEN] = "open the root filesystem",
    [BERTH_STEP_PROC] = "mount proc",
    [BERTH_STEP_SYS] = "mount sysfs",
    [BERTH_STEP_DEV] = "mount /dev",
    [BERTH_STEP_DEV_NODES] = "create device nodes",
    [BERTH_STEP_DEVPTS] = "mount devpts",
    [BERTH_STEP_SHM] = "mount /dev/shm",
    [BERTH_STEP_MQUEUE] = "mount /dev/mqueue",
    [BERTH_STEP_BIND] = "bind mount",
    [BERTH_STEP_MASK] = "mask a path",
    [BERTH_STEP_READONLY] = "make a path read-only",
    [BERTH_STEP_HOSTNAME] = "set the hostname",
    [BERTH_STEP_PIVOT] = "pivot_root",
    [BERTH_STEP_NO_NEW_PRIVS] = "set no_new_privs",
    [BERTH_STEP_SECCOMP] = "install the seccomp filter",
    [BERTH_STEP_CAPABILITIES] = "drop capabilities",
    [BERTH_STEP_STDIO] = "set up stdio",
    [BERTH_STEP_CWD] = "change to the working directory",
    [BERTH_STEP_EXEC] = "execute the command",
    [BERTH_STEP_SETNS] = "join the container's namespaces",
    [BERTH_STEP_SYSCTL] = "set a network sysctl",
    [BERTH_STEP_IDENTITY] = "become root of the user namespace",
    [BERTH_STEP_CGROUP] = "join the cgroup",
    [BERTH_STEP_LOOPBACK] = "bring up lo",
    [BERTH_STEP_SESSION] = "start a session",
    [BERTH_STEP_PROC_VIRTUAL] = "bind lxcfs over /proc",
    [BERTH_STEP_SYSINFO] = "hand sysinfo(2) to the responder",
    [BERTH_STEP_RLIMIT] = "set RLIMIT_NOFILE",
};

const char *berth_step_name(int step) {
    if (step <= 0 || step >= (int)(sizeof step_names / sizeof step_names[0]) || !step_names[step]) return "set up";
    return step_names[step];
}

// Paths masked (bind of /dev/null, or an empty read-only tmpfs for
// directories) and made read-only, as hardened runtimes do.
static const char *const masked_paths[] = {
    "proc/acpi", "proc/asound", "proc/kcore", "proc/keys", "proc/latency_stats", "proc/timer_list",
    "proc/timer_stats", "proc/sched_debug", "proc/scsi", "sys/firmware", "sys/devices/virtual/powercap", NULL,
};
static const char *const readonly_paths[] = {
    "proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger", NULL,
};

struct device_node {
    const char *name;
    unsigned int major, minor;
};
static const struct device_node device_nodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}, {NULL, 0, 0},
};

__attribute__((noreturn)) static void fail(const struct berth_container_config *config, int step) {
    int32_t record[2] = {step, errno};
    ssize_t ignored = write(config->error_fd, record, sizeof record);
    (void)ignored;
    _exit(127);
}

// "/proc/self/fd/N" without snprintf (not async-signal-safe).
static void fd_path(char buffer[64], int fd) {
    static const char prefix[] = "/proc/self/fd/";
    char digits[16];
    int count = 0;
    unsigned int value = (unsigned int)fd;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value && count < 15);
    memcpy(buffer, prefix, sizeof prefix - 1);
    int at = (int)sizeof prefix - 1;
    while (count) buffer[at++] = digits[--count];
    buffer[at] = '\0';
}

// openat2 confined to the container root: symlinks may not lead out of it
// (RESOLVE_IN_ROOT), magic links are refused, and with `no_symlinks` no
// symlink is followed at all.
static int open_in_root(int rootfd, const char *path, int flags, int no_symlinks) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (no_symlinks ? RESOLVE_NO_SYMLINKS : 0);
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

// Opens (creating as needed) the directory `path` below the root, component by
// component, never following a symlink: a mount target can't be redirected.
static int ensure_dir(int rootfd, const char *path) {
    int fd = open_in_root(rootfd, path, O_PATH | O_DIRECTORY, 1);
    if (fd >= 0 || errno != ENOENT) return fd;
    char buffer[4096];
    size_t length = strlen(path);
    if (length >= sizeof buffer) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buffer, path, length + 1);
    int parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
    if (parent < 0) return -1;
    char *component = buffer;
    while (*component) {
        char *end = component;
        while (*end && *end != '/') end++;
        int last = (*end == '\0');
        *end = '\0';
        if (*component) {
            if (mkdirat(parent, component, 0755) != 0 && errno != EEXIST) {
                close(parent);
                return -1;
            }
            struct open_how how;
            memset(&how, 0, sizeof how);
            how.flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
            how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
            int child = (int)syscall(SYS_openat2, parent, component, &how, sizeof how);
            close(parent);
            if (child < 0) return -1;
            parent = child;
        }
        if (last) break;
        component = end + 1;
    }
    return parent;
}

static void mount_on_dir(const struct berth_container_config *config, int rootfd, const char *path, const char *source,
                         const char *type, unsigned long flags, const char *data, int step) {
    int fd = ensure_dir(rootfd, path);
    if (fd < 0) fail(config, step);
    char target[64];
    fd_path(target, fd);
    if (mount(source, target, type, flags, data) != 0) fail(config, step);
    close(fd);
}

// Opens (creating an empty file as needed) the file `path` below the root,
// its directory made without following symlinks and the file opened with
// RESOLVE_BENEATH from it: a bind target can't be redirected.
static int ensure_file(int rootfd, const char *path) {
    char directory[4096];
    const char *slash = strrchr(path, '/');
    const char *name = path;
    int dirfd;
    if (slash) {
        size_t length = (size_t)(slash - path);
        if (length >= sizeof directory) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(directory, path, length);
        directory[length] = '\0';
        dirfd = ensure_dir(rootfd, directory);
        name = slash + 1;
    } else {
        dirfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
    }
    if (dirfd < 0) return -1;
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
    how.mode = 0644;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
    close(dirfd);
    return fd;
}

// A read-only remount of a bind mount that keeps the flags it already has:
// in a user namespace, nosuid, nodev, noexec and the atime flags of a mount
// that came from the host are locked, and a remount that drops them fails.
static int remount_read_only(const char *target, unsigned long extra) {
    struct statvfs info;
    if (statvfs(target, &info) != 0) return -1;
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | extra;
    if (info.f_flag & ST_NOSUID) flags |= MS_NOSUID;
    if (info.f_flag & ST_NODEV) flags |= MS_NODEV;
    if (info.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
    if (info.f_flag & ST_NOATIME) flags |= MS_NOATIME;
    if (info.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (info.f_flag & ST_RELATIME) flags |= MS_RELATIME;
    return mount(NULL, target, NULL, flags, NULL);
}

static void bind_file(const struct berth_container_config *config, int rootfd, const char *inside, const char *source,
                      int read_only) {
    int fd = ensure_file(rootfd, inside);
    if (fd < 0) fail(config, BERTH_STEP_BIND);
    char target[64];
    fd_path(target, fd);
    if (mount(source, target, NULL, MS_BIND, NULL) != 0) fail(config, BERTH_STEP_BIND);
    close(fd);
    if (read_only) {
        fd = ensure_file(rootfd, inside);
        if (fd < 0) fail(config, BERTH_STEP_BIND);
        fd_path(target, fd);
        if (remount_read_only(target, 0) != 0) fail(config, BERTH_STEP_BIND);
        close(fd);
    }
}

static void mask_paths(const struct berth_container_config *config, int rootfd) {
    int nullfd = open_in_root(rootfd, "dev/null", O_PATH, 1);
    if (nullfd < 0) fail(config, BERTH_STEP_MASK);
    char null_path[64];
    fd_path(null_path, nullfd);
    for (const char *const *path = masked_paths; *path; path++) {
        int fd = open_in_root(rootfd, *path, O_PATH, 1);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            fail(config, BERTH_STEP_MASK);
        }
        struct stat st;
        if (fstat(fd, &st) != 0) fail(config, BERTH_STEP_MASK);
        char target[64];
        fd_path(target, fd);
        int result = S_ISDIR(st.st_mode) ? mount("tmpfs", target, "tmpfs", MS_RDONLY, "size=0k,nr_inodes=1")
                                         : mount(null_path, target, NULL, MS_BIND, NULL);
        if (result != 0) fail(config, BERTH_STEP_MASK);
        close(fd);
    }
    close(nullfd);
    for (const char *const *path = readonly_paths; *path; path++) {
        int fd = open_in_root(rootfd, *path, O_PATH, 1);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            fail(config, BERTH_STEP_READONLY);
        }
        char target[64];
        fd_path(target, fd);
        if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) != 0) fail(config, BERTH_STEP_READONLY);
        close(fd);
        fd = open_in_root(rootfd, *path, O_PATH, 1);
        if (fd < 0) fail(config, BERTH_STEP_READONLY);
        fd_path(target, fd);
        if (remount_read_only(target, MS_NOSUID | MS_NODEV | MS_NOEXEC) != 0) fail(config, BERTH_STEP_READONLY);
        close(fd);
    }
}

// Binds each file over its counterpart in the container's fresh /proc or
// /sys (read-only sysfs takes a bind mount on a file all the same). The
// target is opened without following any symlink and must already exist.
static void bind_over_proc(const struct berth_container_config *config, int rootfd) {
    for (int i = 0; i < config->proc_bind_count; i++) {
        const struct berth_bind_mount *bind = &config->proc_binds[i];
        const char *inside = bind->destination;
        while (*inside == '/') inside++;
        int fd = open_in_root(rootfd, inside, O_PATH, 1);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            fail(config, BERTH_STEP_PROC_VIRTUAL);
        }
        char target[64];
        fd_path(target, fd);
        if (mount(bind->source, target, NULL, MS_BIND, NULL) != 0) fail(config, BERTH_STEP_PROC_VIRTUAL);
        close(fd);
    }
}

static void make_dev(const struct berth_container_config *config, int rootfd) {
    mount_on_dir(config, rootfd, "dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k",
                 BERTH_STEP_DEV);
    int devfd = open_in_root(rootfd, "dev", O_PATH | O_DIRECTORY, 1);
    if (devfd < 0) fail(config, BERTH_STEP_DEV);
    for (const struct device_node *node = device_nodes; node->name; node++) {
        if (config->user_namespace) {
            // No mknod in a user namespace: the host's node, bind-mounted.
            char inside[64] = "dev/", host[64] = "/dev/";
            size_t length = strlen(node->name);
            memcpy(inside + 4, node->name, length + 1);
            memcpy(host + 5, node->name, length + 1);
            bind_file(config, rootfd, inside, host, 0);
        } else if (mknodat(devfd, node->name, S_IFCHR | 0666, makedev(node->major, node->minor)) != 0) {
            fail(config, BERTH_STEP_DEV_NODES);
        }
    }
    for (int i = 0; i < config->device_count; i++) {
        const struct berth_device_node *node = &config->devices[i];
        // "dev/" + the node's directory, created without following symlinks.
        char directory[4096] = "dev";
        const char *slash = strrchr(node->path, '/');
        const char *name = node->path;
        if (slash) {
            size_t length = (size_t)(slash - node->path);
            if (length + 5 > sizeof directory) fail(config, BERTH_STEP_DEV_NODES);
            directory[3] = '/';
            memcpy(directory + 4, node->path, length);
            directory[4 + length] = '\0';
            name = slash + 1;
        }
        if (config->user_namespace) {
            char inside[4096], host[4096];
            size_t length = strlen(node->path);
            if (length + 6 > sizeof inside) fail(config, BERTH_STEP_DEV_NODES);
            memcpy(inside, "dev/", 4);
            memcpy(inside + 4, node->path, length + 1);
            memcpy(host, "/dev/", 5);
            memcpy(host + 5, node->path, length + 1);
            bind_file(config, rootfd, inside, host, 0);
            continue;
        }
        int dirfd = ensure_dir(rootfd, directory);
        if (dirfd < 0) fail(config, BERTH_STEP_DEV_NODES);
        mode_t type = node->is_block ? S_IFBLK : S_IFCHR;
        if (mknodat(dirfd, name, type | 0660, makedev(node->major, node->minor)) != 0 && errno != EEXIST)
            fail(config, BERTH_STEP_DEV_NODES);
        close(dirfd);
    }
    mount_on_dir(config, rootfd, "dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                 config->devpts_options ? config->devpts_options : "newinstance,ptmxmode=0666,mode=0620",
                 BERTH_STEP_DEVPTS);
    mount_on_dir(config, rootfd, "dev/shm", "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k",
                 BERTH_STEP_SHM);
    mount_on_dir(config, rootfd, "dev/mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                 BERTH_STEP_MQUEUE);
    if (symlinkat("pts/ptmx", devfd, "ptmx") != 0 || symlinkat("/proc/self/fd", devfd, "fd") != 0 ||
        symlinkat("/proc/self/fd/0", devfd, "stdin") != 0 || symlinkat("/proc/self/fd/1", devfd, "stdout") != 0 ||
        symlinkat("/proc/self/fd/2", devfd, "stderr") != 0)
        fail(config, BERTH_STEP_DEV_NODES);
    close(devfd);
}

// The architectures berth builds for, each with its seccomp audit value.
// Another one would need its own numbers and checks: refuse to build, rather
// than ship a filter that refuses every call (or none) there.
#if defined(__x86_64__) && !defined(__ILP32__)
#define BERTH_AUDIT_ARCH AUDIT_ARCH_X86_64
// x32 calls come in through the same entry with bit 30 set: refused whole,
// or their numbers would pass around the list below.
#define BERTH_X32_SYSCALL_BIT 0x40000000u
#elif defined(__aarch64__) && defined(__AARCH64EL__) && !defined(__ILP32__)
#define BERTH_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "berth's seccomp filter knows x86_64 and little-endian aarch64 only: add this architecture's AUDIT_ARCH and syscall checks"
#endif

// System calls a container never needs and that hardened runtimes refuse:
// kernel modules, kexec, keyrings, bpf, handles that escape mount namespaces,
// clocks, swap, accounting, the host's kernel log (syslog: readable by all
// where kernel.dmesg_restrict is 0). They return EPERM. (SYS_ numbers are the
// architecture's own: <sys/syscall.h> of the target.)
static const int denied_syscalls[] = {
#ifdef SYS_kexec_load
    SYS_kexec_load,
#endif
#ifdef SYS_kexec_file_load
    SYS_kexec_file_load,
#endif
#ifdef SYS_iopl
    SYS_iopl,
#endif
#ifdef SYS_ioperm
    SYS_ioperm,
#endif
#ifdef SYS_uselib
    SYS_uselib,
#endif
    SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_open_by_handle_at, SYS_name_to_handle_at,
    SYS_keyctl, SYS_add_key, SYS_request_key, SYS_bpf, SYS_perf_event_open, SYS_reboot, SYS_swapon, SYS_swapoff,
    SYS_syslog, SYS_acct, SYS_settimeofday, SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex, SYS_userfaultfd,
#ifdef SYS_lookup_dcookie
    SYS_lookup_dcookie,
#endif
#ifdef SYS_fsopen
    SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_move_mount, SYS_open_tree,
#endif
};

// The low 32 bits of a 64-bit argument (where CLONE_NEWUSER is); both
// architectures are little-endian.
#define BERTH_ARG_LOW(index) ((unsigned int)(offsetof(struct seccomp_data, args) + (index) * sizeof(uint64_t)))

// The filter: the architecture, the x32 ABI, the denied calls and, unless
// the manifest allows nested user namespaces, unshare and clone with
// CLONE_NEWUSER (EPERM) and clone3 (ENOSYS: its flags are in memory, out
// of the filter's reach; libc then falls back to clone, as under Docker's
// and Podman's default profiles). Returns its length.
enum { denied_count = sizeof denied_syscalls / sizeof denied_syscalls[0], filter_capacity = denied_count + 26 };
_Static_assert(denied_count < 255, "a jump over the denied list must fit in 8 bits");
static int build_seccomp_filter(int allow_user_namespaces, struct sock_filter filter[filter_capacity]) {
    int n = 0;
#define EMIT(instruction) (filter[n++] = (struct sock_filter)instruction)
    // Only the native ABI: another architecture's numbers would bypass the list.
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BERTH_AUDIT_ARCH, 1, 0));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#ifdef BERTH_X32_SYSCALL_BIT
    EMIT(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, BERTH_X32_SYSCALL_BIT, 0, 1));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
#endif
    for (int i = 0; i < denied_count; i++) {
        // Match: jump to the EPERM return after the remaining checks and the ALLOW.
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)denied_syscalls[i], (unsigned char)(denied_count - i), 0));
    }
    EMIT(BPF_STMT(BPF_JMP | BPF_JA, 1));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
    // ioctl FS_IOC_FSSETXATTR: EPERM. Root outside a user namespace could
    // set its files' project ID (to 0) and leave the project quota that is
    // the container's disk quota. Any other ioctl is allowed (and is
    // neither unshare nor clone: no need to look further).
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 4));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, BERTH_ARG_LOW(1)));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned int)FS_IOC_FSSETXATTR, 0, 1));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    if (!allow_user_namespaces) {
        // clone3: ENOSYS. unshare and clone: flags are argument 0 on both
        // architectures; with CLONE_NEWUSER, EPERM.
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 1, 0));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3));
        EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, BERTH_ARG_LOW(0)));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
    }
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
#undef EMIT
    return n;
}

static void install_seccomp(const struct berth_container_config *config, int allow_user_namespaces) {
    struct sock_filter filter[filter_capacity];
    int n = build_seccomp_filter(allow_user_namespaces, filter);
    struct sock_fprog program = {(unsigned short)n, filter};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) fail(config, BERTH_STEP_SECCOMP);
}

// sysinfo(2) (busybox's free and uptime, procps' uptime) reads the host's
// memory and uptime, which LXCFS's files cannot change: a second filter
// hands the call to berth's responder (BerthSysinfo.h), which answers from
// the container's cgroup. Installed after berth's own filter (whose ALLOW
// the notification outranks), while capabilities allow it; the listener
// goes out over `socket` and both close. x32 calls are refused by berth's
// filter. Without a responder (it died) the kernel answers ENOSYS.
static void install_sysinfo_notifier(const struct berth_container_config *config, int socket) {
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BERTH_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_sysinfo, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {(unsigned short)(sizeof filter / sizeof filter[0]), filter};
    int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
    if (listener < 0) fail(config, BERTH_STEP_SYSINFO);
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    char byte = 'L';
    struct iovec iov = {&byte, 1};
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &listener, sizeof listener);
    if (sendmsg(socket, &message, MSG_NOSIGNAL) != 1) fail(config, BERTH_STEP_SYSINFO);
    close(listener);
    close(socket);
}

// The container's numfile (RLIMIT_NOFILE, soft = hard), for its init and
// for what berth exec runs in it; 0 leaves berth's own. Before capabilities
// are dropped: raising the hard limit needs CAP_SYS_RESOURCE.
static void set_open_files_limit(const struct berth_container_config *config, uint64_t limit) {
    if (!limit) return;
    struct rlimit files = {limit, limit};
    if (setrlimit(RLIMIT_NOFILE, &files) != 0) fail(config, BERTH_STEP_RLIMIT);
}

static void drop_capabilities(const struct berth_container_config *config) {
    for (int cap = 0; cap < 64; cap++) {
        if (config->capabilities & (UINT64_C(1) << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            if (errno == EINVAL) break;  // past the kernel's last capability
            fail(config, BERTH_STEP_CAPABILITIES);
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        fail(config, BERTH_STEP_CAPABILITIES);
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    data[0].effective = data[0].permitted = (uint32_t)config->capabilities;
    data[1].effective = data[1].permitted = (uint32_t)(config->capabilities >> 32);
    if (syscall(SYS_capset, &header, data) != 0) fail(config, BERTH_STEP_CAPABILITIES);
}

static void exec_init(const struct berth_container_config *config) {
    const char *program = config->argv[0];
    if (strchr(program, '/')) {
        execve(program, (char *const *)config->argv, (char *const *)config->envp);
        fail(config, BERTH_STEP_EXEC);
    }
    static const char *const search[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL};
    int saved = ENOENT;
    for (const char *const *dir = search; *dir; dir++) {
        char path[4096];
        size_t dir_length = strlen(*dir), name_length = strlen(program);
        if (dir_length + name_length + 2 > sizeof path) continue;
        memcpy(path, *dir, dir_length);
        path[dir_length] = '/';
        memcpy(path + dir_length + 1, program, name_length + 1);
        execve(path, (char *const *)config->argv, (char *const *)config->envp);
        if (errno != ENOENT) saved = errno;
    }
    errno = saved;
    fail(config, BERTH_STEP_EXEC);
}

// The last steps before exec, shared by a container's init and berth exec:
// every descriptor but stdio closes at exec (the error pipe included), the
// working directory, default signal dispositions and an empty mask.
__attribute__((noreturn)) static void finish_and_exec(const struct berth_container_config *config, const char *cwd) {
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail(config, BERTH_STEP_STDIO);
    if (chdir(cwd ? cwd : "/") != 0) fail(config, BERTH_STEP_CWD);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &action, NULL);
    }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);
    exec_init(config);
    _exit(127);
}

// The first steps of every cloned child. Until exec it is a copy of berth:
// nobody may ptrace it or open its /proc/PID/exe (runc CVE-2019-5736); exec
// resets that. It closes the parent's ends of the pipes, so a berth that dies
// reads as EOF at the go. 0, or -1 with errno.
static int detach_from_parent(const int parent_fds[2]) {
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return -1;
    close(parent_fds[0]);
    close(parent_fds[1]);
    return 0;
}

// The child's NETLINK_ROUTE socket in its new network namespace, sent to
// the parent over the sync socket (netlink_to_parent): the parent then has
// its socket inside without a thread of its own entering the namespace.
// Only system calls (async-signal-safe). The byte goes alone when no socket
// could be opened: the parent opens one from a thread instead.
static void send_netlink_socket(int sync_fd) {
    int fd = berth_netlink_socket(0);
    char byte = 'N';
    struct iovec iov = {&byte, 1};
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &fd, sizeof fd);
    }
    (void)sendmsg(sync_fd, &message, MSG_NOSIGNAL);
    if (fd >= 0) close(fd);
}

int berth_receive_descriptor(int socket) {
    char byte;
    struct iovec iov = {&byte, 1};
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr message = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t got;
    do {
        got = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) return -1;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS && header->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            memcpy(&fd, CMSG_DATA(header), sizeof fd);
            return fd;
        }
    }
    return -1;
}

// Waits for the parent's go (one byte; EOF if berth died). 0, or -1.
static int wait_for_go(int sync_fd) {
    char go;
    int result = read(sync_fd, &go, 1) == 1 ? 0 : -1;
    close(sync_fd);
    return result;
}

// Waits for the parent's first byte, the cgroup made (EOF if berth died),
// keeping the socket for the go. 0, or -1.
static int wait_for_cgroup(int sync_fd) {
    char ready;
    ssize_t got;
    do {
        got = read(sync_fd, &ready, 1);
    } while (got < 0 && errno == EINTR);
    return got == 1 ? 0 : -1;
}

// In a user namespace whose maps the parent has written: become its root
// (the host ids the map gives container root), keeping full capabilities
// there. System calls, not glibc's wrappers: in a child that shares
// berth's memory (berth_container_spawn) glibc sees berth's threads and
// would broadcast the change to them. 0, or -1 with errno.
static int become_namespace_root(void) {
    return syscall(SYS_setresgid, 0, 0, 0) == 0 && syscall(SYS_setgroups, 0, NULL) == 0 && syscall(SYS_setresuid, 0, 0, 0) == 0
               ? 0
               : -1;
}

// cgroup v1: the child moves itself into each hierarchy. Writing "0" to
// `tasks` moves the calling thread only, so the kernel skips the threadgroup
// lock (and its RCU grace period) that moving a whole process by pid takes;
// the child has one thread, so that is the whole process. It opens the files
// itself (still in the host's mount tree): berth may make the cgroup while
// the child builds its root. 0, or -1 with errno.
static int enter_cgroup(const struct berth_cgroup_entry *cgroup) {
    for (int i = 0; i < cgroup->task_file_count; i++) {
        int fd = open(cgroup->task_files[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        ssize_t written = write(fd, "0", 1);
        close(fd);
        if (written != 1) return -1;
    }
    return 0;
}

// IPv6 off in the new namespace, through its own proc (`procfd`, the
// root of a proc mount; /proc/sys/net is the calling task's namespace).
// `default` alone turns it off for every interface that comes in later,
// the veth peers berth makes there, and the kernel sets it without the
// RTNL lock. `all` also turns it off for those in already, but the kernel
// takes the lock for it as these sysctls do: a trylock retried for as
// long as another holds it (another start's namespace or veth), spinning
// a CPU. 0, or -1 with errno.
static int ipv6_off(int procfd, int all) {
    static const char *const keys[] = {"sys/net/ipv6/conf/all/disable_ipv6", "sys/net/ipv6/conf/default/disable_ipv6"};
    for (int i = all ? 0 : 1; i < 2; i++) {
        int fd = open_in_root(procfd, keys[i], O_WRONLY, 1);
        if (fd < 0) {
            if (errno == ENOENT) return 0;  // a kernel without IPv6
            return -1;
        }
        ssize_t written = write(fd, "1", 1);
        close(fd);
        if (written != 1) return -1;
    }
    return 0;
}

// The container's proc, made before its root is mounted and not yet
// attached anywhere (the new mount API): a mount fd, or -1 with errno.
// Nothing propagates from a detached mount; it is moved onto the root's
// /proc later, so the container has the one proc mount as before.
static int detached_proc(void) {
    int context = fsopen("proc", FSOPEN_CLOEXEC);
    if (context < 0) return -1;
    int mount_fd = -1;
    // "proc" as its source, as mount(2)'s: /proc/PID/mounts reads the same.
    if (fsconfig(context, FSCONFIG_SET_STRING, "source", "proc", 0) == 0 &&
        fsconfig(context, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
        mount_fd = fsmount(context, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    int saved = errno;
    close(context);
    errno = saved;
    return mount_fd;
}

// A new network namespace starts with lo down; the child brings it up
// itself, and with `drop_ipv6` removes the ::1 lo gets then (lo made its
// IPv6 state with the namespace, before any `default` write): a namespace
// started without an IPv6 address has none (with `all` written too, as in
// a user namespace, it is gone already). One netlink datagram with
// both requests, each waiting for the RTNL lock asleep (lo's own
// disable_ipv6, or `all`, would be a sysctl write that retries its
// trylock, spinning, while another start holds the lock). lo is index 1
// in every namespace. 0, or -1 with errno.
static int loopback_up(int drop_ipv6) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct {
        struct nlmsghdr header;
        struct ifinfomsg link;
        struct nlmsghdr drop_header;
        struct ifaddrmsg address;
        struct rtattr local;
        unsigned char bytes[16];
    } request;
    memset(&request, 0, sizeof request);
    request.header.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    request.header.nlmsg_type = RTM_NEWLINK;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    request.header.nlmsg_seq = 1;
    request.link.ifi_family = AF_UNSPEC;
    request.link.ifi_index = 1;
    request.link.ifi_flags = IFF_UP;
    request.link.ifi_change = IFF_UP;
    request.drop_header.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg) + RTA_LENGTH(16));
    request.drop_header.nlmsg_type = RTM_DELADDR;
    request.drop_header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    request.drop_header.nlmsg_seq = 2;
    request.address.ifa_family = AF_INET6;
    request.address.ifa_prefixlen = 128;
    request.address.ifa_index = 1;
    request.local.rta_len = RTA_LENGTH(16);
    request.local.rta_type = IFA_LOCAL;
    request.bytes[15] = 1;  // ::1
    size_t length = drop_ipv6 ? sizeof request : request.header.nlmsg_len;
    int expected = drop_ipv6 ? 2 : 1;
    int result = send(fd, &request, length, 0) == (ssize_t)length ? 0 : -1;
    while (result == 0 && expected > 0) {
        union {
            struct nlmsghdr header;
            char bytes[512];
        } answer;
        ssize_t got;
        do {
            got = recv(fd, &answer, sizeof answer, 0);
        } while (got < 0 && errno == EINTR);
        if (got <= 0) {
            if (got == 0) errno = EPROTO;
            result = -1;
            break;
        }
        int left = (int)got;
        for (struct nlmsghdr *header = &answer.header; NLMSG_OK(header, left); header = NLMSG_NEXT(header, left)) {
            if (header->nlmsg_type != NLMSG_ERROR || header->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) continue;
            expected--;
            int code = -((const struct nlmsgerr *)NLMSG_DATA(header))->error;
            // ::1 gone already, or no IPv6 in this kernel: nothing to remove.
            int tolerated = header->nlmsg_seq == 2 && (code == EADDRNOTAVAIL || code == EAFNOSUPPORT || code == EOPNOTSUPP);
            if (code != 0 && !tolerated) {
                errno = code;
                result = -1;
            }
        }
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return result;
}

// The tmpfs of a private layer in memory, with the overlay's upper and work
// directories and the root's mount point. 0, or -1 with errno.
static int make_volatile_layer(const char *directory) {
    if (mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) return -1;
    int fd = open(directory, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int result = mkdirat(fd, "upper", 0755) == 0 && mkdirat(fd, "work", 0755) == 0 && mkdirat(fd, "root", 0755) == 0 ? 0 : -1;
    close(fd);
    return result;
}

// struct clone_args of clone3(2) (linux/sched.h clashes with <sched.h>).
struct berth_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

// fork-like clone with `flags` (namespaces); on cgroup v2 straight into the
// entry's directory. The child's pid in the parent, 0 in the child.
static pid_t clone_child(unsigned long flags, const struct berth_cgroup_entry *cgroup) {
    if (cgroup->directory_fd >= 0) {
        struct berth_clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = flags | CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = (uint64_t)cgroup->directory_fd;
        return (pid_t)syscall(SYS_clone3, &args, sizeof args);
    }
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
}

// The overlay does the container's writes to its upper layer with the
// credentials of whoever mounted it. Mounted without CAP_SYS_RESOURCE in
// the effective set, so that disk quotas (ext4's project and user quotas,
// which that capability overrides) and ext4's reserved blocks hold for the
// container; the capability comes back once it is mounted.
static int mount_overlay(const struct berth_container_config *config) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    uint32_t effective = data[0].effective;
    data[0].effective &= ~(UINT32_C(1) << CAP_SYS_RESOURCE);
    if (syscall(SYS_capset, &header, data) != 0) return -1;
    int result = mount("overlay", config->rootfs, "overlay", 0, config->overlay_options);
    int saved = errno;
    data[0].effective = effective;
    if (syscall(SYS_capset, &header, data) != 0) return -1;
    errno = saved;
    return result;
}

__attribute__((noreturn)) static void child_main(const struct berth_container_config *config) {
    if (detach_from_parent(config->parent_fds) != 0) fail(config, BERTH_STEP_SYNC);
    // The parent makes the veths once it has the child's netlink socket.
    // Without a user namespace the child first turns IPv6 off for what
    // comes in (`default`, through its proc made early), then sends it.
    // In a user namespace it needs its maps (written by the parent) before
    // it may mount anything: it sends its socket and waits first, and the
    // veths may come in before IPv6 is off (`all` then, later). Without
    // one it builds its root while the parent makes its cgroup and
    // network, and waits before it enters the cgroup and leaves the host.
    int early_proc = -1;
    int ipv6_all = config->user_namespace;
    if (config->netlink_to_parent && config->disable_ipv6 && !config->user_namespace) {
        early_proc = detached_proc();
        if (early_proc < 0) {
            ipv6_all = 1;  // no new mount API: as with a user namespace
        } else if (ipv6_off(early_proc, 0) != 0) {
            fail(config, BERTH_STEP_SYSCTL);
        }
    }
    if (config->netlink_to_parent) send_netlink_socket(config->sync_fd);
    if (config->user_namespace) {
        if (wait_for_go(config->sync_fd) != 0) fail(config, BERTH_STEP_SYNC);
        if (enter_cgroup(&config->cgroup) != 0) fail(config, BERTH_STEP_CGROUP);
        if (become_namespace_root() != 0) fail(config, BERTH_STEP_IDENTITY);
    }
    if (loopback_up(config->disable_ipv6) != 0) fail(config, BERTH_STEP_LOOPBACK);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(config, BERTH_STEP_PROPAGATION);

    umask(0);
    if (config->volatile_directory && make_volatile_layer(config->volatile_directory) != 0) fail(config, BERTH_STEP_ROOT_MOUNT);
    int root_ok = config->overlay_options ? mount_overlay(config)
                                          : mount(config->rootfs, config->rootfs, NULL, MS_BIND | MS_REC, NULL);
    if (root_ok != 0) fail(config, BERTH_STEP_ROOT_MOUNT);
    int rootfd = open(config->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) fail(config, BERTH_STEP_ROOT_OPEN);

    if (early_proc >= 0) {
        int fd = ensure_dir(rootfd, "proc");
        if (fd < 0 || move_mount(early_proc, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
            fail(config, BERTH_STEP_PROC);
        close(fd);
        close(early_proc);
    } else {
        mount_on_dir(config, rootfd, "proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, BERTH_STEP_PROC);
        // Before /proc/sys turns read-only.
        if (config->disable_ipv6) {
            int procfd = open_in_root(rootfd, "proc", O_PATH | O_DIRECTORY, 1);
            if (procfd < 0 || ipv6_off(procfd, ipv6_all) != 0) fail(config, BERTH_STEP_SYSCTL);
            close(procfd);
        }
    }
    mount_on_dir(config, rootfd, "sys", "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                 BERTH_STEP_SYS);
    bind_over_proc(config, rootfd);
    make_dev(config, rootfd);
    for (int i = 0; i < config->bind_count; i++) {
        const struct berth_bind_mount *bind = &config->binds[i];
        const char *inside = bind->destination;
        while (*inside == '/') inside++;
        if (bind->tmpfs_options) {
            unsigned long flags = MS_NOSUID | MS_NODEV | (bind->read_only ? MS_RDONLY : 0);
            mount_on_dir(config, rootfd, inside, "tmpfs", "tmpfs", flags, bind->tmpfs_options, BERTH_STEP_BIND);
            continue;
        }
        if (bind->is_file) {
            bind_file(config, rootfd, inside, bind->source, bind->read_only);
            continue;
        }
        mount_on_dir(config, rootfd, inside, bind->source, NULL, MS_BIND | MS_REC, NULL, BERTH_STEP_BIND);
        if (bind->read_only) {
            int fd = ensure_dir(rootfd, inside);
            if (fd < 0) fail(config, BERTH_STEP_BIND);
            char target[64];
            fd_path(target, fd);
            if (remount_read_only(target, 0) != 0) fail(config, BERTH_STEP_BIND);
            close(fd);
        }
    }
    mask_paths(config, rootfd);
    umask(022);

    if (config->hostname && sethostname(config->hostname, strlen(config->hostname)) != 0)
        fail(config, BERTH_STEP_HOSTNAME);

    // Without a user namespace the parent says twice: once its cgroup is
    // made (the child enters it and finishes what is its own: its cgroup
    // namespace, the pivot, limits, filter, capabilities, session, while
    // the parent makes its network), then the go, when its network is
    // ready: only the exec is left. With one it went at the single go.
    if (!config->user_namespace) {
        if (wait_for_cgroup(config->sync_fd) != 0) fail(config, BERTH_STEP_SYNC);
        if (enter_cgroup(&config->cgroup) != 0) fail(config, BERTH_STEP_CGROUP);
    }
    // Once in its cgroup: that cgroup is the root of its cgroup namespace.
    if (unshare(CLONE_NEWCGROUP) != 0) fail(config, BERTH_STEP_CGROUP_NS);

    // pivot_root(".", "."): the old root stacks under the new one and is
    // detached at once; nothing of the host stays reachable.
    if (fchdir(rootfd) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 || umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
        fail(config, BERTH_STEP_PIVOT);
    close(rootfd);

    set_open_files_limit(config, config->open_files_limit);
    if (config->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(config, BERTH_STEP_NO_NEW_PRIVS);
    // Before dropping capabilities: without no_new_privs, installing a filter needs CAP_SYS_ADMIN.
    if (config->seccomp) install_seccomp(config, config->allow_user_namespaces);
    if (config->virtualize_sysinfo) install_sysinfo_notifier(config, config->sysinfo_socket);
    drop_capabilities(config);

    // Its own session, as runc's and LXC's inits: no terminal's job control
    // reaches it. A Ctrl-C at the terminal of a `berth run` goes to berth
    // alone, which passes it on once.
    if (setsid() < 0) fail(config, BERTH_STEP_SESSION);
    for (int fd = 0; fd < 3; fd++) {
        // Already in place for a foreground container (berth's own stdio).
        if (config->stdio[fd] != fd && dup2(config->stdio[fd], fd) != fd) fail(config, BERTH_STEP_STDIO);
    }
    if (config->controlling_tty && ioctl(0, TIOCSCTTY, 0) != 0) fail(config, BERTH_STEP_STDIO);
    if (!config->user_namespace && wait_for_go(config->sync_fd) != 0) fail(config, BERTH_STEP_SYNC);
    finish_and_exec(config, config->cwd);
}

static unsigned long container_clone_flags(const struct berth_container_config *config) {
    unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
    if (config->user_namespace) flags |= CLONE_NEWUSER;
    return flags;
}

pid_t berth_container_clone(const struct berth_container_config *config) {
    pid_t pid = clone_child(container_clone_flags(config), &config->cgroup);
    if (pid == 0) child_main(config);
    return pid;
}

// ---- an init cloned with berth's memory shared until it execs ---------------
//
// A fork-like clone copies berth's page tables, every page either side
// writes until the exec is copied on the fault, and the exec tears the copy
// down again: about a tenth of a container's start, and more the larger
// berth has grown (the agent). Here the child shares berth's memory
// (CLONE_VM) on a stack of its own, as posix_spawn's child does. CLONE_VFORK
// holds the thread that cloned it until the child has exec'd or exited, so
// that thread is one of its own, made for this clone: its thread-local
// storage (errno, malloc's cache) is the child's alone meanwhile, and the
// rest of berth goes on (cgroup, network, the go). The child runs only the
// C above, system calls on its own stack; what it reads (the config, which
// it gets a copy of, and the strings and arrays it points to) stays valid
// until berth_spawned_finish, which waits for the exec.

struct berth_spawned {
    struct berth_container_config config;
    unsigned long flags;
    pthread_t thread;
    int thread_started;
    void *stack;
    size_t stack_size;
    // An eventfd written once the child runs (by the child), and once clone3
    // failed or returned (by the thread).
    int started;
    // CLONE_PARENT_SETTID: the child's pid, written before it runs.
    pid_t pid;
    // The thread's clone3 failed with this errno (0: it did not).
    int error;
};

enum { spawn_stack_size = 1 << 20, spawn_guard_size = 1 << 12 };

#if defined(__x86_64__)
// clone3 with a new stack: the child starts on it with no frame to return
// to, so it calls `entry(argument)` from here and exits with its result
// (entry never returns: child_main execs or _exits). The kernel's return,
// or -errno.
static long clone3_calling(struct berth_clone_args *args, int (*entry)(void *), void *argument) {
    long result;
    register int (*function)(void *) __asm__("r12") = entry;
    register void *data __asm__("r13") = argument;
    __asm__ volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "xor %%ebp, %%ebp\n\t"
        "mov %%r13, %%rdi\n\t"
        "call *%%r12\n\t"
        "mov %%eax, %%edi\n\t"
        "mov %[exit], %%eax\n\t"
        "syscall\n\t"
        "hlt\n\t"
        "1:\n\t"
        : "=a"(result)
        : "0"((long)SYS_clone3), "D"(args), "S"(sizeof *args), "r"(function), "r"(data), [exit] "i"(SYS_exit)
        : "rcx", "r11", "memory");
    return result;
}

static int spawned_child_main(void *argument) {
    struct berth_spawned *spawned = argument;
    uint64_t one = 1;
    ssize_t ignored = write(spawned->started, &one, sizeof one);
    (void)ignored;
    child_main(&spawned->config);
}

static void *spawn_thread(void *argument) {
    struct berth_spawned *spawned = argument;
    // The child starts with every signal blocked (berth's handlers are in
    // the memory it shares); finish_and_exec unblocks them with default
    // dispositions.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    struct berth_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = spawned->flags | CLONE_VM | CLONE_VFORK | CLONE_PARENT_SETTID;
    args.parent_tid = (uint64_t)(uintptr_t)&spawned->pid;
    args.exit_signal = SIGCHLD;
    args.stack = (uint64_t)(uintptr_t)spawned->stack;
    args.stack_size = spawned->stack_size;
    if (spawned->config.cgroup.directory_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)spawned->config.cgroup.directory_fd;
    }
    long result = clone3_calling(&args, spawned_child_main, spawned);
    if (result < 0) __atomic_store_n(&spawned->error, (int)-result, __ATOMIC_RELEASE);
    // Once clone3 failed, or returned (the child exec'd or is gone, maybe
    // killed before it said it runs): the caller waits no longer.
    uint64_t one = 1;
    ssize_t ignored = write(spawned->started, &one, sizeof one);
    (void)ignored;
    return NULL;
}
#endif

void berth_spawned_finish(struct berth_spawned *spawned) {
    if (!spawned) return;
    if (spawned->thread_started) pthread_join(spawned->thread, NULL);
    if (spawned->stack) munmap((char *)spawned->stack - spawn_guard_size, spawned->stack_size + spawn_guard_size);
    if (spawned->started >= 0) close(spawned->started);
    free(spawned);
}

pid_t berth_container_spawn(const struct berth_container_config *config, struct berth_spawned **out) {
    *out = NULL;
#if defined(__x86_64__)
    struct berth_spawned *spawned = calloc(1, sizeof *spawned);
    if (!spawned) return berth_container_clone(config);
    spawned->config = *config;
    spawned->flags = container_clone_flags(config);
    spawned->started = eventfd(0, EFD_CLOEXEC);
    void *mapping = mmap(NULL, spawn_stack_size + spawn_guard_size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (mapping != MAP_FAILED) {
        spawned->stack = (char *)mapping + spawn_guard_size;
        spawned->stack_size = spawn_stack_size;
        // A guard page below it: an overflow faults instead of writing into berth.
        (void)mprotect(mapping, spawn_guard_size, PROT_NONE);
    }
    // Hardening (set-up helpers are non-dumpable until exec): the child's
    // memory is berth's, so berth is made non-dumpable, before the child
    // exists (and stays so: another start may be under way).
    if (spawned->started < 0 || !spawned->stack || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 ||
        pthread_create(&spawned->thread, NULL, spawn_thread, spawned) != 0) {
        berth_spawned_finish(spawned);
        return berth_container_clone(config);
    }
    spawned->thread_started = 1;
    uint64_t value;
    while (read(spawned->started, &value, sizeof value) < 0 && errno == EINTR) {
    }
    int error = __atomic_load_n(&spawned->error, __ATOMIC_ACQUIRE);
    if (error) {
        berth_spawned_finish(spawned);
        // No clone3 at all: the fork-like clone. CLONE_INTO_CGROUP refused:
        // the caller clones again without it.
        if (error == ENOSYS && config->cgroup.directory_fd < 0) return berth_container_clone(config);
        errno = error;
        return -1;
    }
    *out = spawned;
    return __atomic_load_n(&spawned->pid, __ATOMIC_ACQUIRE);
#else
    return berth_container_clone(config);
#endif
}

// ---- berth exec -------------------------------------------------------------

static const int namespace_types[7] = {CLONE_NEWUSER, CLONE_NEWIPC,    CLONE_NEWUTS, CLONE_NEWNET,
                                       CLONE_NEWCGROUP, CLONE_NEWPID, CLONE_NEWNS};

__attribute__((noreturn)) static void exec_fail(const struct berth_exec_config *config, int step) {
    int32_t record[2] = {step, errno};
    ssize_t ignored = write(config->error_fd, record, sizeof record);
    (void)ignored;
    _exit(127);
}

// The joining child passes the signals berth passes it on to the command.
static volatile pid_t exec_command_pid = 0;

static void forward_to_command(int signal) {
    int saved = errno;
    if (exec_command_pid > 0) kill(exec_command_pid, signal);
    errno = saved;
}

// Before anything else (until then berth's own handlers, inherited, would
// run): the signals berth passes on are forwarded, once the command runs.
static int forward_signals(void) {
    static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    return berth_set_handlers(forwarded, (int)(sizeof forwarded / sizeof forwarded[0]), forward_to_command, NULL);
}

__attribute__((noreturn)) static void exec_child(const struct berth_exec_config *config) {
    if (forward_signals() != 0) exec_fail(config, BERTH_STEP_SESSION);
    if (detach_from_parent(config->parent_fds) != 0 || wait_for_go(config->sync_fd) != 0) exec_fail(config, BERTH_STEP_SYNC);
    // Its own session (the command's too): a terminal's Ctrl-C reaches
    // berth alone, which passes it on once, through this process.
    if (setsid() < 0) exec_fail(config, BERTH_STEP_SESSION);
    if (enter_cgroup(&config->cgroup) != 0) exec_fail(config, BERTH_STEP_CGROUP);
    for (int i = 0; i < 7; i++) {
        if (config->namespace_fds[i] < 0) continue;
        // setns(mnt) also moves root and cwd to the container's root.
        if (setns(config->namespace_fds[i], namespace_types[i]) != 0) exec_fail(config, BERTH_STEP_SETNS);
    }
    // In the container's user namespace: its root, not the host's.
    if (config->namespace_fds[0] >= 0 && become_namespace_root() != 0) exec_fail(config, BERTH_STEP_IDENTITY);
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) exec_fail(config, BERTH_STEP_EXEC);
    if (pid > 0) {
        // The joining child: wait for the command, passing signals on, and
        // mirror its end.
        exec_command_pid = pid;
        close(config->error_fd);
        if (config->virtualize_sysinfo) close(config->sysinfo_socket);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) _exit(127);
        }
        if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
        _exit(128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
    }
    // The command, inside the pid namespace.
    if (config->tty_fd >= 0) {
        // Its own session with the terminal as controlling tty, so job control and ^C work.
        if (setsid() < 0 || ioctl(config->tty_fd, TIOCSCTTY, 0) != 0) exec_fail(config, BERTH_STEP_STDIO);
        for (int fd = 0; fd < 3; fd++) {
            if (dup2(config->tty_fd, fd) != fd) exec_fail(config, BERTH_STEP_STDIO);
        }
    }
    struct berth_container_config shared;
    memset(&shared, 0, sizeof shared);
    shared.argv = config->argv;
    shared.envp = config->envp;
    shared.capabilities = config->capabilities;
    shared.error_fd = config->error_fd;
    set_open_files_limit(&shared, config->open_files_limit);
    if (config->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(&shared, BERTH_STEP_NO_NEW_PRIVS);
    if (config->seccomp) install_seccomp(&shared, config->allow_user_namespaces);
    if (config->virtualize_sysinfo) install_sysinfo_notifier(&shared, config->sysinfo_socket);
    drop_capabilities(&shared);
    finish_and_exec(&shared, config->cwd);
}

pid_t berth_container_exec(const struct berth_exec_config *config) {
    pid_t pid = clone_child(0, &config->cgroup);
    if (pid == 0) exec_child(config);
    return pid;
}
