#define _GNU_SOURCE
#include "CLinux.h"

#include <linux/capability.h>
#include <pthread.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sched.h>
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

int berth_effective_capabilities(uint64_t *mask) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    *mask = ((uint64_t)data[1].effective << 32) | data[0].effective;
    return 0;
}

int berth_shares_memory(pid_t a, pid_t b) {
    long order = syscall(SYS_kcmp, a, b, 1 /* KCMP_VM */, 0, 0);
    return order < 0 ? -1 : order == 0;
}

int berth_dumpable(void) { return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); }

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

struct netns_sysctl {
    const char *key;
    const char *value;
    int error;
};

static void write_sysctl(void *argument) {
    struct netns_sysctl *job = argument;
    int procfd = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (procfd < 0) {
        job->error = errno;
        return;
    }
    int fd = openat(procfd, job->key, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    job->error = fd < 0 ? errno : 0;
    close(procfd);
    if (fd < 0) return;
    size_t length = strlen(job->value);
    ssize_t written = write(fd, job->value, length);
    if (written < 0) {
        job->error = errno;
    } else if ((size_t)written != length) {
        job->error = EIO;
    }
    close(fd);
}

int berth_sysctl_in_netns(int netns_fd, const char *key, const char *value) {
    struct netns_sysctl job = {key, value, 0};
    if (berth_in_netns(netns_fd, write_sysctl, &job) != 0) return -1;
    if (job.error != 0) {
        errno = job.error;
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

// A thread per socket (its clone, stack and exit, one per container
// observed) was 8% of a no-op plan's CPU at 300 containers (berth-bench
// scale). Each thread that asks for sockets has one helper thread instead,
// made on its first ask: it enters the namespace, opens the socket and
// goes back to the namespace it started in before it takes the next. A
// helper that cannot go back ends (it never opens anything outside the
// namespace it was asked for); a caller's next ask makes a new one. It
// ends with the caller (a thread-specific key's destructor joins it).
struct netns_helper {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int home_fd;  // the helper's own network namespace
    enum { HELPER_IDLE, HELPER_ASKED, HELPER_DONE, HELPER_EXIT, HELPER_ENDED } state;
    // One socket per namespace asked for, in order.
    const int *netns_fds;
    struct netns_socket_job *jobs;
    int count;
};

static pthread_key_t netns_helper_key;
static pthread_once_t netns_helper_once = PTHREAD_ONCE_INIT;

static void *netns_helper_main(void *argument) {
    struct netns_helper *helper = argument;
    pthread_mutex_lock(&helper->lock);
    for (;;) {
        while (helper->state != HELPER_ASKED && helper->state != HELPER_EXIT) {
            pthread_cond_wait(&helper->cond, &helper->lock);
        }
        if (helper->state == HELPER_EXIT) break;
        // From one namespace straight to the next, home once at the end.
        // A namespace it cannot enter gets no socket (it is still in the
        // one before, or home): that job keeps the error.
        int away = 0;
        for (int i = 0; i < helper->count; i++) {
            struct netns_socket_job *job = &helper->jobs[i];
            if (setns(helper->netns_fds[i], CLONE_NEWNET) != 0) {
                job->fd = -1;
                job->error = errno;
                continue;
            }
            away = 1;
            open_netlink_socket(job);
        }
        int home = !away || setns(helper->home_fd, CLONE_NEWNET) == 0;
        helper->state = home ? HELPER_DONE : HELPER_ENDED;
        pthread_cond_broadcast(&helper->cond);
        if (!home) break;
    }
    pthread_mutex_unlock(&helper->lock);
    return NULL;
}

static void netns_helper_free(struct netns_helper *helper) {
    pthread_mutex_lock(&helper->lock);
    if (helper->state != HELPER_ENDED) helper->state = HELPER_EXIT;
    pthread_cond_broadcast(&helper->cond);
    pthread_mutex_unlock(&helper->lock);
    pthread_join(helper->thread, NULL);
    close(helper->home_fd);
    pthread_cond_destroy(&helper->cond);
    pthread_mutex_destroy(&helper->lock);
    free(helper);
}

static void netns_helper_destructor(void *value) {
    if (value) netns_helper_free(value);
}

static void netns_helper_key_create(void) { (void)pthread_key_create(&netns_helper_key, netns_helper_destructor); }

// The calling thread's helper, made on first use; NULL (errno set) when none can be made.
static struct netns_helper *netns_helper(void) {
    if (pthread_once(&netns_helper_once, netns_helper_key_create) != 0) {
        errno = EAGAIN;
        return NULL;
    }
    struct netns_helper *helper = pthread_getspecific(netns_helper_key);
    if (helper) return helper;
    helper = calloc(1, sizeof *helper);
    if (!helper) return NULL;
    helper->home_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (helper->home_fd < 0) {
        free(helper);
        return NULL;
    }
    pthread_mutex_init(&helper->lock, NULL);
    pthread_cond_init(&helper->cond, NULL);
    helper->state = HELPER_IDLE;
    // Made with every signal blocked (it outlives the ask: a signal for
    // the process is never delivered on it).
    sigset_t all, mask;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &mask);
    int code = pthread_create(&helper->thread, NULL, netns_helper_main, helper);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    if (code != 0) {
        close(helper->home_fd);
        pthread_cond_destroy(&helper->cond);
        pthread_mutex_destroy(&helper->lock);
        free(helper);
        errno = code;
        return NULL;
    }
    code = pthread_setspecific(netns_helper_key, helper);
    if (code != 0) {
        netns_helper_free(helper);
        errno = code;
        return NULL;
    }
    return helper;
}

// The calling thread's helper opens a socket in each of `count`
// namespaces, one ask for all of them (a container observed costs no
// hand-off of its own: berth-bench scale, no-op plan and drift).
static int netns_helper_sockets(const int *netns_fds, struct netns_socket_job *jobs, int count) {
    struct netns_helper *helper = netns_helper();
    if (!helper) return -1;
    pthread_mutex_lock(&helper->lock);
    helper->netns_fds = netns_fds;
    helper->jobs = jobs;
    helper->count = count;
    helper->state = HELPER_ASKED;
    pthread_cond_broadcast(&helper->cond);
    while (helper->state == HELPER_ASKED) pthread_cond_wait(&helper->cond, &helper->lock);
    int ended = helper->state == HELPER_ENDED;
    if (!ended) helper->state = HELPER_IDLE;
    pthread_mutex_unlock(&helper->lock);
    if (ended) {
        // It could not go back: it ended; the next ask makes a new one.
        (void)pthread_setspecific(netns_helper_key, NULL);
        netns_helper_free(helper);
    }
    return 0;
}

int berth_netlink_sockets_in_netns(const int *netns_fds, int *fds, int *errors, int count) {
    if (count <= 0) return 0;
    struct netns_socket_job *jobs = calloc((size_t)count, sizeof *jobs);
    if (!jobs) return -1;
    for (int i = 0; i < count; i++) jobs[i] = (struct netns_socket_job){0, -1, 0};
    if (netns_helper_sockets(netns_fds, jobs, count) != 0) {
        int saved = errno;
        free(jobs);
        errno = saved;
        return -1;
    }
    for (int i = 0; i < count; i++) {
        fds[i] = jobs[i].fd;
        errors[i] = jobs[i].fd < 0 ? (jobs[i].error ? jobs[i].error : EIO) : 0;
    }
    free(jobs);
    return 0;
}

int berth_netlink_protocol_socket_in_netns(int netns_fd, int protocol) {
    struct netns_socket_job job = {protocol, -1, 0};
    if (netns_helper_sockets(&netns_fd, &job, 1) != 0) return -1;
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
