import Foundation
import Kernel
import Netlink
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// berth migrate between two "hosts" of one machine: two berth instances
/// (their own state dir, run dir and cgroup parent), the target's in a
/// network namespace of its own with Debian's sshd (a generated host key,
/// an authorized key), joined to the test's namespace by a veth.
/// Under qemu without KVM each ssh connection takes tens of seconds: berth
/// migrate opens one and shares it (ControlMaster) across its steps, and
/// the target's sshd runs with an empty root ~/.bashrc (startTarget). A
/// file and a directory removed on the source between the layer's two
/// copies are gone on the target. It runs in the VM lane's default suites
/// (its step times and berth migrate's are printed: 487 s, freeze 179 s,
/// before the ssh and CRIU check savings); alone with
/// BERTH_VM_SUITES='MigrateTests' BERTH_CRIU_REQUIRED=1 scripts/vm-lane.sh.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct MigrateTests {
    let checkpoint = CheckpointTests()

    /// A program the test runs (ip, ssh-keygen, nsenter), which must succeed.
    @discardableResult
    func must(_ arguments: [String]) throws -> String {
        let result = try Spawn.run(arguments, mergingStandardError: true)
        let output = String(decoding: result.output, as: UTF8.self)
        guard result.exitedCleanly else { throw TestFailure("\(arguments.joined(separator: " ")): \(output)") }
        return output
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The target's sshd, the only process of its network namespace: the
    /// namespace goes when it is killed.
    func startTarget(_ root: String) throws -> pid_t {
        try must(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", root + "/hostkey"])
        try must(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", root + "/userkey"])
        try FileManager.default.copyItem(atPath: root + "/userkey.pub", toPath: root + "/authorized_keys")
        // UsePAM: root's account is locked (no password); without PAM, sshd
        // refuses a locked account even a key login.
        try """
        HostKey \(root)/hostkey
        AuthorizedKeysFile \(root)/authorized_keys
        PermitRootLogin prohibit-password
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        UsePAM yes
        StrictModes no
        PidFile none

        """.write(toFile: root + "/sshd_config", atomically: true, encoding: .utf8)
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        // In a mount namespace of its own where root's ~/.bashrc is empty:
        // bash reads it for every command ssh runs, and this machine's
        // (pyenv init) takes ~15 s per command under qemu TCG, a dozen
        // times per migration. A target host's quiet start-up files, as a
        // server's usually are; sh then execs sshd (the same pid).
        let pid = try Spawn.start(
            [
                "/usr/bin/unshare", "--net", "--mount", "--propagation", "private", "/bin/sh", "-c",
                #"[ ! -e /root/.bashrc ] || mount --bind /dev/null /root/.bashrc; exec /usr/sbin/sshd -D -e -f "$1""#, "sh",
                root + "/sshd_config",
            ], outputPath: root + "/sshd.log")
        let namespace = "/proc/\(pid)/ns/net"
        // The link exists from the spawn on, naming our namespace until
        // unshare has made its own: moving the veth's peer before that put
        // it in ours ("Cannot find device" inside; official CI of stop 17).
        // Wait for sshd itself, which runs only after the unshare.
        let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        let unshared = eventually(seconds: 30) {
            guard let theirs = try? FileManager.default.destinationOfSymbolicLink(atPath: namespace) else { return false }
            let program = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
            return theirs != ours && program.hasSuffix("/sshd")
        }
        guard unshared else { throw TestFailure("sshd \(pid) did not start in a network namespace of its own") }
        try must(["/usr/bin/ip", "link", "add", "mgsrc0", "type", "veth", "peer", "name", "mgdst0", "netns", "\(pid)"])
        try must(["/usr/bin/ip", "addr", "add", "192.168.231.1/24", "dev", "mgsrc0"])
        try must(["/usr/bin/ip", "link", "set", "mgsrc0", "up"])
        let inside = ["/usr/bin/nsenter", "--net=" + namespace, "/usr/bin/ip"]
        try must(inside + ["addr", "add", "192.168.231.2/24", "dev", "mgdst0"])
        try must(inside + ["link", "set", "mgdst0", "up"])
        // CRIU's probe binds to 127.0.0.1 there.
        try must(inside + ["link", "set", "lo", "up"])
        return pid
    }

    /// The counter, with a disk quota when `disk` (64 MiB: the backend the
    /// target's state dir gives, a disk image on the VM's plain ext4).
    /// On a network of its own (br-migr, 10.87.0.0/24): the VM lane runs
    /// suites side by side in one namespace, and CheckpointTests' counter
    /// has br-ckpt and 10.67.0.0/24 there.
    static func counterManifest(disk: Bool) -> String {
        let own = CheckpointTests.manifest
            .replacingOccurrences(of: "name: ckpt\n", with: "name: migr\n")
            .replacingOccurrences(of: "network: ckpt\n", with: "network: migr\n")
            .replacingOccurrences(of: "10.67.0.", with: "10.87.0.")
        guard disk else { return own }
        return own.replacingOccurrences(of: "  resources:\n", with: "  resources:\n    disk:\n      size: 64Mi\n")
    }

    @Test func migrateMovesARunningCounterToAnotherBerthOverSSH() throws { try migrateCounter(disk: false) }

    /// With a disk quota: the target makes the same quota before the layer
    /// comes, the counter counts on there, a write past the limit is
    /// refused inside, and the target's `berth plan` is a no-op. Alone with
    /// BERTH_VM_SUITES='MigrateTests/migrateMovesACounterWithADiskQuota'.
    @Test func migrateMovesACounterWithADiskQuota() throws { try migrateCounter(disk: true) }

    func migrateCounter(disk: Bool) throws {
        let source = try TestHost()
        let target = try TestHost()
        let timer = StepTimer("MigrateTests")
        var sshd: pid_t = 0
        defer {
            timer.mark(
                "done; CRIU's requests: source "
                    + StepTimer.criuDurations(under: source.root + "/run").joined(separator: ", ") + "; target "
                    + StepTimer.criuDurations(under: target.root + "/run").joined(separator: ", "))
            if sshd > 0 {
                kill(sshd, SIGKILL)
                _ = Reaper.wait(sshd)
            }
            try? RouteNetlink().deleteLink("br-migr")
            try? RouteNetlink().deleteLink("mgsrc0")
            #expect(source.tearDown() == [])
            #expect(target.tearDown() == [])
        }
        if let failure = CheckpointTests.criuCheck(source) {
            print("CheckpointTests: migrate skipped, \(failure)")
            #expect(ProcessInfo.processInfo.environment["BERTH_CRIU_REQUIRED"] != "1", "\(failure)")
            return
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd") else {
            Issue.record("sshd is missing: make deps-vm installs openssh-server")
            return
        }
        try FileManager.default.createDirectory(atPath: target.root, withIntermediateDirectories: true)
        timer.mark("criu check")
        sshd = try startTarget(target.root)
        timer.mark("sshd and veth")
        let targetGlobal = ["--state-dir", target.root + "/state", "--run-dir", target.root + "/run", "--cgroup-parent", target.parent]

        // The target has the container's network (its bridge in its namespace).
        let networkOnly = target.root + "/network"
        try FileManager.default.createDirectory(atPath: networkOnly, withIntermediateDirectories: true)
        let network = String(MigrateTests.counterManifest(disk: false).components(separatedBy: "---").first ?? "")
        try network.write(toFile: networkOnly + "/network.yaml", atomically: true, encoding: .utf8)
        try must(["/usr/bin/nsenter", "--net=/proc/\(sshd)/ns/net", ContainerCLITests.binary, "apply"] + targetGlobal + [networkOnly])
        timer.mark("target's network")

        let directory = source.root + "/manifests"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try MigrateTests.counterManifest(disk: disk).write(toFile: directory + "/counter.yaml", atomically: true, encoding: .utf8)
        let applied = try checkpoint.berth(source, ["apply", directory])
        #expect(applied.code == 0, "\(applied.output)")
        timer.mark("apply")
        // With a disk quota its layer is on the disk backend (an image here).
        let sourceUpper = disk ? "/state/containers/counter/disk/upper" : "/state/containers/counter/upper"
        #expect(!disk || Syscall.exists(source.root + "/state/containers/counter/disk/upper"), "no disk backend: \(applied.output)")
        #expect(eventually { checkpoint.lines(source, layer: sourceUpper).count >= 3 })
        timer.mark("3 counts")

        let ssh = [
            "--ssh-option", "IdentityFile=\(target.root)/userkey", "--ssh-option", "IdentitiesOnly=yes",
            "--ssh-option", "StrictHostKeyChecking=no", "--ssh-option", "UserKnownHostsFile=/dev/null",
        ]
        // A file and a directory in the layer, removed on the source once
        // the first copy has brought them to the target (while the memory
        // is pre-dumped): the second copy removes them there too.
        let layer = disk ? "/state/containers/counter/disk/upper/tmp" : "/state/containers/counter/upper/tmp"
        let sourceLayer = source.root + layer
        // The target's disk image is mounted in its sshd's mount namespace: seen through its root.
        let targetLayer = (disk ? "/proc/\(sshd)/root" : "") + target.root + layer
        try Syscall.makeDirectories(sourceLayer + "/gone-dir")
        for file in ["gone-file", "gone-dir/inner", "kept-file"] {
            try Syscall.writeAtomically(Array("x\n".utf8), to: sourceLayer + "/" + file, durable: false)
        }
        let global = ["--state-dir", source.root + "/state", "--run-dir", source.root + "/run", "--cgroup-parent", source.parent]
        let migrating = try Spawn.start(
            [ContainerCLITests.binary, "migrate", "--verbose"] + global
                + ["counter", "--to", "root@192.168.231.2", "--pre-dumps", "1", "--remote-berth", ContainerCLITests.binary]
                + ssh + ["--remote-state-dir", target.root + "/state", "--remote-run-dir", target.root + "/run"]
                + ["--remote-cgroup-parent", target.parent],
            outputPath: source.root + "/migrate.out")
        let firstCopy = eventually(seconds: 240) { Syscall.exists(targetLayer + "/gone-dir/inner") }
        if !firstCopy {
            // What the target's mount namespace holds there, and its mounts.
            let container = target.root + "/state/containers/counter"
            let listing = try? Spawn.run(
                ["/usr/bin/nsenter", "--mount=/proc/\(sshd)/ns/mnt", "/bin/ls", "-la", container, container + "/disk", container + "/disk/upper"],
                mergingStandardError: true)
            let mounts = (try? String(contentsOfFile: "/proc/\(sshd)/mountinfo", encoding: .utf8)) ?? ""
            let listed = listing.map { String(decoding: $0.output, as: UTF8.self) } ?? ""
            let ours = mounts.split(separator: "\n").filter { $0.contains("counter") || $0.contains("loop") }.joined(separator: "\n")
            Issue.record("not seen at \(targetLayer): \(listed)\n\(ours)")
        }
        timer.mark("first copy of the layer on the target")
        try Syscall.removeTree(sourceLayer + "/gone-dir")
        try Syscall.removeFile(sourceLayer + "/gone-file", missingOK: false)
        let status = Reaper.wait(migrating) ?? -1
        timer.mark("migrate")
        let migrated = (
            code: (status >> 8) & 0xff, output: (try? String(contentsOfFile: source.root + "/migrate.out", encoding: .utf8)) ?? ""
        )
        #expect(migrated.code == 0, "\(migrated.output)\n\((try? String(contentsOfFile: target.root + "/sshd.log", encoding: .utf8)) ?? "")")
        guard migrated.code == 0 else { return }
        if firstCopy {
            #expect(!Syscall.exists(targetLayer + "/gone-file") && !Syscall.exists(targetLayer + "/gone-dir"))
        }
        #expect(Syscall.exists(targetLayer + "/kept-file"))
        #expect(migrated.output.contains("migrated counter to root@192.168.231.2 (freeze "), "\(migrated.output)")
        #expect(migrated.output.contains("spec.placement.hostnames"), "\(migrated.output)")
        // The shared ssh connection is closed and its directory gone.
        let controls = ((try? FileManager.default.contentsOfDirectory(atPath: "/tmp")) ?? []).filter { $0.hasPrefix("berth-ssh-") }
        #expect(controls == [], "\(controls)")
        print("CheckpointTests: \(migrated.output)")

        // Gone here, running there, counting on from where it was.
        #expect(source.runtime.state.load("counter") == nil)
        let moved = targetLayer + "/count"
        func counted() -> [(pid: Int, count: Int)] {
            let text = (try? String(contentsOfFile: moved, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                let fields = line.split(separator: " ")
                guard fields.count == 2, let pid = Int(fields[0]), let count = Int(fields[1]) else { return nil }
                return (pid, count)
            }
        }
        let first = counted().count
        #expect(eventually { counted().count >= first + 3 })
        timer.mark("3 more counts on the target")
        let after = counted()
        #expect(after.map(\.count) == Array(1...max(after.count, 1)), "\(after.map(\.count))")
        #expect(Set(after.map(\.pid)).count == 1)
        guard case .running = target.runtime.status("counter") else {
            Issue.record("counter does not run on the target")
            return
        }
        if disk {
            #expect(migrated.output.contains("its disk quota on root@192.168.231.2: "), "\(migrated.output)")
            try checkDiskOnTarget(target, namespace: "/proc/\(sshd)/ns", global: targetGlobal)
        }
        // The target's berth stops it in its own namespace (its veth is there).
        try must(["/usr/bin/nsenter", "--net=/proc/\(sshd)/ns/net", ContainerCLITests.binary, "stop", "counter"] + targetGlobal)
    }

    /// On the target: a write past the 64 MiB quota is refused inside, and
    /// `berth plan` of the same manifests only records them as applied by
    /// the target's source; after that apply, nothing to do (the quota's
    /// limit and use observed).
    func checkDiskOnTarget(_ target: TestHost, namespace: String, global: [String]) throws {
        // In the target's namespaces: its disk image is mounted in the mount one.
        let inside = ["/usr/bin/nsenter", "--net=" + namespace + "/net", "--mount=" + namespace + "/mnt", ContainerCLITests.binary]
        let full = try Spawn.run(
            inside + ["exec"] + global + ["counter", "--", "/bin/sh", "-c", "dd if=/dev/zero of=/tmp/big bs=1M count=80 2>&1; echo rc=$?"],
            mergingStandardError: true)
        let written = String(decoding: full.output, as: UTF8.self)
        #expect(written.contains("No space left on device") || written.contains("Disk quota exceeded"), "\(written)")
        #expect(!written.contains("rc=0"), "\(written)")
        _ = try? Spawn.run(inside + ["exec"] + global + ["counter", "--", "/bin/rm", "-f", "/tmp/big"], mergingStandardError: true)
        let manifests = target.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try MigrateTests.counterManifest(disk: true).write(toFile: manifests + "/counter.yaml", atomically: true, encoding: .utf8)
        // The target's manifests are a source that has not applied it yet:
        // its inventory is recorded, and nothing in the kernel changes.
        let first = try Spawn.run(inside + ["plan", "--detailed-exitcode"] + global + [manifests], mergingStandardError: true)
        let firstText = String(decoding: first.output, as: UTF8.self)
        #expect((first.status >> 8) & 0xff == 2 && firstText.contains("Plan: 1 inventory to record"), "\(firstText)")
        let applied = try Spawn.run(inside + ["apply"] + global + [manifests], mergingStandardError: true)
        #expect(applied.exitedCleanly, "\(String(decoding: applied.output, as: UTF8.self))")
        let plan = try Spawn.run(inside + ["plan", "--detailed-exitcode"] + global + [manifests], mergingStandardError: true)
        #expect((plan.status >> 8) & 0xff == 0, "\(String(decoding: plan.output, as: UTF8.self))")
    }
}
