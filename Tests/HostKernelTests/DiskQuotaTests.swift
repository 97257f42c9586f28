import Foundation
import Kernel
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// resources.disk.size (issue 13, first level): the private layer on a
/// loop-mounted ext4 image of that size. Checked as a user would: a write
/// past the quota fails inside with ENOSPC, the host's files are untouched,
/// the quota grows live (same init), shrinks at a restart, and the image,
/// its mount and its loop device go with the container.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct DiskQuotaTests {
    static func manifest(_ name: String, disk: String?, persistent: Bool = false) -> String {
        var text = AgentTests.manifest(name)
        if let disk { text = text.replacingOccurrences(of: "pids: {max: 64}}", with: "pids: {max: 64}, disk: {size: \(disk)}}") }
        if persistent { text = text.replacingOccurrences(of: "rootfs: {template: busybox}", with: "rootfs: {template: busybox, persistent: true}") }
        return text
    }

    /// berth's output and exit code; its events (logged at info) left out.
    static func berth(_ arguments: [String], global: [String]) throws -> (code: Int32, output: String) {
        let result = try Spawn.run(
            ["/usr/bin/env", "BERTH_JOURNAL_SOCKET=/nonexistent", "BERTH_LOG_LEVEL=error", ContainerCLITests.binary, arguments[0]] + global
                + arguments.dropFirst(), mergingStandardError: true)
        return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
    }

    /// berth against the test host's state dir, run dir and cgroup parent.
    static func berth(_ arguments: [String], host: TestHost) throws -> (code: Int32, output: String) {
        try berth(arguments, global: ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent])
    }

    func mountLine(_ path: String) -> String? {
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        return mounts.split(separator: "\n").first { $0.split(separator: " ").dropFirst(4).first.map(String.init) == path }.map(String.init)
    }

    /// `berth ubc NAME -o json`: diskspace (1K blocks) and diskinodes are
    /// the image's statfs, numfile's limit the init's RLIMIT_NOFILE, each
    /// row naming where the kernel keeps it.
    @Test func ubcShowsTheDiskQuotaAndNumfileWithTheirSources() throws {
        let host = try TestHost()
        let berth = { (arguments: [String]) in try DiskQuotaTests.berth(arguments, host: host) }
        defer { #expect(host.tearDown() == []) }  // after the prune below
        defer { _ = try? berth(["apply", "--prune", "--yes"]) }
        let manifests = host.root + "/m"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        let text = DiskQuotaTests.manifest("dq3", disk: "16Mi").replacingOccurrences(of: "pids: {max: 64}", with: "pids: {max: 64}, numfile: 100")
        try text.write(toFile: manifests + "/dq3.yaml", atomically: true, encoding: .utf8)
        let applied = try berth(["apply", manifests])
        #expect(applied.code == 0, "\(applied.output)")
        let written = try berth(["exec", "dq3", "--", "/bin/sh", "-c", "dd if=/dev/zero of=/two bs=1M count=2 2>&1 && sync"])
        #expect(written.code == 0, "\(written.output)")

        let ubc = try berth(["ubc", "dq3", "-o", "json"])
        #expect(ubc.code == 0, "\(ubc.output)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(ubc.output.utf8)) as? [[String: Any]], "\(ubc.output)")
        func row(_ resource: String) -> [String: Any]? { rows.first { $0["resource"] as? String == resource } }
        func figure(_ row: [String: Any]?, _ key: String) -> UInt64? { (row?[key] as? NSNumber)?.uint64Value }
        func source(_ row: [String: Any]?, _ key: String) -> String { ((row?["source"] as? [String: Any])?[key] as? String) ?? "" }

        var info = statvfs()
        #expect(statvfs(host.root + "/state/containers/dq3/disk", &info) == 0)
        let space = row("diskspace")
        #expect(space?["unit"] as? String == "kilobytes")
        #expect((figure(space, "limit") ?? 0) <= 16384 && (figure(space, "held") ?? 0) >= 2048, "\(ubc.output)")
        #expect(figure(space, "barrier") == figure(space, "limit"))
        if DiskImage.kernelHasQuotaFormat {
            // The size as written: project 1's block limit inside the image.
            #expect(figure(space, "limit") == 16384, "\(ubc.output)")
            #expect(source(space, "limit") == "the project quota inside its disk image (quotactl): block limit", "\(ubc.output)")
            #expect(source(space, "failcnt") == DiskRefusals.notCounted, "\(ubc.output)")
        } else {
            #expect(figure(space, "limit") == UInt64(info.f_blocks) * UInt64(info.f_frsize) / 1024)
            #expect(source(space, "limit").hasPrefix("statfs of its mounted disk image"), "\(ubc.output)")
            #expect(source(space, "failcnt") == Beancounters.imageNotCounted, "\(ubc.output)")
        }
        let inodes = row("diskinodes")
        #expect(figure(inodes, "limit") == UInt64(info.f_files) && (figure(inodes, "held") ?? 0) > 0, "\(ubc.output)")
        #expect(source(inodes, "held").hasPrefix("statfs") && source(inodes, "limit").hasPrefix("statfs"), "\(ubc.output)")
        let files = row("numfile")
        #expect(figure(files, "limit") == 100 && figure(files, "barrier") == 100, "\(ubc.output)")
        #expect(source(files, "limit").hasPrefix("RLIMIT_NOFILE of its init"), "\(ubc.output)")
    }

    @Test func aWritePastTheQuotaFailsInsideAndTheQuotaGrowsLive() throws {
        let host = try TestHost()
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        func berth(_ arguments: [String]) throws -> (code: Int32, output: String) {
            try DiskQuotaTests.berth(arguments, global: global)
        }
        func inside(_ script: String) throws -> (code: Int32, output: String) {
            try berth(["exec", "dq1", "--", "/bin/sh", "-c", script])
        }
        defer {
            _ = try? berth(["apply", "--prune", "--yes"])
            #expect(host.tearDown() == [])
        }
        let manifests = host.root + "/m"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try DiskQuotaTests.manifest("dq1", disk: "16Mi").write(toFile: manifests + "/dq1.yaml", atomically: true, encoding: .utf8)
        let applied = try berth(["apply", manifests])
        #expect(applied.code == 0, "\(applied.output)")
        let image = host.root + "/state/containers/dq1/disk.img"
        let mountPoint = host.root + "/state/containers/dq1/disk"
        // Where the kernel has ext4 quotas, the limit is project 1's block
        // limit inside the image, the file a slack larger.
        let quotas = DiskImage.kernelHasQuotaFormat
        func imageSize(_ limit: UInt64) -> UInt64 { quotas ? DiskImage.imageSize(forLimit: limit) : limit }
        #expect(DiskImage(image: image, mountPoint: mountPoint).size == imageSize(16 << 20))
        let mounted = try #require(mountLine(mountPoint), "the image is not mounted")
        #expect(mounted.contains(" - ext4 /dev/loop") && mounted.contains("nosuid") && mounted.contains("nodev"), "\(mounted)")
        #expect(try berth(["status", "dq1"]).output.contains("loop-mounted ext4"))
        #expect(try berth(["plan", "--detailed-exitcode", manifests]).code == 0)

        // 40 MiB do not fit in 16Mi: EDQUOT (ENOSPC without quotas) inside;
        // the state dir's filesystem is not what filled up.
        let full = try inside("dd if=/dev/zero of=/big bs=1M count=40 2>&1; echo rc=$?")
        #expect(full.output.contains(quotas ? "Disk quota exceeded" : "No space left on device"), "\(full.output)")
        let written = (try? FileManager.default.attributesOfItem(atPath: mountPoint + "/upper/big")[.size] as? UInt64) ?? nil
        #expect((written ?? 0) < 16 << 20)
        _ = try inside("rm -f /big")

        // Grown live: planned as update-live, the same init, and 30 MiB now
        // fit. Without CAP_SYS_RESOURCE (this machine's root lacks it; the VM
        // lane's has it) the kernel refuses online resizing: then it is
        // planned for the next start, and grows there, unmounted.
        let pid = host.runtime.state.load("dq1")?.pid
        try DiskQuotaTests.manifest("dq1", disk: "64Mi").write(toFile: manifests + "/dq1.yaml", atomically: true, encoding: .utf8)
        let plan = try berth(["plan", manifests])
        if DiskImage.growsOnline {
            #expect(plan.output.contains("update-live Container/dq1 spec.resources.disk.size: 16Mi → 64Mi"), "\(plan.output)")
            let grown = try berth(["apply", manifests])
            #expect(grown.code == 0, "\(grown.output)")
            #expect(host.runtime.state.load("dq1")?.pid == pid)
        } else {
            #expect(plan.output.contains("pending-restart Container/dq1 spec.resources.disk.size: 16Mi → 64Mi"), "\(plan.output)")
            let grown = try berth(["apply", "--restart", manifests])
            #expect(grown.code == 0, "\(grown.output)")
        }
        #expect(DiskImage(image: image, mountPoint: mountPoint).size == imageSize(64 << 20))
        let fits = try inside("dd if=/dev/zero of=/big bs=1M count=30 2>&1 && echo fits")
        #expect(fits.output.contains("fits"), "\(fits.output)")
        #expect(try berth(["drift", "--detailed-exitcode", manifests]).code == 0)

        // Changed behind berth's back (the block limit, or the image): drift.
        if quotas {
            try ProjectQuota.setLimits(bytes: 80 << 20, inodes: nil, of: DiskImage.projectID, on: mountPoint)
        } else {
            #expect(truncate(image, 80 << 20) == 0)
        }
        let drift = try berth(["drift", "--detailed-exitcode", manifests])
        #expect(drift.code == 2 && drift.output.contains("spec.resources.disk.size"), "\(drift.output)")

        // Shrunk: pending until a restart, refused while the files do not
        // fit, then taken at the restart.
        try DiskQuotaTests.manifest("dq1", disk: "32Mi").write(toFile: manifests + "/dq1.yaml", atomically: true, encoding: .utf8)
        let pending = try berth(["plan", manifests])
        #expect(pending.output.contains("pending-restart Container/dq1 spec.resources.disk.size: 80Mi → 32Mi"), "\(pending.output)")
        let running = host.runtime.state.load("dq1")?.pid
        _ = try inside("dd if=/dev/zero of=/more bs=1M count=10")
        let tooFull = try berth(["apply", "--restart", manifests])
        let refusal = quotas ? "its files use" : "do not fit in a 32Mi disk image"
        #expect(tooFull.code == 1 && tooFull.output.contains(refusal), "\(tooFull.output)")
        #expect(DiskImage(image: image, mountPoint: mountPoint).size == (quotas ? imageSize(64 << 20) : 80 << 20))
        // Refused before anything stopped: the same init runs on.
        #expect(host.runtime.state.load("dq1")?.pid == running)
        _ = try inside("rm -f /big /more")
        let shrunk = try berth(["apply", "--restart", manifests])
        #expect(shrunk.code == 0, "\(shrunk.output)")
        #expect(DiskImage(image: image, mountPoint: mountPoint).size == imageSize(32 << 20))
        #expect(try berth(["plan", "--detailed-exitcode", manifests]).code == 0)

        // Deleted: unmounted, the loop device detached, the image gone.
        let loop = mountLine(mountPoint)?.split(separator: " ").dropFirst(9).first.map(String.init)
        #expect(try berth(["apply", "--prune", "--yes"]).code == 0)
        #expect(mountLine(mountPoint) == nil)
        #expect(!FileManager.default.fileExists(atPath: image))
        if let loop, let name = loop.split(separator: "/").last {
            #expect(!FileManager.default.fileExists(atPath: "/sys/block/\(name)/loop/backing_file"), "\(loop) still attached")
        }
    }

    /// A fresh state dir whose first container has a disk quota: a
    /// user-namespace container made after it (with a quota too) still
    /// starts; its mapped root can reach its private layer.
    @Test func aUserNamespaceContainerStartsAfterAQuotaOneMadeTheStateDir() throws {
        let host = try TestHost()
        let berth = { (arguments: [String]) in try DiskQuotaTests.berth(arguments, host: host) }
        defer { #expect(host.tearDown() == []) }  // after the prune below
        defer { _ = try? berth(["apply", "--prune", "--yes"]) }
        let manifests = host.root + "/m"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try DiskQuotaTests.manifest("dq5", disk: "16Mi").write(toFile: manifests + "/dq5.yaml", atomically: true, encoding: .utf8)
        let first = try berth(["apply", manifests])
        #expect(first.code == 0, "\(first.output)")
        let mapped = DiskQuotaTests.manifest("dq6", disk: "16Mi").replacingOccurrences(
            of: "  restartPolicy:", with: "  userNamespace: {uidMap: [{containerID: 0, hostID: 200000, size: 65536}]}\n  restartPolicy:")
        try mapped.write(toFile: manifests + "/dq6.yaml", atomically: true, encoding: .utf8)
        let second = try berth(["apply", manifests])
        #expect(second.code == 0, "\(second.output)")
        let written = try berth(["exec", "dq6", "--", "/bin/sh", "-c", "echo x > /written && cat /proc/self/uid_map"])
        #expect(written.code == 0 && written.output.contains("200000"), "\(written.output)")
    }

    @Test func aPersistentImageIsKeptAndAContainerWithoutOneIsNotMovedSilently() throws {
        let host = try TestHost()
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        func berth(_ arguments: [String]) throws -> (code: Int32, output: String) {
            try DiskQuotaTests.berth(arguments, global: global)
        }
        defer {
            _ = try? berth(["apply", "--prune", "--yes"])
            try? FileManager.default.removeItem(atPath: host.root + "/state/containers")
            #expect(host.tearDown() == [])
        }
        let manifests = host.root + "/m"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try DiskQuotaTests.manifest("dq2", disk: nil).write(toFile: manifests + "/dq2.yaml", atomically: true, encoding: .utf8)
        #expect(try berth(["apply", manifests]).code == 0)
        // A quota added to a running container: its private layer would move
        // into an image, so it is a replace, never done silently.
        try DiskQuotaTests.manifest("dq2", disk: "16Mi").write(toFile: manifests + "/dq2.yaml", atomically: true, encoding: .utf8)
        let plan = try berth(["plan", manifests])
        #expect(plan.output.contains("replace Container/dq2 spec.resources.disk.size: absent → 16Mi"), "\(plan.output)")
        #expect(try berth(["apply", "--replace", manifests]).code == 0)
        #expect(FileManager.default.fileExists(atPath: host.root + "/state/containers/dq2/disk.img"))

        // persistent: delete keeps the image (unmounted).
        try DiskQuotaTests.manifest("dq2", disk: "16Mi", persistent: true).write(
            toFile: manifests + "/dq2.yaml", atomically: true, encoding: .utf8)
        #expect(try berth(["apply", manifests]).code == 0)
        _ = try berth(["exec", "dq2", "--", "/bin/sh", "-c", "echo kept > /data.txt"])
        #expect(try berth(["apply", "--prune", "--yes"]).code == 0)
        #expect(FileManager.default.fileExists(atPath: host.root + "/state/containers/dq2/disk.img"))
        #expect(mountLine(host.root + "/state/containers/dq2/disk") == nil)
        // Made again from it: its files are there.
        #expect(try berth(["apply", manifests]).code == 0)
        let kept = try berth(["exec", "dq2", "--", "/bin/cat", "/data.txt"])
        #expect(kept.output.hasSuffix("kept\n"), "\(kept.output)")
    }
}
