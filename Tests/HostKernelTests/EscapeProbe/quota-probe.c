// quota-probe: what the kernel answers container root that sets a user
// quota on its own root filesystem (resources.disk.userQuota, issue 13's
// second level). Prints "ok" or the errno's name. Built static: the
// container has only busybox.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/quota.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif

static const char *name(int error) {
    switch (error) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ESRCH: return "ESRCH";
    case ENOTBLK: return "ENOTBLK";
    case ENOENT: return "ENOENT";
    default: return strerror(error);
    }
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/";
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        printf("open:%s\n", name(errno));
        return 0;
    }
    struct if_dqblk block;
    memset(&block, 0, sizeof block);
    block.dqb_bhardlimit = 1024;
    block.dqb_valid = QIF_BLIMITS;
    // User 1000's quota, as setquota -u 1000 0 1024 0 0 / would set it.
    if (syscall(SYS_quotactl_fd, fd, QCMD(Q_SETQUOTA, USRQUOTA), 1000, &block) == 0) {
        printf("ok\n");
    } else {
        printf("%s\n", name(errno));
    }
    return 0;
}
