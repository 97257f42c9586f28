import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// What the C shim needs to start a container's init.
public struct ContainerLaunch: Sendable {
    public struct BindMount: Sendable, Equatable {
        public var source: String
        public var destination: String
        public var readOnly: Bool
        /// The source is a file (the target is made as an empty file).
        public var isFile: Bool
        /// A tmpfs with these mount options (size=, mode=) rather than a bind mount.
        public var tmpfsOptions: String?
        public init(source: String, destination: String, readOnly: Bool, isFile: Bool = false, tmpfsOptions: String? = nil) {
            self.source = source
            self.destination = destination
            self.readOnly = readOnly
            self.isFile = isFile
            self.tmpfsOptions = tmpfsOptions
        }

        /// A tmpfs of `size` bytes (nil: the kernel's default, half the RAM,
        /// charged to the container's memory cgroup), mode 1777 as /tmp.
        public static func tmpfs(destination: String, size: UInt64?, readOnly: Bool) -> BindMount {
            BindMount(
                source: "tmpfs", destination: destination, readOnly: readOnly,
                tmpfsOptions: "mode=1777" + (size.map { ",size=\($0)" } ?? ""))
        }
    }

    /// An extra device node made in the container's /dev.
    public struct DeviceNode: Sendable, Equatable {
        /// Below /dev: "net/tun".
        public var path: String
        public var isBlock: Bool
        public var major: UInt32
        public var minor: UInt32
        public init(path: String, isBlock: Bool, major: UInt32, minor: UInt32) {
            self.path = path
            self.isBlock = isBlock
            self.major = major
            self.minor = minor
        }
    }

    public var devices: [DeviceNode] = []

    /// The (host) directory the root is mounted on, inside the new mount namespace.
    public var rootfs: String
    /// Overlay lower/upper/work directories, or nil to use `rootfs` as it is.
    public var overlay: (lower: String, upper: String, work: String)?
    /// A private layer in memory: a tmpfs the child mounts here, holding the
    /// overlay's `upper` and `work` and the mount point `root` (which
    /// `overlay` and `rootfs` must name).
    public var volatileDirectory: String?
    public var hostname: String
    public var arguments: [String]
    public var environment: [String]
    public var workingDirectory: String
    public var bindMounts: [BindMount]
    /// Files bound over the container's /proc and /sys once mounted
    /// (LXCFS's): destinations inside, that exist there.
    public var procBinds: [BindMount] = []
    public var capabilities: CapabilitySet
    public var noNewPrivileges: Bool
    /// berth's default seccomp filter (kexec, modules, keyrings, bpf, ... return EPERM).
    public var seccomp: Bool = true
    /// With that filter, the container may create user namespaces of its
    /// own (off: unshare and clone with CLONE_NEWUSER return EPERM, clone3 ENOSYS).
    public var nestedUserNamespaces: Bool = false
    /// IPv6 off inside (when the container has no IPv6 address).
    public var disableIPv6: Bool = false
    /// The most pseudo-terminals its devpts instance hands out (max=; nil: the kernel's).
    public var pseudoTerminalLimit: Int?
    /// RLIMIT_NOFILE of the init, soft and hard (nil: inherited from berth).
    public var openFilesLimit: Int?
    /// A new user namespace with these uid_map and gid_map contents
    /// ("0 100000 65536" lines), written by berth before the child goes on.
    public var idMaps: (uid: String, gid: String)?
    /// How the child enters its cgroup (nil: it stays in berth's).
    public var cgroup: CgroupEntry?
    /// Where the container's stdout and stderr go (appended); stdin is /dev/null.
    public var consoleLog: String
    /// The init's stdout and stderr instead of the console log (the write
    /// ends of its journal relay's FIFOs); the caller keeps and closes them.
    public var output: (stdout: Int32, stderr: Int32)?
    /// A foreground container (berth run): the init gets berth's own stdin,
    /// stdout and stderr instead, and no console log is written.
    public var inheritsStdio = false
    /// The slave side of a pseudo-terminal (berth run -t): the init's stdin,
    /// stdout, stderr and controlling terminal instead.
    public var terminal: Int32?
    /// The container's end of its sysinfo responder's socket
    /// (SysinfoResponder): the child hands sysinfo(2) to it. The caller
    /// keeps and closes it.
    public var sysinfoSocket: Int32?
    /// The child opens a NETLINK_ROUTE socket in its new network namespace
    /// first thing and sends it to berth (`start(withNetlink:)`): berth's
    /// requests inside need no thread of its own to enter the namespace.
    public var netlinkFromChild = false

