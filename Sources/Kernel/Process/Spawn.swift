import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a host helper program (never a container process) and collects its
/// output. posix_spawn runs no Swift code in the child.
public enum Spawn {
    public struct Result: Sendable {
        public var status: Int32
        public var output: [UInt8]
        public var exitedCleanly: Bool { status & 0x7f == 0 && (status >> 8) & 0xff == 0 }
    }

    /// `input` (at most a pipe's capacity, 64 KiB) is the program's stdin;
    /// without it stdin is /dev/null. Standard error is discarded unless
    /// `mergingStandardError` (then it is part of `output`, for error text).
    /// `passing`: a descriptor the program gets as its descriptor 3.
    public static func run(
        _ arguments: [String], input: [UInt8]? = nil, outputLimit: Int = 1 << 20, mergingStandardError: Bool = false,
        passing passed: Int32? = nil
    ) throws(SystemError) -> Result {
        guard let program = arguments.first else { throw SystemError(call: "posix_spawn", errno: EINVAL) }
        let pipe = try Pipe2.make()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let spare = try passing(passed, to: program, &actions)
        defer { if spare >= 0 { Syscall.close(spare) } }
        var inputPipe: (read: Int32, write: Int32)?
        if let input {
            guard input.count <= 65536 else { throw SystemError(call: "posix_spawn", errno: E2BIG, subject: "input") }
            let stdinPipe = try Pipe2.make()
            inputPipe = stdinPipe
            posix_spawn_file_actions_adddup2(&actions, stdinPipe.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, pipe.write, 1)
        if mergingStandardError {
            posix_spawn_file_actions_adddup2(&actions, pipe.write, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        var arena = CStringArena()
        defer { arena.free() }
        let argv = arena.array(arguments)
        var attributes = cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        var pid: pid_t = 0
        let result = argv.withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: arguments.count + 1) { pointer in
            posix_spawn(&pid, program, &actions, &attributes, pointer, environ)
        }
        Syscall.close(pipe.write)
        defer { Syscall.close(pipe.read) }
        if let inputPipe {
            Syscall.close(inputPipe.read)
            if result == 0, let input { try? Syscall.writeOnce(inputPipe.write, input, subject: "stdin of \(program)") }
            Syscall.close(inputPipe.write)
        }
        if result != 0 { throw SystemError(call: "posix_spawn", errno: result, subject: program) }
        let output = (try? Syscall.readAll(pipe.read, upTo: outputLimit)) ?? []
        let status = Reaper.wait(pid) ?? -1
        return Result(status: status, output: output)
    }

    /// Starts a long-running host program without waiting for it: stdin is
    /// /dev/null, stdout and stderr go to `outputPath` (appended), and
    /// `environment` is added to (or replaces entries of) berth's own. The
    /// caller reaps the returned pid (Reaper).
    public static func start(_ arguments: [String], environment: [String: String] = [:], outputPath: String = "/dev/null")
        throws(SystemError) -> pid_t
    {
        guard let program = arguments.first else { throw SystemError(call: "posix_spawn", errno: EINVAL) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var inherited: [String] = []
        var index = 0
        while let entry = environ[index] {
            let text = String(cString: entry)
            let name = String(text.prefix { $0 != "=" })
            if environment[name] == nil { inherited.append(text) }
            index += 1
        }
        var arena = CStringArena()
        defer { arena.free() }
        let argv = arena.array(arguments)
        let envp = arena.array(inherited + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        var attributes = cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        var pid: pid_t = 0
        let result = argv.withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: arguments.count + 1) { argvPointer in
            envp.withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: inherited.count + environment.count + 1) {
                posix_spawn(&pid, program, &actions, &attributes, argvPointer, $0)
            }
        }
        if result != 0 { throw SystemError(call: "posix_spawn", errno: result, subject: program) }
        return pid
    }

    /// Starts a host program in a session of its own (setsid, through
    /// posix_spawn's POSIX_SPAWN_SETSID: no Swift between fork and exec),
    /// its stdin, stdout and stderr /dev/null, that outlives the caller:
    /// berth's trash emptier after an apply. `passing`: a descriptor it gets
    /// as its descriptor 3 (a lock it then holds). A caller that lives on
    /// reaps the returned pid (Reaper.poll); one that exits leaves that to
    /// init.
    public static func detached(_ arguments: [String], passing passed: Int32? = nil) throws(SystemError) -> pid_t {
        guard let program = arguments.first else { throw SystemError(call: "posix_spawn", errno: EINVAL) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let spare = try passing(passed, to: program, &actions)
        defer { if spare >= 0 { Syscall.close(spare) } }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var arena = CStringArena()
        defer { arena.free() }
        let argv = arena.array(arguments)
        var attributes = cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | berth_posix_spawn_setsid_flag())
        var pid: pid_t = 0
        let result = argv.withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: arguments.count + 1) { pointer in
            posix_spawn(&pid, program, &actions, &attributes, pointer, environ)
        }
        if result != 0 { throw SystemError(call: "posix_spawn", errno: result, subject: program) }
        return pid
    }

    /// Makes `passed` the program's descriptor 3. dup2 onto itself would keep
    /// close-on-exec: a copy above 3 goes first, returned for the caller to
    /// close once the program is started (-1: nothing passed).
    static func passing(_ passed: Int32?, to program: String, _ actions: inout posix_spawn_file_actions_t) throws(SystemError) -> Int32 {
        guard let passed else { return -1 }
        let spare = fcntl(passed, F_DUPFD_CLOEXEC, 10)
        if spare < 0 { throw SystemError(call: "fcntl", errno: errno, subject: "descriptor for \(program)") }
        posix_spawn_file_actions_adddup2(&actions, spare, 3)
        return spare
    }

    /// The child starts with an empty signal mask and default dispositions:
    /// berth's threads may block signals (SIGALRM, SIGTERM) that helpers need,
    /// and the agent catches some. The caller destroys the attributes.
    static func cleanSignalAttributes() -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        return attributes
    }
}

