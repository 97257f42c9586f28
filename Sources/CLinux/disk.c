// Disk images for the containers' private layers (resources.disk): loop
// devices, mounts and online ext4 resize, straight from the kernel's ioctls.
// Here because Glibc's Swift module lacks <linux/loop.h>, mount(2) and the
// ext4 ioctls.
#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/dqblk_xfs.h>
#include <linux/fs.h>
#include <linux/quota.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <unistd.h>

#ifndef EXT4_IOC_RESIZE_FS
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)
#endif

int berth_loop_attach(const char *image, char *device, unsigned long device_size) {
    int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (control < 0) return -1;
    int backing = open(image, O_RDWR | O_CLOEXEC);
    if (backing < 0) {
        int saved = errno;
        close(control);
        errno = saved;
        return -1;
    }
    // Another process may take the free device first: ask again.
    for (int attempt = 0; attempt < 16; attempt++) {
        int number = ioctl(control, LOOP_CTL_GET_FREE);
        if (number < 0) break;
        snprintf(device, device_size, "/dev/loop%d", number);
        int loop = open(device, O_RDWR | O_CLOEXEC);
        if (loop < 0) {
            if (errno == ENOENT) continue;
            break;
        }
        struct loop_config config;
        memset(&config, 0, sizeof config);
        config.fd = (uint32_t)backing;
        // Detached by the kernel once unmounted and closed.
        config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        strncpy((char *)config.info.lo_file_name, image, LO_NAME_SIZE - 1);
        if (ioctl(loop, LOOP_CONFIGURE, &config) == 0) {
            close(backing);
            close(control);
            return loop;
        }
        int saved = errno;
        close(loop);
        if (saved != EBUSY) {
            errno = saved;
            break;
        }
    }
    int saved = errno;
    close(backing);
    close(control);
    errno = saved;
    return -1;
}

int berth_loop_set_capacity(int loop) { return ioctl(loop, LOOP_SET_CAPACITY, 0); }

int berth_mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
    return mount(source, target, type, flags, data);
}

int berth_umount(const char *target, int flags) { return umount2(target, flags); }

unsigned long berth_mount_flag_nosuid(void) { return MS_NOSUID; }
unsigned long berth_mount_flag_nodev(void) { return MS_NODEV; }

int berth_ext4_resize(int fd, uint64_t blocks) { return ioctl(fd, EXT4_IOC_RESIZE_FS, &blocks); }

int berth_statfs(const char *path, struct berth_filesystem_usage *usage) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    usage->block_size = (uint64_t)info.f_bsize;
    usage->blocks = (uint64_t)info.f_blocks;
    usage->blocks_free = (uint64_t)info.f_bfree;
    usage->blocks_available = (uint64_t)info.f_bavail;
    usage->files = (uint64_t)info.f_files;
    usage->files_free = (uint64_t)info.f_ffree;
    return 0;
}

// Quotas (quotactl_fd(2), Linux 5.14: glibc has no wrapper and syscall(2)
// is variadic) and project IDs (FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR, in
// <linux/fs.h>, which Glibc's Swift module lacks).
#ifndef SYS_quotactl_fd
#define SYS_quotactl_fd 443
#endif

// Q_GETNEXTQUOTA's answer is Q_GETQUOTA's with the ID found after it.
static void quota_from_block(const struct if_dqblk *block, struct berth_quota *quota) {
    quota->block_hard_kib = (block->dqb_valid & QIF_BLIMITS) ? block->dqb_bhardlimit : 0;
    quota->space_bytes = block->dqb_curspace;
    quota->inode_hard = (block->dqb_valid & QIF_ILIMITS) ? block->dqb_ihardlimit : 0;
    quota->inodes = block->dqb_curinodes;
}

int berth_quota_get(int fd, int type, uint32_t id, struct berth_quota *quota) {
    struct if_dqblk block;
    memset(&block, 0, sizeof block);
    if (syscall(SYS_quotactl_fd, fd, QCMD(Q_GETQUOTA, type), id, &block) != 0) return -1;
    quota_from_block(&block, quota);
    return 0;
}

int berth_quota_get_next(int fd, int type, uint32_t id, uint32_t *found, struct berth_quota *quota) {
    struct if_nextdqblk next;
    memset(&next, 0, sizeof next);
    if (syscall(SYS_quotactl_fd, fd, QCMD(Q_GETNEXTQUOTA, type), id, &next) != 0) return -1;
    *found = next.dqb_id;
    struct if_dqblk block = {
        .dqb_bhardlimit = next.dqb_bhardlimit, .dqb_curspace = next.dqb_curspace, .dqb_ihardlimit = next.dqb_ihardlimit,
        .dqb_curinodes = next.dqb_curinodes, .dqb_valid = next.dqb_valid,
    };
    quota_from_block(&block, quota);
    return 0;
}

int berth_quota_set_limits(int fd, int type, uint32_t id, uint64_t block_hard_kib, uint64_t inode_hard) {
    struct if_dqblk block;
    memset(&block, 0, sizeof block);
    block.dqb_bhardlimit = block_hard_kib;
    block.dqb_ihardlimit = inode_hard;
    block.dqb_valid = QIF_LIMITS;
    return (int)syscall(SYS_quotactl_fd, fd, QCMD(Q_SETQUOTA, type), id, &block);
}

int berth_quota_state(int fd, int type, int *accounted, int *enforced) {
    struct fs_quota_statv state;
    memset(&state, 0, sizeof state);
    state.qs_version = FS_QSTATV_VERSION1;
    if (syscall(SYS_quotactl_fd, fd, QCMD(Q_XGETQSTATV, type), 0, &state) != 0) return -1;
    unsigned accounting = type == PRJQUOTA ? FS_QUOTA_PDQ_ACCT : type == GRPQUOTA ? FS_QUOTA_GDQ_ACCT : FS_QUOTA_UDQ_ACCT;
    unsigned enforcing = type == PRJQUOTA ? FS_QUOTA_PDQ_ENFD : type == GRPQUOTA ? FS_QUOTA_GDQ_ENFD : FS_QUOTA_UDQ_ENFD;
    *accounted = (state.qs_flags & accounting) != 0;
    *enforced = (state.qs_flags & enforcing) != 0;
    return 0;
}

int berth_project_get(int fd, uint32_t *id, int *inherits) {
    struct fsxattr attributes;
    if (ioctl(fd, FS_IOC_FSGETXATTR, &attributes) != 0) return -1;
    *id = attributes.fsx_projid;
    *inherits = (attributes.fsx_xflags & FS_XFLAG_PROJINHERIT) != 0;
    return 0;
}

int berth_project_set(int fd, uint32_t id) {
    struct fsxattr attributes;
    if (ioctl(fd, FS_IOC_FSGETXATTR, &attributes) != 0) return -1;
    attributes.fsx_projid = id;
    attributes.fsx_xflags |= FS_XFLAG_PROJINHERIT;
    return ioctl(fd, FS_IOC_FSSETXATTR, &attributes);
}

int berth_set_top_directory(int fd) {
    int flags = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return -1;
    if (flags & FS_TOPDIR_FL) return 0;
    flags |= FS_TOPDIR_FL;
    return ioctl(fd, FS_IOC_SETFLAGS, &flags);
}
