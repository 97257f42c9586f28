import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A command run inside a running container: every namespace of its init is
/// joined (in C, in a fresh child), the same capabilities, no_new_privs and
/// seccomp apply, and stdin, stdout and stderr are berth's own.
public struct ContainerExec: Sendable {
    public var initPID: pid_t
    public var arguments: [String]
    public var environment: [String]
    public var workingDirectory: String
    public var capabilities: CapabilitySet
    public var noNewPrivileges: Bool
    public var seccomp: Bool
    /// As the init's: user namespaces of its own allowed under the filter.
    public var nestedUserNamespaces: Bool = false
    /// Give the command a new pseudo-terminal and relay it to berth's stdio.
    public var tty: Bool = false
    /// The container's cgroup, which the command joins.
    public var cgroup: CgroupEntry?
    /// The end of a sysinfo responder's socket (SysinfoResponder): the
    /// command's sysinfo(2) is answered from the container's cgroup. The
    /// caller keeps and closes it.
    public var sysinfoSocket: Int32?
    /// The container's open-files limit (spec.resources.numfile), as its init has it.
    public var openFilesLimit: Int?
    /// Pass SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 that
    /// berth gets on to the command (berth exec and enter, a process of
    /// their own: the handlers are berth's while the command runs).
    public var passesSignals = false

    public init(
        initPID: pid_t, arguments: [String], environment: [String], workingDirectory: String, capabilities: CapabilitySet,
        noNewPrivileges: Bool, seccomp: Bool
    ) {
        self.initPID = initPID
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.capabilities = capabilities
        self.noNewPrivileges = noNewPrivileges
        self.seccomp = seccomp
    }

    static let namespaces = ["ipc", "uts", "net", "cgroup", "pid", "mnt"]

    /// Runs the command and returns its exit code (128 + signal when killed).
    public func run() throws -> Int32 {
        guard !arguments.isEmpty else { throw SystemError(call: "exec", errno: EINVAL, subject: "empty command") }
        var fds: [Int32] = []
        defer { fds.forEach { Syscall.close($0) } }
        // Its user namespace first, when it has its own (joining one's own fails).
        var user: Int32 = -1
        if let theirs = Syscall.inode("/proc/\(initPID)/ns/user"), let ours = Syscall.inode("/proc/self/ns/user"), theirs != ours {
            user = try Syscall.open("/proc/\(initPID)/ns/user", O_RDONLY)
            fds.append(user)
        }
        var joined: [Int32] = []
        for name in ContainerExec.namespaces {
            let fd = try Syscall.open("/proc/\(initPID)/ns/\(name)", O_RDONLY)
            fds.append(fd)
            joined.append(fd)
        }
        let handshake = try ChildHandshake()
        var arena = CStringArena()
        defer { arena.free() }
        var config = berth_exec_config()
        config.namespace_fds = (user, joined[0], joined[1], joined[2], joined[3], joined[4], joined[5])
        config.argv = arena.array(arguments)
        config.envp = arena.array(environment)
        config.cwd = arena.string(workingDirectory)
        config.capabilities = capabilities.mask
        config.no_new_privs = noNewPrivileges ? 1 : 0
        config.seccomp = seccomp ? 1 : 0
        config.allow_user_namespaces = nestedUserNamespaces ? 1 : 0
        config.sync_fd = handshake.sync.read
        config.error_fd = handshake.report.write
        config.parent_fds = (handshake.sync.write, handshake.report.read)
        config.open_files_limit = UInt64(max(0, openFilesLimit ?? 0))
        config.virtualize_sysinfo = sysinfoSocket == nil ? 0 : 1
        config.sysinfo_socket = sysinfoSocket ?? -1
        let terminal = tty ? try PseudoTerminal() : nil
        config.tty_fd = terminal?.slave ?? -1
        let signals = passesSignals ? try SignalPipe([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]) : nil

        let entry = try CgroupEntryDescriptors(cgroup)
        let pid = entry.clone { cgroup in
            config.cgroup = cgroup
            return berth_container_exec(&config)
        }
        let beforeStart = { (pid: pid_t) throws in try entry.joinLate(pid) }
        if pid < 0 { throw SystemError(call: "clone", errno: errno, subject: "exec in pid \(initPID)") }
        let status: Int32
        if terminal == nil && signals == nil {
            status = try handshake.release(pid, beforeStart: beforeStart, waitForExit: true, command: arguments.first) ?? -1
        } else {
            _ = try handshake.release(pid, beforeStart: beforeStart, waitForExit: false, command: arguments.first)
            terminal?.closeSlave()
            if let signals {
                // To the joining child (ours, not reaped yet), which passes
                // them to the command.
                try? signals.passOn(until: try? PidFD(pid: pid), relaying: terminal, subject: "exec in pid \(initPID)") {
                    _ = Glibc.kill(pid, $0)
                }
            } else if let terminal {
                TerminalRelay.run(master: terminal.master)
            }
            status = Reaper.wait(pid) ?? -1
        }
        return Reaper.exitCode(status)
    }
}
