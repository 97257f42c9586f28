import Foundation
import Kernel
import Netlink
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// An established TCP connection between two containers survives a
/// checkpoint and restore of one end (CRIU tcp-established). The peer is
/// frozen (berth suspend) while that end is away, as a migration's peer
/// would be quiet: a peer that keeps sending backs its retransmissions off
/// (under qemu TCG the dump and restore take tens of seconds, so its next
/// try can come minutes later). It failed until berth removed the dump's
/// network lock (a `CRIU-PID` nftables table saved with the namespace's
/// ruleset and restored with it; CRIU 3.17 removes only its restore's own):
/// IPv4 input was dropped, ARP answered. It runs in the VM lane's default
/// suites (~3 min under qemu TCG: berth's commands, CRIU's dump and restore;
/// its step times are printed); alone with
/// BERTH_VM_SUITES='CheckpointTCPTests' BERTH_CRIU_REQUIRED=1 scripts/vm-lane.sh.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct CheckpointTCPTests {
    let checkpoint = CheckpointTests()

    /// A server that writes what it receives (busybox nc ends at the end
    /// of its stdin: a sleep feeds it), and a client in another
    /// container on the same network that sends 1, 2, 3, ... every 100 ms
    /// over one TCP connection (it starts again from 1 on a new one).
    static let tcpManifest = """
        apiVersion: berth/v1
        kind: Network
        metadata:
          name: ckpttcp
        spec:
          subnet: 10.77.1.0/24
          nat: false
        ---
        apiVersion: berth/v1
        kind: Container
        metadata:
          name: server
        spec:
          rootfs:
            template: busybox
          networks:
            - network: ckpttcp
              addresses: [10.77.1.10]
          init:
            command: ["/bin/sh", "-c", "sleep 100000 | /usr/bin/nc -l -p 7000 >/tmp/received & wait"]
        ---
        apiVersion: berth/v1
        kind: Container
        metadata:
          name: client
        spec:
          rootfs:
            template: busybox
          networks:
            - network: ckpttcp
              addresses: [10.77.1.11]
          init:
            command: ["/bin/sh", "-c", "while :; do i=0; while :; do i=$((i+1)); echo $i; usleep 100000; done | /usr/bin/nc 10.77.1.10 7000; usleep 300000; done & wait"]

        """

    /// The numbers the server received, as its private layer holds them.
    func received(_ host: TestHost) -> [Int] {
        let text = (try? String(contentsOfFile: host.root + "/state/containers/server/upper/tmp/received", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { Int($0) }
    }

    /// Both ends' TCP sockets (/proc/PID/net/tcp and tcp6: busybox nc
    /// listens on ::, so the server's is v4-mapped IPv6; state, queues, timers)
    /// and neighbours, the server's processes with their network
    /// namespaces, and what CRIU's restore log says of TCP and the network
    /// lock, for a failure's message.
    func sockets(_ host: TestHost) -> String {
        let ends = ["server", "client"].map { name in
            guard let pid = host.runtime.state.load(name)?.pid else { return "\(name): no pid" }
            let files = ["net/tcp", "net/tcp6", "net/arp"].map { "/proc/\(pid)/" + $0 }
            return files.map { "\(name) \($0):\n" + ((try? String(contentsOfFile: $0, encoding: .utf8)) ?? "unreadable") }
                .joined(separator: "\n")
        }
        var processes = "server processes: none"
        if let record = host.runtime.state.load("server"), let group = try? CgroupPath(record.cgroup),
            let pids = try? host.runtime.cgroups.processes(in: group)
        {
            processes =
                "server processes:\n"
                + pids.map { pid in
                    let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "?"
                    return "\(pid) \(comm.trimmingCharacters(in: .whitespacesAndNewlines)) \(Syscall.readLink("/proc/\(pid)/ns/net") ?? "?")"
                }.joined(separator: "\n")
        }
        let logs = (FileManager.default.enumerator(atPath: host.root + "/run")?.allObjects as? [String] ?? []).filter {
            $0.hasSuffix("restore.log")
        }
        let log = logs.map { path in
            let text = (try? String(contentsOfFile: host.root + "/run/" + path, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n").filter { line in
                ["tcp", "TCP", "lock", "Lock", "net", "nft", "Error", "Warn", "inet"].contains { line.contains($0) }
            }
            return "\(path):\n" + lines.suffix(60).joined(separator: "\n")
        }
        var ruleset = "server ruleset: no pid"
        if let pid = host.runtime.state.load("server")?.pid, let namespaceFD = try? Syscall.open("/proc/\(pid)/ns/net", O_RDONLY) {
            defer { Syscall.close(namespaceFD) }
            ruleset = "server ruleset:\n" + ((try? NFTables.run("list ruleset", inNetworkNamespace: namespaceFD)) ?? "unreadable")
        }
        return (ends + [processes, ruleset] + log).joined(separator: "\n")
    }

    @Test func establishedTCPConnectionSurvivesACheckpointAndRestoreOfOneEnd() throws {
        let host = try TestHost()
        let timer = StepTimer("CheckpointTCPTests")
        defer {
            timer.mark("done; CRIU's requests: " + StepTimer.criuDurations(under: host.root + "/run").joined(separator: ", "))
            try? RouteNetlink().deleteLink("br-ckpttcp")
            #expect(host.tearDown() == [])
        }
        if let failure = CheckpointTests.criuCheck(host) {
            print("CheckpointTests: skipped, \(failure)")
            #expect(ProcessInfo.processInfo.environment["BERTH_CRIU_REQUIRED"] != "1", "\(failure)")
            return
        }
        timer.mark("criu check")
        let directory = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try CheckpointTCPTests.tcpManifest.write(toFile: directory + "/tcp.yaml", atomically: true, encoding: .utf8)
        #expect(try checkpoint.berth(host, ["apply", directory]).code == 0)
        timer.mark("apply")
        #expect(eventually { received(host).count >= 5 })
        timer.mark("5 numbers received")
        // The client quiet, and what it sent acknowledged, before the server goes.
        #expect(try checkpoint.berth(host, ["suspend", "client"]).code == 0)
        usleep(1_000_000)
        timer.mark("client suspended")
        let images = host.root + "/server-images"
        let dumped = try checkpoint.berth(host, ["checkpoint", "server", "--to", images, "--verbose"])
        #expect(dumped.code == 0, "\(dumped.output)")
        timer.mark("checkpoint: " + StepTimer.phases(dumped.output))
        guard dumped.code == 0 else { return }
        let before = received(host)
        let restore = try checkpoint.berth(host, ["restore", "server", "--from", images, "--verbose"])
        #expect(restore.code == 0, "\(restore.output)")
        timer.mark("restore: " + StepTimer.phases(restore.output))
        #expect(try checkpoint.berth(host, ["resume", "client"]).code == 0)
        timer.mark("client resumed")
        guard restore.code == 0 else { return }
        // No network lock of CRIU's left in the restored namespace (the
        // dump's table comes back with the namespace's saved ruleset).
        if let pid = host.runtime.state.load("server")?.pid {
            let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
            defer { Syscall.close(namespaceFD) }
            let tables = try NFTables.run("list tables", inNetworkNamespace: namespaceFD)
            #expect(!tables.contains("CRIU-"), "\(tables)")
        }
        // The same connection goes on: the numbers run on without starting
        // again from 1 (a new connection would: the server accepts only one).
        let resumed = eventually(seconds: 60) { received(host).count >= before.count + 10 }
        #expect(resumed, "\(sockets(host))")
        timer.mark("10 more numbers on the same connection")
        let after = received(host)
        #expect(after == Array(1...max(after.count, 1)), "\(after)")
        #expect(try checkpoint.berth(host, ["plan", "--detailed-exitcode", directory]).code == 0)
        timer.mark("plan")
    }
}
