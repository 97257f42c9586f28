#define _GNU_SOURCE
#include "CLinux.h"

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

int berth_pidfd_open(pid_t pid, unsigned int flags) {
    return (int)syscall(SYS_pidfd_open, pid, flags);
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

int berth_netlink_socket_in_netns(int netns_fd) {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) != 0) return -1;
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) {
        int saved = errno;
        close(pair[0]);
        close(pair[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        // Child: async-signal-safe calls only.
        int code = 0;
        int fd = -1;
        if (setns(netns_fd, CLONE_NEWNET) != 0 || (fd = berth_netlink_socket(0)) < 0) code = errno ? errno : EIO;
        char data = (char)code;
        struct iovec iov = {&data, 1};
        union {
            char buffer[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        memset(&control, 0, sizeof control);
        struct msghdr message;
        memset(&message, 0, sizeof message);
        message.msg_iov = &iov;
        message.msg_iovlen = 1;
        if (fd >= 0) {
            message.msg_control = control.buffer;
            message.msg_controllen = sizeof control.buffer;
            struct cmsghdr *header = CMSG_FIRSTHDR(&message);
            header->cmsg_level = SOL_SOCKET;
            header->cmsg_type = SCM_RIGHTS;
            header->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(header), &fd, sizeof fd);
        }
        _exit(sendmsg(pair[1], &message, 0) == 1 ? 0 : 1);
    }
    close(pair[1]);
    char data = 0;
    struct iovec iov = {&data, 1};
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof control.buffer;
    ssize_t received = recvmsg(pair[0], &message, MSG_CMSG_CLOEXEC);
    int saved = errno;
    close(pair[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (received != 1) {
        errno = received < 0 ? saved : EIO;
        return -1;
    }
    if (data != 0) {
        errno = data;
        return -1;
    }
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    if (!header || header->cmsg_type != SCM_RIGHTS) {
        errno = EIO;
        return -1;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(header), sizeof fd);
    return fd;
}

int berth_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }

int berth_malloc_trim(void) { return malloc_trim(0); }