    public init(
        rootfs: String, overlay: (lower: String, upper: String, work: String)?, hostname: String, arguments: [String],
        environment: [String], workingDirectory: String, bindMounts: [BindMount], capabilities: CapabilitySet,
        noNewPrivileges: Bool, consoleLog: String
    ) {
        self.rootfs = rootfs
        self.overlay = overlay
        self.hostname = hostname
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.bindMounts = bindMounts
        self.capabilities = capabilities
        self.noNewPrivileges = noNewPrivileges
        self.consoleLog = consoleLog
    }

    /// The container's own devpts instance: its ptmx open to all, its
    /// terminals the tty group's; `max=` caps how many it hands out (one
    /// more open of /dev/ptmx fails with ENOSPC).
    public static func devptsOptions(pseudoTerminalLimit: Int?) -> String {
        "newinstance,ptmxmode=0666,mode=0620" + (pseudoTerminalLimit.map { ",max=\($0)" } ?? "")
    }

    /// The `max=` of a devpts line of /proc/PID/mountinfo ("... - devpts
    /// devpts rw,mode=620,ptmxmode=666,max=8"): nil when it has none (the
    /// kernel shows max only below its own ceiling).
    public static func pseudoTerminalLimit(mountinfo: String, mountPoint: String = "/dev/pts") -> Int? {
        pseudoTerminalLimit(MountInfo(mountinfo), mountPoint: mountPoint)
    }

    /// The same, from mountinfo split once (observe shares it with LXCFS's check).
    public static func pseudoTerminalLimit(_ mountInfo: MountInfo, mountPoint: String = "/dev/pts") -> Int? {
        guard let devpts = mountInfo.entries.first(where: { $0.mountPoint == mountPoint && $0.type == "devpts" }) else { return nil }
        for option in devpts.superOptions.utf8.split(separator: UInt8(ascii: ",")) where option.starts(with: "max=".utf8) {
            return Int(String(decoding: option.dropFirst(4), as: UTF8.self))
        }
        return nil
    }
}

/// A container's set-up failed in the child: which step, and errno.
public struct ContainerStartError: Error, CustomStringConvertible, Sendable {
    public var step: String
    public var errno: Int32
    /// What the exec step could not execute (the command's first word).
    public var command: String?

    public init(step: String, errno: Int32, command: String? = nil) {
        self.step = step
        self.errno = errno
        self.command = command
    }

    public var description: String {
        // Quoted with escapes: a command is the user's text.
        let what = command.map { " " + $0.debugDescription } ?? ""
        return "container set-up failed: \(step)\(what): \(String(cString: strerror(errno))) (\(SystemError.name(of: errno)))"
    }
}

extension ContainerLaunch {
    /// Clones the container's init into new namespaces and its cgroup.
    /// `beforeStart` runs in the parent with the child's pid. Meanwhile the
    /// child builds its root (with a user namespace it first waits for its
    /// id maps); it enters its cgroup, leaves the host's tree and execs only
    /// once `beforeStart` returned, so a v1 cgroup may still be made there.
    /// Returns the pid once exec succeeded.
    public func start(beforeStart: (pid_t) throws -> Void) throws -> pid_t {
        try start(withNetlink: { pid, _, _ in try beforeStart(pid) })
    }

