// Container creation between clone and exec. This runs in the child of a
// multi-threaded process, so it is C and does only async-signal-safe work:
// raw system calls on memory the parent prepared, no malloc, no locks.
// Failures are reported over a CLOEXEC pipe as {step, errno} and end in _exit.
#ifndef BERTH_CONTAINER_H
#define BERTH_CONTAINER_H

#include <stdint.h>
#include <sys/types.h>

struct berth_bind_mount {
    const char *source;       // host path (unused for a tmpfs)
    const char *destination;  // path inside the container, absolute
    int read_only;
    int is_file;  // the source is a file: the target is created as an empty file
    // Not NULL: a tmpfs with these options (size=, mode=) instead of a bind mount.
    const char *tmpfs_options;
};

// An extra device node from the manifest, created in the container's /dev.
struct berth_device_node {
    const char *path;  // below /dev, e.g. "net/tun"
    int is_block;
    unsigned int major, minor;
};

// How a cloned child gets into its cgroup without berth migrating it: a
// migration by another process takes a lock that waits for an RCU grace
// period (about 12 ms on these machines).
struct berth_cgroup_entry {
    // cgroup v2: the directory to clone the child straight into (clone3 with
    // CLONE_INTO_CGROUP), or -1.
    int directory_fd;
    // cgroup v1: every hierarchy's `tasks` file. The child, single-threaded,
    // opens each and writes "0" (itself): a thread that moves only itself
    // takes no global lock.
    const char *const *task_files;
    int task_file_count;
};

struct berth_container_config {
    // The directory the root is mounted on (a host path in the new mount namespace).
    const char *rootfs;
    // "lowerdir=...,upperdir=...,workdir=..." for an overlay root, or NULL to bind `rootfs` itself.
    const char *overlay_options;
    // A private layer in memory (berth run): a tmpfs mounted here, in the new
    // mount namespace only, holding the overlay's `upper` and `work` and the
    // mount point `root` (the options and `rootfs` name those). It goes with
    // the namespace: nothing to remove. NULL: the private layer is on disk.
    const char *volatile_directory;
    const char *hostname;
    const char *const *argv;  // argv[0]: absolute, or searched in the standard PATH inside
    const char *const *envp;
    const char *cwd;          // absolute, inside the container
    const struct berth_bind_mount *binds;
    int bind_count;
    // Files bound over the container's own /proc and /sys once they are
    // mounted (LXCFS's meminfo, cpuinfo, ...: a /proc sized to the
    // container). Each destination must exist there; one that does not is
    // skipped (sys/devices/system/cpu/online on a kernel without it).
    const struct berth_bind_mount *proc_binds;
    int proc_bind_count;
    const struct berth_device_node *devices;
    int device_count;
    // Capabilities kept in the bounding, permitted and effective sets (bit n = capability n).
    uint64_t capabilities;
    int no_new_privs;
    // Install berth's default seccomp filter (dangerous calls return EPERM).
    int seccomp;
    // With that filter: let the container create user namespaces of its
    // own (unshare/clone with CLONE_NEWUSER, clone3). Off: EPERM, and
    // ENOSYS for clone3.
    int allow_user_namespaces;
    // A new user namespace: the parent writes its uid and gid maps before
    // it lets the child go; the child then becomes its root (setresuid 0)
    // and bind-mounts device nodes (mknod is not allowed there).
    int user_namespace;
    // Turn IPv6 off in the container's network namespace (no IPv6 address
    // given: neighbour discovery on a shared bridge costs much at scale).
    int disable_ipv6;
    // Options of the container's own devpts instance on /dev/pts (with
    // "max=N": spec.resources.numpty), or NULL for berth's defaults.
    const char *devpts_options;
    // RLIMIT_NOFILE of the init, soft and hard (spec.resources.numfile); 0: inherited.
    uint64_t open_files_limit;
    // Descriptors that become 0, 1, 2 in the container.
    int stdio[3];
    // stdin is a terminal (berth run -t: a pseudo-terminal berth relays)
    // that becomes the init's controlling terminal.
    int controlling_tty;
    // The child reads one byte from sync_fd (a socket; the parent writes its
    // id maps, makes a v1 cgroup and sets up its network first): with a user
    // namespace before it starts, without one once its root is built.
    int sync_fd;
    // The child writes {int32 step, int32 errno} here on failure; EOF means exec succeeded.
    int error_fd;
    // The parent's ends of those pipes: the child closes them first, so a
    // berth that dies (even by SIGKILL) reads as EOF and the child exits.
    int parent_fds[2];
    struct berth_cgroup_entry cgroup;
    // With virtualize_sysinfo set, the child installs a seccomp filter that
    // hands sysinfo(2) to a supervisor (SECCOMP_RET_USER_NOTIF) and sends
    // the filter's listener over sysinfo_socket (SCM_RIGHTS) to berth's
    // sysinfo responder (BerthSysinfo.h), then closes the socket.
    int virtualize_sysinfo;
    int sysinfo_socket;
    // With netlink_to_parent set, the child's first step: a NETLINK_ROUTE
    // socket opened in its new network namespace, sent to the parent over
    // sync_fd (one byte 'N', the socket as SCM_RIGHTS; the byte alone when
    // it could not open one), then closed.
    int netlink_to_parent;
};

