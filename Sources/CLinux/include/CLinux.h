// berth's C shim: what Swift's Glibc module does not expose.
// Each function says why it exists and when it can go.
#ifndef BERTH_CLINUX_H
#define BERTH_CLINUX_H

#include <stdint.h>
#include <sys/types.h>

#include "BerthContainer.h"
#include "BerthDevices.h"
#include "BerthRelay.h"
#include "BerthSignals.h"
#include "BerthSysinfo.h"

// pidfd_open(2) has no glibc wrapper before 2.36's header exposure in Swift's
// module map; goes when Glibc's module exports it.
int berth_pidfd_open(pid_t pid, unsigned int flags);

// pidfd_send_signal(2): a signal to exactly the process the pidfd refers
// to, never to a process that reused its pid.
int berth_pidfd_send_signal(int pidfd, int signal);

// pivot_root(2) has no libc wrapper at all.
int berth_pivot_root(const char *new_root, const char *put_old);

// gethostname(2) wrapper that always NUL-terminates (POSIX leaves truncation
// unspecified). Returns 0 or -1 with errno set.
int berth_gethostname(char *buf, size_t len);

// pipe2(2) is _GNU_SOURCE-only and missing from Swift's Glibc module.
// Goes when the module exports it.
int berth_pipe2(int fds[2], int flags);

// A new pseudo-terminal pair: posix_openpt + grantpt + unlockpt + open of
// the slave, both O_CLOEXEC. Returns 0 or -1 with errno set. Here because
// Glibc's module map lacks ptsname_r and the terminal ioctls.
int berth_openpty(int *master, int *slave);

// Window size of `from` copied to `to` (TIOCGWINSZ/TIOCSWINSZ); -1 if `from` is no terminal.
int berth_copy_window_size(int from, int to);

// Raw mode for the caller's terminal; `saved` receives the old settings
// (a struct termios, `saved_size` bytes) for berth_restore_terminal.
int berth_make_raw(int fd, void *saved, unsigned long saved_size);
int berth_restore_terminal(int fd, const void *saved, unsigned long saved_size);

// socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) bound to a
// kernel-chosen port: struct sockaddr_nl is not in Glibc's module map.
int berth_netlink_socket(int protocol);

// A NETLINK_ROUTE socket that lives in the network namespace `netns_fd`:
// a short-lived C thread joins the namespace (setns of a network namespace
// is per thread), opens the socket and ends; no Swift code runs on it.
int berth_netlink_socket_in_netns(int netns_fd);
// The same for another netlink protocol (NETLINK_SOCK_DIAG counts the
// namespace's sockets: sock_diag answers for the socket's own namespace).
int berth_netlink_protocol_socket_in_netns(int netns_fd, int protocol);
// A NETLINK_ROUTE socket in each of `count` network namespaces, opened by
// the calling thread's helper in one ask (it goes from one namespace to
// the next and home once): fds[i] the socket, else -1 and errors[i] the
// errno. -1 (errno set) when no helper could be made.
int berth_netlink_sockets_in_netns(const int *netns_fds, int *fds, int *errors, int count);

// Runs body(argument) on a short-lived C thread that first joins the network
// namespace `netns_fd` (setns of a network namespace is per thread); no
// Swift code runs on that thread. -1 with errno when it could not join.
int berth_in_netns(int netns_fd, void (*body)(void *), void *argument);

// Writes `value` to /proc/sys/`key` as the network namespace `netns_fd`
// sees it (/proc/sys/net is the opening thread's namespace), on a
// short-lived C thread that joins it. 0, or -1 with errno (ENOENT: the
// namespace has no such key).
int berth_sysctl_in_netns(int netns_fd, const char *key, const char *value);

// Runs nftables commands (one libnftables transaction) inside the network
// namespace `netns_fd`, on a short-lived C thread that joins it. Returns 0
// with nft's output, 1 with its error text (both in *output, to free()), or
// -1 with errno when the thread could not join the namespace.
int berth_nft_run_in_netns(int netns_fd, const char *commands, char **output);


// openat2(2) with O_PATH and RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: `path`
// resolved as if `rootfd` were "/", so neither ".." nor an absolute symlink
// leads out of it. glibc has no wrapper, syscall(2) is variadic (Swift cannot
// call it) and O_PATH is _GNU_SOURCE-only; goes when glibc's module exports
// openat2. Returns the fd or -1 with errno.
int berth_openat2_in_root(int rootfd, const char *path);

// A devpts mount's max= changed live: fspick(2) of `fd` (an O_PATH
// descriptor of the mount's root), fsconfig(2) "max" and reconfigure, as a
// remount does, from outside its mount namespace. Returns 0 or -1 with errno
// (EMEDIUMTYPE: `fd` is not a devpts).
int berth_devpts_set_max(int fd, int max);

// RLIMIT_NOFILE of another process (prlimit(2); 0 for berth itself): set
// soft and hard, or read them. Return 0 or -1 with errno.
int berth_set_open_files_limit(pid_t pid, uint64_t soft, uint64_t hard);
int berth_open_files_limit(pid_t pid, uint64_t *soft, uint64_t *hard);
/// getxattr(2) of an open descriptor, O_PATH ones included (through
/// /proc/self/fd): the value's length, or -1 with errno.
long berth_fd_getxattr(int fd, const char *name, void *value, unsigned long size);