extension Syscall {
    /// fsync(2).
    public static func fsync(_ fd: Int32, subject: String) throws(SystemError) {
        _ = try retrying("fsync", subject) { Glibc.fsync(fd) }
    }

    /// rename(2). Atomic within one filesystem.
    public static func rename(_ from: String, _ to: String) throws(SystemError) {
        if Glibc.rename(from, to) != 0 { throw SystemError(call: "rename", errno: errno, subject: "\(from) → \(to)") }
    }

    /// Writes `bytes` to `path` atomically and durably: a temp file, fsync,
    /// rename over the old one, fsync of the directory. Without `durable`,
    /// only atomically (for files that do not outlive a reboot anyway).
    /// Measured for issue 16 (berth-bench scale 200, release, back to back):
    /// holding the directory syncs of an apply pass to its end did not pay,
    /// neither as an fsync per directory (4.4 s create against 2.9-3.3 s)
    /// nor as one syncfs (3.4 s: it flushes the whole filesystem's dirty
    /// data); apply's 4-wide pool already overlaps these fsyncs.
    /// `beforeRename` runs between the two (a failpoint's place: a crash
    /// there leaves the temp file, which readers skip: `isTemporaryName`).
    public static func writeAtomically(
        _ bytes: [UInt8], to path: String, mode: mode_t = 0o600, durable: Bool = true, beforeRename: () -> Void = {}
    ) throws(SystemError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let temporary = "\(path).tmp-\(getpid())"
        let fd = try open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        do {
            try writeOnce(fd, bytes, subject: temporary)
            if durable { try fsync(fd, subject: temporary) }
        } catch {
            close(fd)
            _ = unlink(temporary)
            throw error
        }
        close(fd)
        beforeRename()
        try rename(temporary, path)
        guard durable else { return }
        let directoryFD = try open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        defer { close(directoryFD) }
        try fsync(directoryFD, subject: directory)
    }

