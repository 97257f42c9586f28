// escape-probe: tries one way out of a container and prints what happened,
// as one line: "ok" when the call succeeded, else the errno's name (or
// "STEP:ERRNO" for a case of several steps). Built static by EscapeTests
// (cc -static) and bind-mounted read-only into the container, which has
// only busybox. Every attempt is harmless when it succeeds: nothing is
// written outside the container, however far a call gets.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *name_of(int code) {
    switch (code) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EROFS: return "EROFS";
    case ETXTBSY: return "ETXTBSY";
    case ENOSYS: return "ENOSYS";
    case ELOOP: return "ELOOP";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EIO: return "EIO";
    case ENOEXEC: return "ENOEXEC";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case ENOSPC: return "ENOSPC";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: {
        static char buffer[32];
        snprintf(buffer, sizeof buffer, "errno %d", code);
        return buffer;
    }
    }
}

// "ok" for 0 (or more), else the errno's name.
static int report(long result) {
    puts(result >= 0 ? "ok" : name_of(errno));
    return 0;
}

static int report_step(const char *step, long result) {
    if (result >= 0) return 0;
    printf("%s:%s\n", step, name_of(errno));
    return 1;
}

static void *idle(void *unused) { return unused; }

struct clone3_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

// A child in a new namespace: it exits at once, the parent reaps it.
static long clone_and_reap(long pid) {
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid((pid_t)pid, NULL, 0);
    return pid;
}

// mknod of a node, then a read of it: "mknod:EPERM", "open:EPERM", "read:EIO" or "ok".
static int mknod_read(char kind, unsigned major_number, unsigned minor_number) {
    const char *path = "/tmp/escape-node";
    unlink(path);
    if (report_step("mknod", mknod(path, (kind == 'b' ? S_IFBLK : S_IFCHR) | 0600, makedev(major_number, minor_number))))
        return 0;
    int fd = open(path, O_RDONLY);
    if (report_step("open", fd)) return unlink(path), 0;
    char buffer[512];
    if (report_step("read", read(fd, buffer, sizeof buffer))) return unlink(path), 0;
    close(fd);
    unlink(path);
    puts("ok");
    return 0;
}

// Opens every /proc/PID/exe for `seconds` (or until /tmp/stop-scan exists)
// and counts those that are not a file of this container: a host binary a
// hostile process could reopen for writing (runc CVE-2019-5736).
static int exe_scan(int seconds) {
    int own = getpid(), foreign = 0, seen = 0;
    fclose(fopen("/tmp/scan-started", "w"));
    time_t end = time(NULL) + seconds;
    while (time(NULL) < end && access("/tmp/stop-scan", F_OK) != 0) {
        DIR *proc = opendir("/proc");
        if (!proc) break;
        struct dirent *entry;
        while ((entry = readdir(proc))) {
            int pid = atoi(entry->d_name);
            if (pid <= 0 || pid == own) continue;
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            int fd = open(path, O_PATH | O_CLOEXEC);
            if (fd < 0) continue;
            seen++;
            // Its own path, looked up in the container, must be the same file.
            char target[4096];
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            ssize_t length = readlink(path, target, sizeof target - 1);
            struct stat opened, named;
            if (length > 0 && fstat(fd, &opened) == 0) {
                target[length] = '\0';
                if (stat(target, &named) != 0 || named.st_ino != opened.st_ino || named.st_dev != opened.st_dev) {
                    foreign++;
                    fprintf(stderr, "foreign exe: pid %d %s\n", pid, target);
                }
            }
            close(fd);
        }
        closedir(proc);
    }
    printf("%d host binaries opened\n", foreign);
    fprintf(stderr, "opened %d\n", seen);
    return 0;
}

// chroot into a subdirectory, climb with "..", chroot there: a root that
// was only chroot'ed would give way. The host file must stay out of reach.
static int chroot_break(const char *host_file) {
    mkdir("/tmp/jail", 0700);
    if (report_step("chroot", chroot("/tmp/jail"))) return 0;
    for (int i = 0; i < 64; i++) {
        if (chdir("..") != 0) break;
    }
    if (report_step("chroot-dot", chroot("."))) return 0;
    puts(access(host_file, F_OK) == 0 ? "escaped" : "contained");
    return 0;
}

