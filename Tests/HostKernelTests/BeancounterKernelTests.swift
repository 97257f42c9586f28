import Foundation
import Kernel
import Logging
import Model
import Netlink
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Beancounters of real containers: what `berth ubc` shows after a limit
/// refused something, and the sockets of a container's network namespace.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct BeancounterKernelTests {
    func counter(_ host: TestHost, _ name: String, _ resource: Beancounter.Resource) -> Beancounter? {
        host.runtime.state.load(name).flatMap { host.runtime.beancounters($0) }?.first { $0.resource == resource }
    }

    /// A storm of forks past pids.max: the forks fail inside, numproc's
    /// failcnt rises, and held never passes the limit.
    @Test func forkStormPastPidsMaxRaisesNumprocFailcnt() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let record = try host.runtime.start(
            host.container("bomb", command: ["sleep", "300"]) { spec in
                var resources = ResourcesSpec()
                resources.pids = PidsSpec(max: 12)
                spec.resources = resources
            })
        let before = try #require(counter(host, "bomb", .numproc))
        #expect(before.failcnt == 0 && before.limit == 12 && before.barrier == 12)
        // Bounded by the container's pids limit: 40 forks, each child sleeps
        // a little; the cgroup is killed by the teardown.
        _ = try host.runtime.exec("bomb", command: ["/bin/sh", "-c", "for i in $(seq 40); do sleep 5 & done 2>/dev/null; true"])
        let after = try #require(counter(host, "bomb", .numproc))
        #expect(after.failcnt > 0, "\(after)")
        #expect(after.held <= 12 && after.maxheld <= 12 && after.maxheld >= 10, "\(after)")
        // The agent's report: the rise once, then nothing until it rises again.
        let rows = try #require(host.runtime.beancounters(record))
        let risen = host.runtime.risenFailcnts(record, rows)
        #expect(risen.contains { $0.resource == .numproc && $0.previous == 0 && $0.failcnt == after.failcnt })
        #expect(host.runtime.risenFailcnts(record, rows).isEmpty)
    }

    /// The agent turns a rising failcnt into one event naming the
    /// container, the resource and the count (on stderr here: no journald).
    @Test func agentReportsARisingFailcntOnce() throws {
        let host = try TestHost()
        let manifests = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        let manifest = AgentTests.manifest("forky").replacingOccurrences(of: "pids: {max: 64}", with: "pids: {max: 12}")
        try AgentTests.save(manifest, to: manifests + "/forky.yaml")
        let agent = try AgentTests.AgentProcess(host, ["--manifests", manifests, "--interval", "1s"])
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
        }
        #expect(agent.waitFor(seconds: 90) { $0.contains("READY=1") } != nil, "\(agent.output)")
        #expect(!agent.output.contains("refused"))
        _ = try host.runtime.exec("forky", command: ["/bin/sh", "-c", "for i in $(seq 30); do sleep 3 & done 2>/dev/null; true"])
        let failcnt = try #require(counter(host, "forky", .numproc)?.failcnt)
        #expect(failcnt > 0)
        // As a sentence ("forky: numproc refused: failcnt N (was 0)") or, on
        // stderr without journald, the kind with its fields.
        func reports() -> [Substring] {
            agent.output.split(separator: "\n").filter { $0.contains("forky") && $0.contains("numproc") && $0.contains("refused") }
        }
        #expect(eventually(seconds: 20) { !reports().isEmpty }, "\(agent.output)")
        // Said once: later passes with the same failcnt say nothing more.
        #expect(agent.waitFor(seconds: 10) { $0.contains("STATUS=") && $0.contains("reconciled") } != nil)
        usleep(2_500_000)
        #expect(reports().count == 1, "\(agent.output)")
        #expect(reports().first?.contains("\(failcnt)") == true, "\(agent.output)")
    }

    /// A process that allocates without bound is refused past memory.max
    /// (and killed): physpages' failcnt rises, oomguarpages counts the kill.
    @Test func allocationPastMemoryMaxRaisesPhyspagesFailcnt() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        _ = try host.runtime.start(
            host.container("hog", command: ["sleep", "300"]) { spec in
                var resources = ResourcesSpec()
                resources.memory = MemorySpec(max: ByteSize(bytes: 32 << 20), swap: ByteSize(bytes: 0))
                spec.resources = resources
            })
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let before = try #require(counter(host, "hog", .physpages))
        #expect(before.failcnt == 0 && before.limit == (32 << 20) / pageSize)
        // busybox tail keeps a "line" of /dev/zero in memory: it grows until refused.
        let code = try host.runtime.exec("hog", command: ["/bin/sh", "-c", "tail /dev/zero"])
        #expect(code != 0)
        let after = try #require(counter(host, "hog", .physpages))
        #expect(after.failcnt > 0, "\(after)")
        #expect(after.maxheld <= after.limit + 1 && after.maxheld > after.limit / 2, "\(after)")
        // The killed process's pages are given back once its exit is done,
        // which can come after exec has returned (CI under load: held was
        // still the limit).
        var oom = try #require(counter(host, "hog", .oomguarpages))
        #expect(
            eventually(seconds: 10) {
                oom = counter(host, "hog", .oomguarpages) ?? oom
                return oom.held < after.limit
            }, "\(oom)")
        #expect(oom.failcnt >= 1, "\(oom)")
    }

    /// 20 connections from inside to a listener on the sandbox host: the
    /// container's namespace holds 20 TCP sockets (sock_diag), the host's
    /// own sockets are not counted. spec.resources.numtcpsock: 20 refuses
    /// the 21st (nftables ct count in its namespace); raised live, it lets
    /// one more through.
    @Test func twentyTCPConnectionsShowNumtcpsockTwentyAndTheLimitRefusesTheTwentyFirst() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var spec = NetworkSpec(subnet: try CIDR(parsing: "10.86.0.0/24"))
        spec.bridge = "br-t86"
        let network = NetworkObject(
            metadata: ObjectMeta(name: "ubcnet"), spec: spec.resolved(name: "ubcnet"), source: SourceLocation(file: "t", line: 1, column: 1))
        defer { try? RouteNetlink().deleteLink("br-t86") }
        let listener = try TCPListener(port: 8086)
        defer { listener.close() }
        let address = try CIDR(parsing: "10.86.0.10", requirePrefix: false)
        var resources = ResourcesSpec()
        resources.numtcpsock = 20
        let record = try host.runtime.start(
            host.container("tcp", command: ["sleep", "300"]) {
                $0.networks = [NetworkAttachment(network: "ubcnet", addresses: [address])]
                $0.resources = resources
            }, networks: [network])
        let pid = try #require(record.pid)
        #expect(counter(host, "tcp", .numtcpsock)?.held == 0)
        #expect(try ConnectionLimit.observe(pid: pid)?.limit == 20)
        _ = try host.runtime.exec(
            "tcp", command: ["/bin/sh", "-c", "for i in $(seq 20); do sleep 300 | nc 10.86.0.1 8086 & done; true"])
        #expect(eventually(seconds: 10) { counter(host, "tcp", .numtcpsock)?.held == 20 }, "\(String(describing: counter(host, "tcp", .numtcpsock)))")
        let tcp = try #require(counter(host, "tcp", .numtcpsock))
        #expect(tcp.maxheld == 20 && tcp.peak == .berth && tcp.limit == 20 && tcp.barrier == 20 && tcp.failcnt == 0, "\(tcp)")
        // Each nc holds its socket and a pipe: numfile counts them.
        #expect((counter(host, "tcp", .numfile)?.held ?? 0) >= 40)

        // The 21st is refused (a TCP reset: nc fails at once), and counted.
        // (nc holds a connection it made: `timeout` ends it, 143; a refused one ends at once, 1.)
        let connect = ["/bin/sh", "-c", "timeout 2 nc 10.86.0.1 8086 < /dev/null"]
        let listing = { String(describing: try? ConnectionLimit.observe(pid: pid)) }
        #expect(try host.runtime.exec("tcp", command: connect) == 1, "\(listing())")
        let refused = try #require(counter(host, "tcp", .numtcpsock))
        #expect(refused.held == 20 && refused.failcnt >= 1, "\(refused) \(listing())")

        // Raised live: one more goes through, the kernel holds the new limit.
        resources.numtcpsock = 21
        _ = try host.runtime.updateResources("tcp", resources)
        #expect(try ConnectionLimit.observe(pid: pid)?.limit == 21)
        #expect(try host.runtime.exec("tcp", command: connect) != 1, "\(listing())")
        // Left out: no limit, the table is gone.
        _ = try host.runtime.updateResources("tcp", ResourcesSpec())
        #expect(try ConnectionLimit.observe(pid: pid) == nil)
        #expect(counter(host, "tcp", .numtcpsock)?.limit == Beancounter.unlimited)
    }
}