    /// `start(beforeStart:)`, `beforeStart` also given the child's netlink
    /// socket in its network namespace (with `netlinkFromChild`), and what
    /// to call once its cgroup is made (`cgroupMade`): without a user
    /// namespace the child then enters it and finishes its own set-up (its
    /// cgroup namespace, the pivot, its limits, filter, capabilities and
    /// session) while `beforeStart` goes on (the network); the go leaves it
    /// only the exec. Not called, the go says both.
    public func start(withNetlink beforeStart: (pid_t, ChildNetlink?, _ cgroupMade: () -> Void) throws -> Void) throws -> pid_t {
        let handshake = try ChildHandshake()
        handshake.stages = idMaps == nil ? 2 : 1
        let stdin = inheritsStdio ? -1 : try Syscall.open("/dev/null", O_RDONLY)
        defer { if stdin >= 0 { Syscall.close(stdin) } }
        let console = inheritsStdio || output != nil ? -1 : try Syscall.open(consoleLog, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
        defer { if console >= 0 { Syscall.close(console) } }

        // Every string the child reads lives in C memory until clone returns.
        var arena = CStringArena()
        defer { arena.free() }
        let argv = arena.array(arguments)
        let envp = arena.array(environment)
        let binds = UnsafeMutablePointer<berth_bind_mount>.allocate(capacity: max(1, bindMounts.count))
        defer { binds.deallocate() }
        for (index, bind) in bindMounts.enumerated() {
            binds[index] = berth_bind_mount(
                source: arena.string(bind.source), destination: arena.string(bind.destination), read_only: bind.readOnly ? 1 : 0,
                is_file: bind.isFile ? 1 : 0, tmpfs_options: bind.tmpfsOptions.flatMap { arena.string($0) })
        }
        let procBindArray = UnsafeMutablePointer<berth_bind_mount>.allocate(capacity: max(1, procBinds.count))
        defer { procBindArray.deallocate() }
        for (index, bind) in procBinds.enumerated() {
            procBindArray[index] = berth_bind_mount(
                source: arena.string(bind.source), destination: arena.string(bind.destination), read_only: 0, is_file: 1,
                tmpfs_options: nil)
        }
        let nodes = UnsafeMutablePointer<berth_device_node>.allocate(capacity: max(1, devices.count))
        defer { nodes.deallocate() }
        for (index, device) in devices.enumerated() {
            nodes[index] = berth_device_node(
                path: arena.string(device.path), is_block: device.isBlock ? 1 : 0, major: device.major, minor: device.minor)
        }
        var config = berth_container_config()
        config.devices = UnsafePointer(nodes)
        config.device_count = Int32(devices.count)
        config.rootfs = arena.string(rootfs)
        if let overlay {
            config.overlay_options = arena.string("lowerdir=\(overlay.lower),upperdir=\(overlay.upper),workdir=\(overlay.work)")
        }
        if let volatileDirectory { config.volatile_directory = arena.string(volatileDirectory) }
        config.hostname = arena.string(hostname)
        config.argv = argv
        config.envp = envp
        config.cwd = arena.string(workingDirectory)
        config.binds = UnsafePointer(binds)
        config.bind_count = Int32(bindMounts.count)
        config.proc_binds = UnsafePointer(procBindArray)
        config.proc_bind_count = Int32(procBinds.count)
        config.capabilities = capabilities.mask
        config.no_new_privs = noNewPrivileges ? 1 : 0
        config.seccomp = seccomp ? 1 : 0
        config.allow_user_namespaces = nestedUserNamespaces ? 1 : 0
        config.disable_ipv6 = disableIPv6 ? 1 : 0
        config.devpts_options = arena.string(Self.devptsOptions(pseudoTerminalLimit: pseudoTerminalLimit))
        config.open_files_limit = UInt64(max(0, openFilesLimit ?? 0))
        config.user_namespace = idMaps == nil ? 0 : 1
        config.stdio = inheritsStdio ? (0, 1, 2) : (stdin, console, console)
        if let output, !inheritsStdio { config.stdio = (stdin, output.stdout, output.stderr) }
        if let terminal {
            config.stdio = (terminal, terminal, terminal)
            config.controlling_tty = 1
        }
        config.sync_fd = handshake.sync.read
        config.error_fd = handshake.report.write
        config.parent_fds = (handshake.sync.write, handshake.report.read)
        config.virtualize_sysinfo = sysinfoSocket == nil ? 0 : 1
        config.sysinfo_socket = sysinfoSocket ?? -1
        config.netlink_to_parent = netlinkFromChild ? 1 : 0

        let entry = try CgroupEntryDescriptors(cgroup)
        // The child shares berth's memory until it execs (berth_container_spawn):
        // what it reads (the arena's strings, the arrays above, the entry's
        // task files) stays until it has exec'd or is gone.
        var spawned: OpaquePointer?
        defer { withExtendedLifetime(entry) { berth_spawned_finish(spawned) } }
        let pid = entry.clone { cgroup in
            config.cgroup = cgroup
            return berth_container_spawn(&config, &spawned)
        }
        if pid < 0 { throw SystemError(call: "clone", errno: errno, subject: rootfs) }
        let maps = idMaps
        _ = try handshake.release(
            pid,
            beforeStart: { pid in
                try entry.joinLate(pid)
                if let maps {
                    // One write each, by berth (privileged): no setgroups "deny" needed.
                    for (file, text) in [("uid_map", maps.uid), ("gid_map", maps.gid)] {
                        let fd = try Syscall.open("/proc/\(pid)/\(file)", O_WRONLY)
                        defer { Syscall.close(fd) }
                        try Syscall.writeOnce(fd, Array(text.utf8), subject: "/proc/\(pid)/\(file)")
                    }
                }
                try beforeStart(pid, netlinkFromChild ? ChildNetlink(channel: handshake.sync.write) : nil) { handshake.cgroupMade() }
            }, waitForExit: false, command: arguments.first)
        return pid
    }
}

/// The netlink socket a cloned child opened in its new network namespace
/// and sent over the handshake's sync socket (ContainerLaunch's
/// `netlinkFromChild`), received at the first ask: by then the child,
/// which sends it first thing, has sent it.
public final class ChildNetlink {
    let channel: Int32
    private var asked = false