// Disk images (disk.c): a loop device attached to `image` with
// LOOP_CONFIGURE and LO_FLAGS_AUTOCLEAR (its path in `device`); returns its
// fd (close it once the image is mounted) or -1 with errno.
int berth_loop_attach(const char *image, char *device, unsigned long device_size);
// LOOP_SET_CAPACITY: the device takes its backing file's new size.
int berth_loop_set_capacity(int loop);
int berth_mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data);
int berth_umount(const char *target, int flags);
unsigned long berth_mount_flag_nosuid(void);
unsigned long berth_mount_flag_nodev(void);
// EXT4_IOC_RESIZE_FS on a descriptor of the mounted filesystem: grows it
// online to `blocks` of its block size.
int berth_ext4_resize(int fd, uint64_t blocks);
struct berth_filesystem_usage {
    uint64_t block_size, blocks, blocks_free, blocks_available, files, files_free;
};
int berth_statfs(const char *path, struct berth_filesystem_usage *usage);

// Quotas through quotactl_fd(2) on a descriptor of the filesystem (no
// wrapper in glibc; syscall(2) is variadic). `type`: 0 user, 1 group, 2
// project. One quota's hard limits (0: none) and use.
struct berth_quota {
    uint64_t block_hard_kib, space_bytes, inode_hard, inodes;
};
// Q_GETQUOTA. Returns 0, or -1 with errno.
int berth_quota_get(int fd, int type, uint32_t id, struct berth_quota *quota);
// Q_SETQUOTA of the hard limits (soft limits 0). Idempotent.
int berth_quota_set_limits(int fd, int type, uint32_t id, uint64_t block_hard_kib, uint64_t inode_hard);
// Q_XGETQSTATV: whether quotas of `type` are accounted and enforced there.
int berth_quota_state(int fd, int type, int *accounted, int *enforced);
// Q_GETNEXTQUOTA: the quota of the first ID at or after `id` that has one
// (its ID in *found); -1 with ENOENT past the last.
int berth_quota_get_next(int fd, int type, uint32_t id, uint32_t *found, struct berth_quota *quota);
// FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR (<linux/fs.h> is not in Glibc's
// Swift module): a file's project ID; setting it on a directory sets
// PROJINHERIT too, so what is made under it inherits the ID. Idempotent.
int berth_project_get(int fd, uint32_t *id, int *inherits);
int berth_project_set(int fd, uint32_t id);

// FS_TOPDIR_FL on the directory `fd` (chattr +T) unless it has it: ext4's
// Orlov allocator then spreads its subdirectories over the block groups as
// it does top-level ones. 0, or -1 and errno (ENOTTY, EOPNOTSUPP: a
// filesystem without the flag).
int berth_set_top_directory(int fd);

// statfs(2)'s f_type: <sys/vfs.h> is not in Glibc's Swift module map.
// Returns the magic, or -1 with errno set. Goes when the module exports statfs.
long berth_statfs_type(const char *path);

// This thread's effective capability set (capget(2), version 3: both
// 32-bit words). 0 on success, else -1 with errno set.
int berth_effective_capabilities(uint64_t *mask);

// Whether processes `a` and `b` share one address space (kcmp(2),
// KCMP_VM; no libc wrapper, and syscall(2) is variadic): 1 yes, 0 no, -1
// with errno. The tests check with it that an init shares berth's memory
// until it execs (berth_container_spawn), and no longer after.
int berth_shares_memory(pid_t a, pid_t b);

// prctl(PR_GET_DUMPABLE) of this process (prctl(2) is variadic): 0 while
// a child that shares its memory may still be setting up (hardening.md 1).
int berth_dumpable(void);

// This process at nice 19 (setpriority(2)) and in the idle I/O class
// (ioprio_set(2): no libc wrapper, and syscall(2) is variadic, which Swift
// cannot call). The trash emptier runs so, yielding the CPU and the disk to
// everything else. Returns 0, or -1 with errno set (of the first that failed).
int berth_background_priority(void);

// POSIX_SPAWN_SETSID: a GNU extension that Glibc's Swift module map does not
// show (it needs _GNU_SOURCE). Goes when the module exports it.
short berth_posix_spawn_setsid_flag(void);

// malloc_trim(3): gives freed heap back to the kernel. <malloc.h> is not in
// Swift's Glibc module map; the agent calls it after each pass so its idle
// resident memory is what it keeps, not what a pass over 1000 containers
// once used. Goes when the module exports it.
int berth_malloc_trim(void);

// mallopt(M_ARENA_MAX): at most `arenas` malloc arenas. <malloc.h> is not in
// Swift's Glibc module map. The agent's worker threads would each get an
// arena of their own, whose fragments stay resident between passes.
// Returns 1 on success. Goes when the module exports it.
int berth_malloc_arena_max(int arenas);

#endif
