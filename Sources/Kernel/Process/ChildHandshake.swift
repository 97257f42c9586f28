import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// The two channels between berth and a child it cloned: the child waits on
/// `sync` until berth has prepared what it needs (id maps, cgroup, network),
/// and reports a failed set-up step on `report` (CLOEXEC, so EOF means exec
/// happened). `sync` is a socket: a child that failed before the go must
/// not cost berth a SIGPIPE.
final class ChildHandshake {
    let sync: (read: Int32, write: Int32)
    let report: (read: Int32, write: Int32)
    private var childEndsOpen = true
    /// The bytes the child waits for: two for a container's init without a
    /// user namespace (its cgroup made, then the go), else one (the go).
    var stages = 1
    private var cgroupSaid = false

    init() throws(SystemError) {
        let sync = try SocketChannel.make()
        do {
            report = try Pipe2.make()
        } catch {
            Syscall.close(sync.read)
            Syscall.close(sync.write)
            throw error
        }
        self.sync = sync
    }

    deinit {
        Syscall.close(sync.write)
        Syscall.close(report.read)
        if childEndsOpen {
            Syscall.close(sync.read)
            Syscall.close(report.write)
        }
    }

    /// The first of two stages: the child's cgroup is made, so it enters it
    /// and finishes its own set-up while berth makes its network. Once; a
    /// no-op with one stage. A child gone meanwhile is found by `release`.
    func cgroupMade() {
        guard stages == 2, !cgroupSaid else { return }
        cgroupSaid = true
        var byte: UInt8 = 1
        _ = send(sync.write, &byte, 1, Int32(MSG_NOSIGNAL))
    }

    /// After clone: closes the child's ends, runs `beforeStart`, lets the
    /// child go and waits for exec. On failure the child is killed and reaped.
    /// `waitForExit` also reaps the child and returns its wait status.
    func release(_ pid: pid_t, beforeStart: (pid_t) throws -> Void, waitForExit: Bool, command: String? = nil) throws -> Int32? {
        Syscall.close(sync.read)
        Syscall.close(report.write)
        childEndsOpen = false
        do {
            try beforeStart(pid)
        } catch {
            _ = Glibc.kill(pid, SIGKILL)
            _ = Reaper.wait(pid)
            throw error
        }
        // A child that already failed (it builds its root before the go)
        // has closed its end: its report below says why.
        // The cgroup's byte first when `beforeStart` did not say it, then the go.
        cgroupMade()
        var go: UInt8 = 1
        let sent = send(sync.write, &go, 1, Int32(MSG_NOSIGNAL))
        let sendErrno = errno
        let record = try Syscall.readAll(report.read, upTo: 8)
        if sent != 1 && record.count != 8 {
            _ = Glibc.kill(pid, SIGKILL)
            _ = Reaper.wait(pid)
            throw SystemError(call: "send", errno: sendErrno, subject: "child sync socket")
        }
        let status = record.count == 8 || waitForExit ? Reaper.wait(pid) : nil
        if record.count == 8 {
            let step = record[0..<4].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            let code = record[4..<8].withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
            // The exec step names what it could not execute.
            let what = step == Int32(bitPattern: BERTH_STEP_EXEC.rawValue) ? command : nil
            throw ContainerStartError(step: String(cString: berth_step_name(step)), errno: code, command: what)
        }
        return status
    }
}