    /// Whether `name` (a file name, no directory) is one of the temp files
    /// `writeAtomically` writes before its rename (`NAME.tmp-PID`): never
    /// a record, whatever it holds.
    public static func isTemporaryName(_ name: String) -> Bool { temporaryWriter(name) != nil }

    /// The pid in a temp file's name `NAME.tmp-PID` (nil: no temp name).
    static func temporaryWriter(_ name: String) -> pid_t? {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex, name[name.index(after: dot)...].hasPrefix("tmp-") else { return nil }
        let digits = name[name.index(dot, offsetBy: 5)...]
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return pid_t(digits)
    }

    /// Removes the temp files in `directory` that a killed writer left
    /// between its write and its rename: those whose pid is not a live
    /// process (a live one may still be writing). Returns their names.
    @discardableResult
    public static func removeStaleTemporaries(in directory: String) -> [String] {
        entryNames(in: directory).filter { name in
            guard let pid = temporaryWriter(name), pid > 0, pid != getpid() else { return false }
            guard Glibc.kill(pid, 0) != 0 && errno == ESRCH else { return false }
            return unlink(directory + "/" + name) == 0
        }
    }

    /// The device number of a block or character device node (stat(2)).
    public static func deviceNumber(_ path: String) throws(SystemError) -> (major: UInt32, minor: UInt32) {
        var info = stat()
        if fstatat(AT_FDCWD, path, &info, 0) != 0 { throw SystemError(call: "stat", errno: errno, subject: path) }
        let device = UInt64(info.st_rdev)
        let major = UInt32(((device >> 32) & 0xffff_f000) | ((device >> 8) & 0x0000_0fff))
        let minor = UInt32(((device >> 12) & 0xffff_ff00) | (device & 0x0000_00ff))
        return (major, minor)
    }

    /// Whether `path` is a block (true) or character (false) device, with its
    /// numbers; nil when it is no device node.
    public static func deviceNode(_ path: String) throws(SystemError) -> (isBlock: Bool, major: UInt32, minor: UInt32)? {
        var info = stat()
        if fstatat(AT_FDCWD, path, &info, 0) != 0 { throw SystemError(call: "stat", errno: errno, subject: path) }
        let type = info.st_mode & S_IFMT
        guard type == S_IFBLK || type == S_IFCHR else { return nil }
        let numbers = try deviceNumber(path)
        return (type == S_IFBLK, numbers.major, numbers.minor)
    }

    /// Refuses a value that is not one checked kernel-file value (see
    /// CgroupValues.isWritable; `allowingSpaces: false` for single words).
    static func checkWritable(_ value: String, to path: String, allowingSpaces: Bool = true) throws(SystemError) {
        guard CgroupValues.isWritable(value), allowingSpaces || !value.contains(" ") else {
            throw SystemError(call: "write", errno: EINVAL, subject: "\(path) (refused value '\(value)')")
        }
    }

    /// One write(2) of a checked value to an existing kernel file (cgroup,
    /// sysctl): no temp file, no rename. Printable ASCII only, no newline,
    /// and inner spaces only when `allowingSpaces` (cpu.max, io.max).
    public static func writeValue(_ value: String, to path: String, allowingSpaces: Bool = true) throws(SystemError) {
        try checkWritable(value, to: path, allowingSpaces: allowingSpaces)
        let fd = try open(path, O_WRONLY)
        defer { close(fd) }
        try writeOnce(fd, Array(value.utf8), subject: path)
    }

    /// symlink(2).
    public static func symlink(_ target: String, at path: String) throws(SystemError) {
        if Glibc.symlink(target, path) != 0 { throw SystemError(call: "symlink", errno: errno, subject: path) }
    }
}