extension BeancounterKernelTests {
    /// A container with both of berth's tables in its namespace (its
    /// connection limit and its firewall): each commit of berth's that is
    /// the namespace's only change leaves both known at the generation after
    /// it (RulesetStep), so that plan and drift list neither; a change
    /// behind berth's back moves the generation on, and both are listed.
    @Test func theConnectionLimitAndTheFirewallAreKnownWithoutAListingUntilTheirNamespaceChanges() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var resources = ResourcesSpec()
        resources.numtcpsock = 20
        let firewall = FirewallSpec(defaultPolicy: .accept, rules: [FirewallRule(action: .deny, protocol: .tcp, port: 9)])
        let started = try host.runtime.start(
            host.container("both", command: ["sleep", "300"]) {
                $0.resources = resources
                $0.firewall = firewall
            }, networks: [])
        let pid = try #require(started.pid)
        func record() throws -> ContainerRecord { try #require(host.runtime.state.load("both")) }
        func known() throws -> (limit: String, firewall: String) {
            let now = try record()
            return (try #require(now.connectionLimitGeneration), try #require(now.firewallGeneration))
        }
        // Both known where the firewall's listing was made, the namespace's last commit.
        var generations = try known()
        #expect(generations.limit == generations.firewall)
        // Given back as recorded (even a wrong value): nothing was listed.
        #expect(try ConnectionLimit.limit(pid: pid, recorded: (99, generations.limit)) == 99)
        #expect(try ContainerFirewall.observe(pid: pid, recorded: ("not listed", generations.firewall)) == "not listed")

        // The limit changed live: both move on to its commit's generation.
        resources.numtcpsock = 21
        _ = try host.runtime.updateResources("both", resources)
        let afterLimit = try known()
        #expect(afterLimit.limit != generations.limit && afterLimit.limit == afterLimit.firewall)
        #expect(try ConnectionLimit.observe(pid: pid)?.limit == 21)
        #expect(try ConnectionLimit.limit(pid: pid, recorded: (99, afterLimit.limit)) == 99)
        // The firewall changed live: both move on to its listing's generation.
        try host.runtime.updateFirewall("both", ContainerConfig.Firewall(firewall))
        generations = try known()
        #expect(generations.limit != afterLimit.limit && generations.limit == generations.firewall)
        let fingerprint = try #require(try record().firewallFingerprint)
        #expect(try ContainerFirewall.observe(pid: pid, recorded: ("not listed", generations.firewall)) == "not listed")

        // A rule edited behind berth's back: both listed, the limit's rule is
        // gone (no limit berth knows), the firewall lists as before.
        let namespace = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespace) }
        try NFTables.run("flush chain inet berth_ubc count", inNetworkNamespace: namespace)
        #expect(try ConnectionLimit.limit(pid: pid, recorded: (21, generations.limit)) == nil)
        #expect(try ContainerFirewall.observe(pid: pid, recorded: ("not listed", generations.firewall)) == fingerprint)
    }

    /// spec.resources.numpty: 4 is the max= of the container's devpts
    /// instance: four opens of its ptmx (through the init's root, as a
    /// process inside opens /dev/ptmx) give terminals, the fifth fails with
    /// ENOSPC; `berth ubc` shows 4 held against barrier and limit 4. Raised
    /// live to 6 (the devpts reconfigured from outside, the init kept), two
    /// more open; set behind berth's back, it is seen and repaired.
    @Test func numptyCapsTheContainersDevptsInstance() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var resources = ResourcesSpec()
        resources.numpty = 4
        let record = try host.runtime.start(host.container("ptys", command: ["sleep", "300"]) { $0.resources = resources })
        let pid = try #require(record.pid)
        let mountinfo = try String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8)
        #expect(mountinfo.split(separator: "\n").contains { $0.contains(" /dev/pts ") && $0.contains(",max=4") }, "\(mountinfo)")
        let before = try #require(counter(host, "ptys", .numpty))
        #expect(before.held == 0 && before.barrier == 4 && before.limit == 4, "\(before)")

        var terminals: [Int32] = []
        defer { terminals.forEach { _ = Glibc.close($0) } }
        for _ in 0..<4 {
            let fd = Glibc.open("/proc/\(pid)/root/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
            #expect(fd >= 0, "errno \(errno)")
            if fd >= 0 { terminals.append(fd) }
        }
        let fifth = Glibc.open("/proc/\(pid)/root/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        let error = errno
        if fifth >= 0 { terminals.append(fifth) }
        #expect(fifth < 0 && error == ENOSPC, "fd \(fifth), errno \(error)")
        let held = try #require(counter(host, "ptys", .numpty))
        #expect(held.held == 4 && held.maxheld == 4 && held.limit == 4, "\(held)")

        resources.numpty = 6
        _ = try host.runtime.updateResources("ptys", resources)
        #expect(host.runtime.state.load("ptys")?.pid == pid)
        #expect(PseudoTerminalLimit.observe(pid: pid) == 6)
        for expected in [true, true, false] {
            let fd = Glibc.open("/proc/\(pid)/root/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
            let error = errno
            if fd >= 0 { terminals.append(fd) }
            #expect((fd >= 0) == expected && (expected || error == ENOSPC), "fd \(fd), errno \(error)")
        }
        #expect(counter(host, "ptys", .numpty)?.limit == 6)
        // An admin's remount: observed as it is, put back by the next update.
        try PseudoTerminalLimit.apply(3, pid: pid)
        #expect(PseudoTerminalLimit.observe(pid: pid) == 3)
        _ = try host.runtime.updateResources("ptys", resources)
        #expect(PseudoTerminalLimit.observe(pid: pid) == 6)
        // Left out: the kernel's ceiling again, shown as unlimited.
        _ = try host.runtime.updateResources("ptys", ResourcesSpec())
        #expect(PseudoTerminalLimit.observe(pid: pid) == nil)
        #expect(counter(host, "ptys", .numpty)?.limit == Beancounter.unlimited)
    }
}

extension BeancounterKernelTests {
    /// spec.resources.numfile: 128 is the init's RLIMIT_NOFILE, soft and
    /// hard, as /proc/PID/limits shows it; lowered live to 64 with the init
    /// kept; a soft limit set behind berth's back (prlimit) is seen and put
    /// back; a command berth exec runs gets the container's limit. (Raising a hard limit live needs CAP_SYS_RESOURCE, which the
    /// sandbox of this machine lacks: lowering is what is tested here.)
    /// Its "Max open files" line of /proc/PID/limits, spaces squeezed
    /// ("Max open files 128 128 files"); the whole file when it has none.
    static func openFilesLine(_ pid: Int32) -> String {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix("Max open files") }.map { $0.split(separator: " ").joined(separator: " ") } ?? text
    }

    @Test func numfileIsTheInitsOpenFilesLimitAndChangesLive() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var resources = ResourcesSpec()
        resources.numfile = 128
        let record = try host.runtime.start(host.container("files", command: ["sleep", "300"]) { $0.resources = resources })
        let pid = try #require(record.pid)
        func limits() -> String { BeancounterKernelTests.openFilesLine(pid) }
        #expect(limits() == "Max open files 128 128 files", "\(limits())")
        resources.numfile = 64
        _ = try host.runtime.updateResources("files", resources)
        #expect(host.runtime.state.load("files")?.pid == pid)
        #expect(limits() == "Max open files 64 64 files", "\(limits())")
        #expect(OpenFilesLimit.observe(pid: pid) == 64)
        // What berth exec runs in it has the container's limit, not berth's.
        #expect(try host.runtime.exec("files", command: ["/bin/sh", "-c", "ulimit -n > /tmp/ulimit"]) == 0)
        #expect(host.written("files", "/tmp/ulimit") == "64")
        let admin = try Spawn.run(["/usr/bin/prlimit", "--pid", "\(pid)", "--nofile=32:64"], mergingStandardError: true)
        #expect(admin.status == 0, "\(String(decoding: admin.output, as: UTF8.self))")
        #expect(OpenFilesLimit.observe(pid: pid) == 32)
        _ = try host.runtime.updateResources("files", resources)
        #expect(limits() == "Max open files 64 64 files", "\(limits())")
    }
}

/// A listening TCP socket of the test process (the sandbox host's side):
/// the kernel completes connections into its backlog without an accept.
final class TCPListener {
    let fd: Int32
    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError(call: "socket", errno: errno) }
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let error = errno
            Glibc.close(fd)
            throw SystemError(call: "bind/listen", errno: error, subject: "port \(port)")
        }
    }
    func close() { Glibc.close(fd) }
}