// The descriptor a child sent over `socket` (SCM_RIGHTS, close-on-exec):
// -1 when the child sent its byte without one or closed the socket first.
int berth_receive_descriptor(int socket);

// Steps reported on failure (berth_step_name gives their text).
enum berth_step {
    BERTH_STEP_SYNC = 1,
    BERTH_STEP_CGROUP_NS,
    BERTH_STEP_PROPAGATION,
    BERTH_STEP_ROOT_MOUNT,
    BERTH_STEP_ROOT_OPEN,
    BERTH_STEP_PROC,
    BERTH_STEP_SYS,
    BERTH_STEP_DEV,
    BERTH_STEP_DEV_NODES,
    BERTH_STEP_DEVPTS,
    BERTH_STEP_SHM,
    BERTH_STEP_MQUEUE,
    BERTH_STEP_BIND,
    BERTH_STEP_MASK,
    BERTH_STEP_READONLY,
    BERTH_STEP_HOSTNAME,
    BERTH_STEP_PIVOT,
    BERTH_STEP_NO_NEW_PRIVS,
    BERTH_STEP_SECCOMP,
    BERTH_STEP_CAPABILITIES,
    BERTH_STEP_STDIO,
    BERTH_STEP_CWD,
    BERTH_STEP_EXEC,
    BERTH_STEP_SETNS,
    BERTH_STEP_SYSCTL,
    BERTH_STEP_IDENTITY,
    BERTH_STEP_CGROUP,
    BERTH_STEP_LOOPBACK,
    BERTH_STEP_SESSION,
    BERTH_STEP_PROC_VIRTUAL,
    BERTH_STEP_SYSINFO,
    BERTH_STEP_RLIMIT,
};

const char *berth_step_name(int step);

// clone(2)s the container's init into new pid, mount, uts, ipc and net
// namespaces and its cgroup (a cgroup namespace follows once it is in it). Returns
// the child's pid in the caller's namespace, or -1 with errno set. The child
// never returns.
pid_t berth_container_clone(const struct berth_container_config *config);

// berth_container_clone, with the child sharing berth's memory until it
// execs (CLONE_VM, cloned from a thread of its own, which CLONE_VFORK holds
// meanwhile): no copy of berth's page tables, no copy-on-write faults, no
// teardown at the exec. The config is copied; what it points to must stay
// valid until berth_spawned_finish, which the caller calls once the child
// has exec'd or exited (or was killed and reaped), whatever happened. The
// pid, or -1 with errno (then `*spawned` is NULL). Falls back to the
// fork-like clone where clone3 or the thread is not there.
struct berth_spawned;
pid_t berth_container_spawn(const struct berth_container_config *config, struct berth_spawned **spawned);
// Waits for the spawning thread (the child exec'd or exited) and frees
// what berth_container_spawn made. NULL is a no-op.
void berth_spawned_finish(struct berth_spawned *spawned);

#endif

#ifndef BERTH_EXEC_H
#define BERTH_EXEC_H
// Running a command inside a running container (berth exec, berth enter):
// the child joins the container's namespaces with setns (so it is C, in a
// fresh single-threaded child), forks once more so the command is inside the
// pid namespace, and exits with the command's status.
struct berth_exec_config {
    // Namespace descriptors of the container's init, opened by the parent:
    // user, ipc, uts, net, cgroup, pid, mnt (in that order; -1 to skip; user
    // only when the container has its own).
    int namespace_fds[7];
    const char *const *argv;
    const char *const *envp;
    const char *cwd;
    uint64_t capabilities;
    int no_new_privs;
    int seccomp;
    int allow_user_namespaces;
    int sync_fd;
    int error_fd;
    // As in berth_container_config.
    int parent_fds[2];
    // A terminal's slave side for stdin, stdout and stderr (and as the
    // controlling terminal of a new session), or -1 to pass berth's own.
    int tty_fd;
    // The container's cgroup, entered before the namespaces are joined.
    struct berth_cgroup_entry cgroup;
    // As in berth_container_config: the container's RLIMIT_NOFILE (0: berth's).
    uint64_t open_files_limit;
    // As in berth_container_config: the command's sysinfo(2) answered by a
    // responder of its own.
    int virtualize_sysinfo;
    int sysinfo_socket;
};

// Returns the pid of the joining child; its exit status is the command's
// (128 + signal when the command was killed). -1 with errno on failure.
pid_t berth_container_exec(const struct berth_exec_config *config);
#endif
