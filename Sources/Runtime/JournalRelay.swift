import Kernel
import Model

#if canImport(Glibc)
    import Glibc
#endif

/// The output of a container whose `spec.logs.driver` is `journal`: its
/// init's stdout and stderr are the write ends of two FIFOs in its state
/// directory (opened read-write, so a write never fails with EPIPE while no
/// relay reads: it waits in the FIFO), read by a relay process of its own
/// (`berth journal-relay`, C, single-threaded: CLinux/BerthRelay.h) that
/// sends each line to journald with CONTAINER_NAME and the instance's
/// fields. The relay is not berth's child for long: it forks into a session
/// of its own, so it outlives the berth that started it (the CLI, an agent
/// restart), and it exits when the container's last writer has gone. A dead
/// relay is started again on the same FIFOs (`keepLogRelays`): nothing the
/// container wrote meanwhile is lost, it waited in the FIFO.
public struct JournalRelay: Sendable {
    public static let journalSocket = "/run/systemd/journal/socket"
    /// The container's directory in the state dir.
    public let directory: String
    /// Where the relay's pid and start time are kept (the run dir: like the
    /// process, gone with a reboot).
    public let pidFile: String

    public var stdoutFIFO: String { directory + "/stdout.fifo" }
    public var stderrFIFO: String { directory + "/stderr.fifo" }
    /// Where lines go when journald refused them for longer than the
    /// relay's patience (10 s): the file driver's console.log.
    public var fallbackFile: String { directory + "/console.log" }

    /// The journal fields every line carries: the container's name (as
    /// docker's journald driver names it, and as SYSLOG_IDENTIFIER so
    /// `journalctl -t NAME` finds it) and the instance's, as berth's events
    /// carry them (BERTH_STATE_DIR absolute, BERTH_CGROUP_PARENT).
    public static func fields(container name: String, paths: RuntimePaths) -> [(name: String, value: String)] {
        [
            ("CONTAINER_NAME", name), ("SYSLOG_IDENTIFIER", name), ("BERTH_CONTAINER", name),
            ("BERTH_STATE_DIR", absolute(paths.stateDirectory.string)), ("BERTH_CGROUP_PARENT", paths.cgroupParent),
        ]
    }

    /// The relay's command line (after the executable).
    public func arguments(fields: [(name: String, value: String)], socket: String = JournalRelay.journalSocket) -> [String] {
        ["journal-relay", "--stdout", stdoutFIFO, "--stderr", stderrFIFO, "--socket", socket, "--fallback", fallbackFile]
            + fields.map { "\($0.name)=\($0.value)" }
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return cwd + "/" + path
    }

    /// Whether journald takes entries: something is bound to its socket
    /// (a datagram connect(2) succeeds; ENOENT or ECONNREFUSED: it is not
    /// running).
    public static func journaldListens(_ socket: String = JournalRelay.journalSocket) -> Bool {
        DatagramSocket.hasReceiver(path: socket)
    }

    /// Makes the FIFOs when missing and opens both read-write for the
    /// init's stdout and stderr (the caller closes them once the init has
    /// its copies). Opened before the relay: at no moment does a FIFO have
    /// no one holding it open, which would discard what it holds.
    public func openForInit() throws(SystemError) -> (stdout: Int32, stderr: Int32) {
        for path in [stdoutFIFO, stderrFIFO] {
            var info = stat()
            if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFIFO { try Syscall.removeFile(path) }
            if mkfifo(path, 0o600) != 0 && errno != EEXIST { throw SystemError(call: "mkfifo", errno: errno, subject: path) }
        }
        let out = try Syscall.open(stdoutFIFO, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
        do {
            return (out, try Syscall.open(stderrFIFO, O_RDWR | O_CLOEXEC | O_NOFOLLOW))
        } catch {
            Syscall.close(out)
            throw error
        }
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The error of a start in journal mode without journald.
    static func notRunning(_ name: String, socket: String) -> StartError {
        StartError(
            description: "\(name): spec.logs.driver is journal, but journald is not running (nothing bound to \(socket)); "
                + "start systemd-journald, or use driver: file")
    }

    /// Starts a relay (`executable` is berth: /proc/self/exe) and records
    /// its pid. The FIFOs must exist.
    @discardableResult
    public func start(executable: String, fields: [(name: String, value: String)], socket: String = JournalRelay.journalSocket) throws
        -> pid_t
    {
        let result = try Spawn.run([executable] + arguments(fields: fields, socket: socket))
        let words = String(decoding: result.output, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard result.exitedCleanly, words.count == 1, let pid = pid_t(words[0]), pid > 0 else {
            let text = words.joined(separator: " ")
            throw StartError(description: "start the journal relay: \(text.isEmpty ? "exit status \(result.status)" : text)")
        }
        let startTime = ProcessStat.read(pid)?.startTime
        let line = "\(pid) \(startTime.map(String.init) ?? "-")\n"
        try Syscall.writeAtomically(Array(line.utf8), to: pidFile, durable: false)
        return pid
    }

    /// The relay's pid while it runs (its recorded start time matches).
    public var runningPID: pid_t? {
        guard let bytes = try? Syscall.readFile(pidFile, limit: 256) else { return nil }
        let parts = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count >= 1, let pid = pid_t(parts[0]), pid > 0, let stat = ProcessStat.read(pid), stat.isAlive else { return nil }
        if parts.count >= 2, let recorded = UInt64(parts[1]), recorded != stat.startTime { return nil }
        return pid
    }

    /// Waits up to `milliseconds` for the relay to end (it does once the
    /// container's last writer has gone and it sent what was left), then
    /// kills it. Only the recorded process (pid and start time) is signalled.
    public func waitForEnd(milliseconds: Int) {
        var waited = 0
        while let pid = runningPID {
            if waited >= milliseconds {
                if let handle = try? PidFD(pid: pid, startTime: ProcessStat.read(pid)?.startTime) { _ = try? handle.signal(SIGKILL) }
                break
            }
            usleep(10_000)
            waited += 10
        }
        try? Syscall.removeFile(pidFile, missingOK: true)
    }
}

extension ContainerRuntime {
    public func journalRelay(_ name: String) -> JournalRelay {
        JournalRelay(directory: state.containerDirectory(name), pidFile: state.runDirectory(name) + "/log-relay")
    }

    /// Starts a relay again for every running container in journal mode
    /// whose relay is gone (killed, or the host's OOM killer): what the
    /// container wrote meanwhile waited in its FIFOs. Names of the
    /// containers whose relay was started.
    @discardableResult
    public func keepLogRelays() -> [String] {
        var restarted: [String] = []
        for name in state.names() {
            guard let record = state.load(name), record.spec?.logDriver == .journal, isRunning(record) else { continue }
            let relay = journalRelay(name)
            guard relay.runningPID == nil else { continue }
            do {
                let pid = try relay.start(
                    executable: relayExecutable, fields: JournalRelay.fields(container: name, paths: paths), socket: journalSocket)
                logger.notice("log relay restarted", metadata: ["container": "\(name)", "pid": "\(pid)"])
                restarted.append(name)
            } catch {
                logger.error("log relay restart failed", metadata: ["container": "\(name)", "error": "\(error)"])
            }
        }
        return restarted
    }
}
