#define _GNU_SOURCE
#include "CLinux.h"

#include <pthread.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>
#include <malloc.h>
#include <spawn.h>
#include <sys/resource.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <sys/resource.h>

int berth_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int berth_pidfd_send_signal(int pidfd, int signal) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
}

int berth_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int berth_gethostname(char *buf, size_t len) {
    if (len == 0) {
        errno = EINVAL;
        return -1;
    }
    if (gethostname(buf, len) != 0) return -1;
    buf[len - 1] = '\0';
    return 0;
}

long berth_statfs_type(const char *path) {
    struct statfs buf;
    if (statfs(path, &buf) != 0) return -1;
    return (long)buf.f_type;
}

int berth_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

int berth_background_priority(void) {
    if (setpriority(PRIO_PROCESS, 0, 19) != 0) return -1;
    // IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0) for IOPRIO_WHO_PROCESS, this process.
    return syscall(SYS_ioprio_set, 1, 0, 3 << 13) == 0 ? 0 : -1;
}

short berth_posix_spawn_setsid_flag(void) { return POSIX_SPAWN_SETSID; }

int berth_openpty(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -1;
    char name[128];
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof name) != 0) {
        close(m);
        return -1;
    }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        close(m);
        return -1;
    }
    *master = m;
    *slave = s;
    return 0;
}

int berth_copy_window_size(int from, int to) {
    struct winsize size;
    if (ioctl(from, TIOCGWINSZ, &size) != 0) return -1;
    return ioctl(to, TIOCSWINSZ, &size);
}

int berth_make_raw(int fd, void *saved, unsigned long saved_size) {
    if (saved_size < sizeof(struct termios)) {
        errno = EINVAL;
        return -1;
    }
    struct termios settings;
    if (tcgetattr(fd, &settings) != 0) return -1;
    memcpy(saved, &settings, sizeof settings);
    cfmakeraw(&settings);
    return tcsetattr(fd, TCSANOW, &settings);
}

int berth_restore_terminal(int fd, const void *saved, unsigned long saved_size) {
    if (saved_size < sizeof(struct termios)) {
        errno = EINVAL;
        return -1;
    }
    struct termios settings;
    memcpy(&settings, saved, sizeof settings);
    return tcsetattr(fd, TCSANOW, &settings);
}

int berth_netlink_socket(int protocol) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) return -1;
    // Strict checking: the kernel honours filters in dump requests (an
    // address dump of one link) and rejects malformed ones.
    int on = 1;
    if (protocol == NETLINK_ROUTE) (void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof on);
    struct sockaddr_nl address;
    memset(&address, 0, sizeof address);
    address.nl_family = AF_NETLINK;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

struct netns_call {
    int netns_fd;
    void (*body)(void *);
    void *argument;
    int error;
};

static void *netns_call_thread(void *argument) {
    struct netns_call *call = argument;
    // setns(CLONE_NEWNET) changes only this thread, which then ends: what
    // `body` opens (sockets) stays bound to the namespace.
    if (setns(call->netns_fd, CLONE_NEWNET) != 0) {
        call->error = errno;
        return NULL;
    }
    call->body(call->argument);
    return NULL;
}

int berth_in_netns(int netns_fd, void (*body)(void *), void *argument) {
    struct netns_call call = {netns_fd, body, argument, 0};
    pthread_t thread;
    int code = pthread_create(&thread, NULL, netns_call_thread, &call);
    if (code != 0) {
        errno = code;
        return -1;
    }
    pthread_join(thread, NULL);
    if (call.error != 0) {
        errno = call.error;
        return -1;
    }
    return 0;
}

struct netns_socket_job {
    int protocol;
    int fd;
    int error;
};

static void open_netlink_socket(void *argument) {
    struct netns_socket_job *job = argument;
    job->fd = berth_netlink_socket(job->protocol);
    if (job->fd < 0) job->error = errno;
}

int berth_netlink_socket_in_netns(int netns_fd) { return berth_netlink_protocol_socket_in_netns(netns_fd, 0); }

int berth_netlink_protocol_socket_in_netns(int netns_fd, int protocol) {
    struct netns_socket_job job = {protocol, -1, 0};
    if (berth_in_netns(netns_fd, open_netlink_socket, &job) != 0) return -1;
    if (job.fd < 0) {
        errno = job.error ? job.error : EIO;
        return -1;
    }
    return job.fd;
}

int berth_malloc_trim(void) { return malloc_trim(0); }

int berth_malloc_arena_max(int arenas) { return mallopt(M_ARENA_MAX, arenas); }

#ifndef FSPICK_CLOEXEC
#define FSPICK_CLOEXEC 0x01
#endif
#ifndef FSPICK_EMPTY_PATH
#define FSPICK_EMPTY_PATH 0x08
#endif
#define BERTH_FSCONFIG_SET_STRING 1
#define BERTH_FSCONFIG_CMD_RECONFIGURE 7

int berth_devpts_set_max(int fd, int max) {
    struct statfs filesystem;
    if (fstatfs(fd, &filesystem) != 0) return -1;
    if (filesystem.f_type != 0x1cd1) {  // DEVPTS_SUPER_MAGIC
        errno = EMEDIUMTYPE;
        return -1;
    }
    char value[16];
    snprintf(value, sizeof value, "%d", max);
    int context = (int)syscall(SYS_fspick, fd, "", FSPICK_CLOEXEC | FSPICK_EMPTY_PATH);
    if (context < 0) return -1;
    if (syscall(SYS_fsconfig, context, BERTH_FSCONFIG_SET_STRING, "max", value, 0) != 0 ||
        syscall(SYS_fsconfig, context, BERTH_FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) != 0) {
        int error = errno;
        close(context);
        errno = error;
        return -1;
    }
    close(context);
    return 0;
}

int berth_set_open_files_limit(pid_t pid, uint64_t soft, uint64_t hard) {
    struct rlimit limit = {soft, hard};
    return prlimit(pid, RLIMIT_NOFILE, &limit, NULL);
}

int berth_open_files_limit(pid_t pid, uint64_t *soft, uint64_t *hard) {
    struct rlimit limit;
    if (prlimit(pid, RLIMIT_NOFILE, NULL, &limit) != 0) return -1;
    *soft = limit.rlim_cur;
    *hard = limit.rlim_max;
    return 0;
}

int berth_openat2_in_root(int rootfd, const char *path) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof how);
}

long berth_fd_getxattr(int fd, const char *name, void *value, unsigned long size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return (long)getxattr(path, name, value, size);
}
