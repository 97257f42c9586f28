import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A container's sysinfo(2) responder (`berth sysinfo-responder`, C,
/// single-threaded: CLinux/BerthSysinfo.h): busybox's `free` and `uptime`
/// ask sysinfo(2), which LXCFS cannot reach, so a seccomp filter in the
/// container hands those calls to this process, which answers from the
/// container's cgroup. It forks into a session of its own (it outlives the
/// berth that started the container) and ends with the container's last
/// process.
public struct SysinfoResponder: Sendable {
    /// The cgroup directories it reads (v1: the memory and pids hierarchies'; v2 one directory).
    public var memoryDirectory: String
    public var pidsDirectory: String
    public var v1: Bool

    public init(memoryDirectory: String, pidsDirectory: String, v1: Bool) {
        self.memoryDirectory = memoryDirectory
        self.pidsDirectory = pidsDirectory
        self.v1 = v1
    }

    /// The command line (after the executable); the socket is descriptor 3.
    public func arguments(startedNanoseconds: Int64) -> [String] {
        ["sysinfo-responder", "--socket-fd", "3", "--memory", memoryDirectory, "--pids", pidsDirectory, "--started-ns", String(startedNanoseconds)]
            + (v1 ? ["--v1"] : [])
    }

    /// The answer the responder gives (CLinux's berth_sysinfo_fill, which it
    /// runs): the host's figures bounded by the container's cgroup values.
    public static func answer(
        host: sysinfo, memoryLimit: UInt64, memoryUsage: UInt64, swapLimit: UInt64, swapUsage: UInt64,
        tasks: UInt64, uptime: Int64
    ) -> sysinfo {
        var values = berth_sysinfo_values(
            memory_limit: memoryLimit, memory_usage: memoryUsage, swap_limit: swapLimit, swap_usage: swapUsage, tasks: tasks, uptime: uptime)
        var host = host
        var result = sysinfo()
        berth_sysinfo_fill(&result, &host, &values)
        return result
    }

    /// CLOCK_BOOTTIME now, in nanoseconds: the start of a container started now.
    public static func bootTimeNow() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_BOOTTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// The start of a process that runs, from its start time in clock ticks since boot.
    public static func bootTime(ofStartTicks ticks: UInt64) -> Int64 {
        let hertz = max(1, Int64(sysconf(Int32(_SC_CLK_TCK))))
        return Int64(clamping: ticks) / hertz * 1_000_000_000 + Int64(clamping: ticks) % hertz * (1_000_000_000 / hertz)
    }

    /// Starts a responder (`executable` is berth: /proc/self/exe) and
    /// returns the container's end of its socket: the child that installs
    /// the filter sends the listener over it. The caller closes it once the
    /// child is cloned (the child has its own copy).
    public func start(executable: String, startedNanoseconds: Int64) throws -> Int32 {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SystemError(call: "socketpair", errno: errno, subject: "sysinfo responder")
        }
        defer { Syscall.close(pair[0]) }
        do {
            let result = try Spawn.run(
                [executable] + arguments(startedNanoseconds: startedNanoseconds), passing: pair[0])
            let words = String(decoding: result.output, as: UTF8.self).split(whereSeparator: \.isWhitespace)
            guard result.exitedCleanly, words.count == 1, let pid = pid_t(words[0]), pid > 0 else {
                let text = words.joined(separator: " ")
                throw SystemError(call: "sysinfo-responder", errno: EIO, subject: text.isEmpty ? "exit status \(result.status)" : text)
            }
            return pair[1]
        } catch {
            Syscall.close(pair[1])
            throw error
        }
    }
}