static int write_file(const char *path, int flags) {
    int fd = open(path, O_WRONLY | flags, 0600);
    if (fd < 0) return report(-1);
    long result = write(fd, "1\n", 2);
    close(fd);
    return report(result);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: escape-probe CASE [ARG]\n");
        return 2;
    }
    const char *what = argv[1], *arg = argc > 2 ? argv[2] : "";
    if (!strcmp(what, "pids")) {
        DIR *proc = opendir("/proc");
        struct dirent *entry;
        while (proc && (entry = readdir(proc))) {
            if (atoi(entry->d_name) > 0) printf("%s ", entry->d_name);
        }
        puts("");
        return 0;
    }
    if (!strcmp(what, "unshare-user")) return report(unshare(CLONE_NEWUSER));
    if (!strcmp(what, "clone-user")) return report(clone_and_reap(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)));
    if (!strcmp(what, "clone3-user") || !strcmp(what, "clone3")) {
        struct clone3_args args;
        memset(&args, 0, sizeof args);
        args.flags = !strcmp(what, "clone3") ? 0 : CLONE_NEWUSER;
        args.exit_signal = SIGCHLD;
        return report(clone_and_reap(syscall(SYS_clone3, &args, sizeof args)));
    }
    if (!strcmp(what, "thread")) {
        // glibc tries clone3 first and falls back to clone on ENOSYS.
        pthread_t thread;
        int code = pthread_create(&thread, NULL, idle, NULL);
        if (code == 0) pthread_join(thread, NULL);
        errno = code;
        return report(code == 0 ? 0 : -1);
    }
    if (!strcmp(what, "init-module")) {
        static char image[64];
        return report(syscall(SYS_init_module, image, sizeof image, ""));
    }
    if (!strcmp(what, "finit-module")) {
        int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        return report(syscall(SYS_finit_module, fd, "", 0));
    }
    if (!strcmp(what, "mount-proc")) {
        mkdir("/tmp/proc2", 0700);
        return report(mount("proc", "/tmp/proc2", "proc", 0, NULL));
    }
    if (!strcmp(what, "mount-cgroup")) {
        mkdir("/tmp/cgroup", 0700);
        long v2 = mount("cgroup2", "/tmp/cgroup", "cgroup2", 0, NULL);
        if (v2 == 0) return report(v2);
        return report(mount("cgroup", "/tmp/cgroup", "cgroup", 0, "pids"));
    }
    if (!strcmp(what, "remount")) return report(mount(NULL, arg, NULL, MS_REMOUNT | MS_BIND, NULL));
    if (!strcmp(what, "umount")) return report(umount2(arg, MNT_DETACH));
    if (!strcmp(what, "write")) return write_file(arg, 0);
    if (!strcmp(what, "create")) return write_file(arg, O_CREAT);
    if (!strcmp(what, "open")) return report(open(arg, O_RDONLY));
    if (!strcmp(what, "mknod-read")) {
        char kind = 'c';
        unsigned major_number = 0, minor_number = 0;
        if (sscanf(arg, "%c:%u:%u", &kind, &major_number, &minor_number) != 3) return 2;
        return mknod_read(kind, major_number, minor_number);
    }
    if (!strcmp(what, "syslog")) {
        char buffer[256];
        return report(klogctl(3, buffer, sizeof buffer));
    }
    if (!strcmp(what, "ptrace")) return report(ptrace(PTRACE_ATTACH, (pid_t)atoi(arg), 0, 0));
    if (!strcmp(what, "kill")) return report(kill((pid_t)atoi(arg), 0));
    if (!strcmp(what, "exe-write")) return report(open("/proc/self/exe", O_WRONLY));
    if (!strcmp(what, "exe-scan")) return exe_scan(atoi(arg));
    if (!strcmp(what, "chroot-break")) return chroot_break(arg);
    if (!strcmp(what, "open-by-handle")) {
        char handle[sizeof(unsigned int) * 2 + 8];
        memset(handle, 0, sizeof handle);
        return report(syscall(SYS_open_by_handle_at, AT_FDCWD, handle, O_RDONLY));
    }
    if (!strcmp(what, "project-id")) {
        // Move a file of its own out of its project quota (project 0).
        int fd = open("/tmp/project-probe", O_RDWR | O_CREAT, 0600);
        if (fd < 0) return report_step("open", -1);
        struct fsxattr attributes;
        memset(&attributes, 0, sizeof attributes);
        if (ioctl(fd, FS_IOC_FSGETXATTR, &attributes) != 0) return report_step("get", -1);
        attributes.fsx_projid = 0;
        attributes.fsx_xflags &= ~(unsigned)FS_XFLAG_PROJINHERIT;
        long set = ioctl(fd, FS_IOC_FSSETXATTR, &attributes);
        return set == 0 ? report(set) : report_step("set", set);
    }
    if (!strcmp(what, "bpf")) return report(syscall(SYS_bpf, 0, NULL, 0));
    if (!strcmp(what, "keyctl")) return report(syscall(SYS_keyctl, 0, 0, 0, 0, 0));
#if defined(__x86_64__)
    if (!strcmp(what, "x32")) return report(syscall(0x40000000 | SYS_getpid));
#endif
    fprintf(stderr, "escape-probe: unknown case %s\n", what);
    return 2;
}