    init(channel: Int32) { self.channel = channel }

    /// The socket; nil when the child sent none (it could not open one, or
    /// died first) or it was taken already.
    public func socket() -> NetlinkSocket? {
        guard !asked else { return nil }
        asked = true
        let fd = berth_receive_descriptor(channel)
        return fd >= 0 ? NetlinkSocket(adopting: fd) : nil
    }
}

/// C strings and arrays that stay valid until `free()`.
struct CStringArena {
    private var strings: [UnsafeMutablePointer<CChar>] = []
    private var arrays: [UnsafeMutablePointer<UnsafePointer<CChar>?>] = []

    /// A C copy of `text` (nil only if the allocation failed).
    mutating func string(_ text: String) -> UnsafePointer<CChar>? {
        guard let copy = strdup(text) else { return nil }
        strings.append(copy)
        return UnsafePointer(copy)
    }

    /// A NULL-terminated array of C strings.
    mutating func array(_ texts: [String]) -> UnsafePointer<UnsafePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: texts.count + 1)
        for (index, text) in texts.enumerated() { array[index] = string(text) }
        array[texts.count] = nil
        arrays.append(array)
        return UnsafePointer(array)
    }

    mutating func free() {
        for pointer in strings { Glibc.free(pointer) }
        for array in arrays { array.deallocate() }
        strings.removeAll()
        arrays.removeAll()
    }
}
