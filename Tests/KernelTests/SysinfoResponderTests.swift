import CLinux
import Testing

@testable import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// What busybox's free and uptime read inside a container whose /proc is
/// virtualized: the responder's answer to sysinfo(2).
@Suite struct SysinfoResponderTests {
    static func host() -> sysinfo {
        var host = sysinfo()
        host.totalram = 24 << 30 / 4096
        host.freeram = 20 << 30 / 4096
        host.totalswap = 2 << 30 / 4096
        host.freeswap = 2 << 30 / 4096
        host.mem_unit = 4096
        host.uptime = 86_400
        host.procs = 900
        host.loads = (65536, 32768, 16384)
        return host
    }

    @Test func aLimitedContainerSeesItsLimitItsUseItsTasksAndItsUptime() {
        let answer = SysinfoResponder.answer(
            host: Self.host(), memoryLimit: 128 << 20, memoryUsage: 28 << 20, swapLimit: 0, swapUsage: 0, tasks: 3, uptime: 42)
        #expect(answer.mem_unit == 1)
        #expect(answer.totalram == 128 << 20)
        #expect(answer.freeram == 100 << 20)
        #expect(answer.totalswap == 0 && answer.freeswap == 0)
        #expect(answer.procs == 3)
        #expect(answer.uptime == 42)
        #expect(answer.loads.0 == 65536, "load averages are the host's")
    }

    @Test func noLimitMeansTheHostsSizesAndUseAboveTheLimitMeansNoneFree() {
        let open = SysinfoResponder.answer(
            host: Self.host(), memoryLimit: .max, memoryUsage: 1 << 30, swapLimit: .max, swapUsage: 0, tasks: 1, uptime: -5)
        #expect(open.totalram == 24 << 30 && open.freeram == 23 << 30)
        #expect(open.totalswap == 2 << 30 && open.freeswap == 2 << 30)
        #expect(open.uptime == 0)
        let full = SysinfoResponder.answer(
            host: Self.host(), memoryLimit: 64 << 20, memoryUsage: 80 << 20, swapLimit: 32 << 20, swapUsage: 40 << 20, tasks: 70_000,
            uptime: 1)
        #expect(full.freeram == 0 && full.freeswap == 0)
        #expect(full.procs == 0xffff)
    }

    @Test func theCommandLineNamesTheCgroupAndTheStart() {
        let responder = SysinfoResponder(memoryDirectory: "/sys/fs/cgroup/memory/b/web", pidsDirectory: "/sys/fs/cgroup/pids/b/web", v1: true)
        #expect(
            responder.arguments(startedNanoseconds: 5)
                == [
                    "sysinfo-responder", "--socket-fd", "3", "--memory", "/sys/fs/cgroup/memory/b/web", "--pids", "/sys/fs/cgroup/pids/b/web",
                    "--started-ns", "5", "--v1",
                ])
        #expect(SysinfoResponder.bootTime(ofStartTicks: UInt64(sysconf(Int32(_SC_CLK_TCK))) * 3) == 3_000_000_000)
    }
}
