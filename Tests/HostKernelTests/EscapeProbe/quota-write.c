// quota-write: writes KIB KiB to FILE as UID (and its group), as a user
// inside a container would, for the second-level disk quota test
// (resources.disk.userQuota). Prints "ok" or the errno's name of the write
// that failed. Built static: the container has only busybox.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: quota-write UID FILE KIB\n");
        return 2;
    }
    uid_t uid = (uid_t)strtoul(argv[1], NULL, 10);
    long kib = strtol(argv[3], NULL, 10);
    if (uid != 0 && (setgroups(0, NULL) != 0 || setgid(uid) != 0 || setuid(uid) != 0)) {
        printf("setuid:%s\n", strerror(errno));
        return 0;
    }
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        printf("open:%s\n", errno == EDQUOT ? "EDQUOT" : strerror(errno));
        return 0;
    }
    char block[1024];
    memset(block, 'x', sizeof block);
    for (long i = 0; i < kib; i++) {
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block) {
            printf("%s\n", errno == EDQUOT ? "EDQUOT" : errno == ENOSPC ? "ENOSPC" : strerror(errno));
            return 0;
        }
    }
    if (fsync(fd) != 0) {
        printf("fsync:%s\n", errno == EDQUOT ? "EDQUOT" : strerror(errno));
        return 0;
    }
    printf("ok\n");
    return 0;
}
