import Foundation
import Kernel
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// diskspace and diskinodes failcnt (issue 13): a write refused by the
/// container's project quota leaves no kernel counter, but the kernel
/// multicasts a quota warning (generic netlink family VFS_DQUOT, in the
/// initial network namespace only); `berth agent` counts them per
/// container. This machine's kernel has no quotas (no VFS_DQUOT family):
/// the VM lane's Debian kernel runs this.
extension DiskQuotaTests {
    @Test func aQuotaRefusalRaisesDiskFailcntWhileAnAgentCounts() throws {
        guard let (host, _, filesystem) = try DiskQuotaTests.projectQuotaHost() else { return }
        try DiskQuotaTests.refusalsAreCounted(host, "dq6", beforeTearDown: filesystem.cleanUp)
    }

    /// The image backend's space limit is project 1's block limit inside
    /// the image (the file a slack larger): a write past it fails with
    /// EDQUOT, not ENOSPC, and the same listener counts it; its inode limit
    /// too. Grown live, the write goes through. Needs ext4 quotas (the VM
    /// lane's kernel); here the image's size is the limit (DiskQuotaTests'
    /// first tests).
    @Test func aFullImageRefusesWithEDQUOTAndIsCountedWhileAnAgentCounts() throws {
        guard DiskImage.kernelHasQuotaFormat else { return }
        let host = try TestHost()
        #expect(!ProjectQuota.isEnforced(on: host.root), "the state dir enforces project quotas: the project-quota backend, not an image")
        try DiskQuotaTests.refusalsAreCounted(host, "dq7", image: true)
    }

    /// A container with a 16Mi, 200-inode quota under an agent: files past
    /// its inode limit, then a write past its space limit, fail inside, raise ubc's failcnt and the agent's event
    /// names the container; without an agent the rows say "not counted".
    /// `image`: the image backend, whose size is grown live at the end.
    /// `beforeTearDown` unmounts what the test mounted on the host's root.
    static func refusalsAreCounted(_ host: TestHost, _ name: String, image: Bool = false, beforeTearDown: () -> Void = {}) throws {
        let manifests = host.root + "/m"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try DiskQuotaTests.quotaManifest(name, size: "16Mi", inodes: 200).write(
            toFile: manifests + "/\(name).yaml", atomically: true, encoding: .utf8)
        let agent = try AgentTests.AgentProcess(host, ["--manifests", manifests, "--interval", "2s"])
        func berth(_ arguments: [String]) throws -> (code: Int32, output: String) { try DiskQuotaTests.berth(arguments, host: host) }
        defer {
            agent.kill()
            _ = try? berth(["apply", "--prune", "--yes", manifests])
            _ = try? berth(["apply", "--prune", "--yes"])
            beforeTearDown()
            #expect(host.tearDown() == [])
        }
        #expect(agent.waitFor(seconds: 120) { $0.contains("READY=1") } != nil, "\(agent.output)")
        #expect(!agent.output.contains("disk quota refusals not counted"), "\(agent.output)")

        /// diskspace and diskinodes of `ubc -o json`: failcnt and its source.
        func failcnts() throws -> [String: (failcnt: UInt64, source: String)] {
            let ubc = try berth(["ubc", name, "-o", "json"])
            let rows = (try? JSONSerialization.jsonObject(with: Data(ubc.output.utf8)) as? [[String: Any]]) ?? []
            var result: [String: (UInt64, String)] = [:]
            for row in rows {
                guard let resource = row["resource"] as? String, resource.hasPrefix("disk") else { continue }
                let source = ((row["source"] as? [String: Any])?["failcnt"] as? String) ?? ""
                result[resource] = ((row["failcnt"] as? NSNumber)?.uint64Value ?? 0, source)
            }
            return result
        }
        let before = try failcnts()
        #expect(before["diskspace"]?.failcnt == 0 && before["diskspace"]?.source == DiskRefusals.source, "\(before)")

        // 300 files do not fit in 200 inodes: diskinodes counts. First, on
        // a layer far below its space limit: a directory block refused by
        // the space quota (blocks of an earlier write not yet given back)
        // would end the loop before the inode limit, with no inode warning.
        let files = try berth([
            "exec", name, "--", "/bin/sh", "-c",
            "mkdir /many; (for i in $(seq 1 300); do touch /many/f$i || { echo failed-at=$i; exit 1; }; done) 2>&1; echo rc=$?",
        ])
        // ext4 says EDQUOT; XFS, ENOSPC for a project quota.
        let refusedByQuota = files.output.contains("Disk quota exceeded") || (!image && files.output.contains("No space left"))
        #expect(files.output.contains("rc=1") && refusedByQuota, "\(files.output)")
        func reports(_ resource: String) -> [Substring] {
            agent.output.split(separator: "\n").filter { $0.contains(name) && $0.contains(resource) && $0.contains("refused") }
        }
        let inodesCounted = DiskQuotaTests.within(seconds: 60) { ((try? failcnts())?["diskinodes"]?.failcnt ?? 0) >= 1 }
        let seen = "\(files.output)\n\((try? berth(["status", name]))?.output ?? "")\n\((try? failcnts()).map { "\($0)" } ?? "")"
        #expect(inodesCounted, "\(seen)\n\(agent.output)")
        #expect(DiskQuotaTests.within(seconds: 60) { !reports("diskinodes").isEmpty }, "\(agent.output)")
        _ = try berth(["exec", name, "--", "/bin/rm", "-rf", "/many"])

        // A write past 16Mi is refused inside (ext4 EDQUOT, XFS ENOSPC for a project).
        let full = try berth(["exec", name, "--", "/bin/sh", "-c", "dd if=/dev/zero of=/big bs=1M count=40 2>&1; echo rc=$?"])
        #expect(full.output.contains("rc=1"), "\(full.output)")
        if image {
            // The quota refused, before the image (a slack larger) was full.
            #expect(full.output.contains("Disk quota exceeded") && !full.output.contains("No space left"), "\(full.output)")
        }
        #expect(DiskQuotaTests.within(seconds: 60) { ((try? failcnts())?["diskspace"]?.failcnt ?? 0) >= 1 }, "\(agent.output)")
        #expect(DiskQuotaTests.within(seconds: 60) { !reports("diskspace").isEmpty }, "\(agent.output)")
        let space = try failcnts()["diskspace"]?.failcnt ?? 0
        #expect(reports("diskspace").last?.contains("\(space)") == true, "\(agent.output)")
        let metrics = try berth(["metrics"])
        #expect(metrics.output.contains("berth_failcnt{name=\"\(name)\",resource=\"diskspace\"} \(space)"), "\(metrics.output)")
        #expect(metrics.output.contains("berth_failcnt{name=\"\(name)\",resource=\"diskinodes\"}"), "\(metrics.output)")

        if image {
            // Grown live (the image and its block limit): 30 MiB now fit.
            _ = try berth(["exec", name, "--", "/bin/sh", "-c", "rm -rf /many /big"])
            try DiskQuotaTests.quotaManifest(name, size: "64Mi", inodes: 200).write(
                toFile: manifests + "/\(name).yaml", atomically: true, encoding: .utf8)
            let grown = try berth(["apply", manifests])
            #expect(grown.code == 0, "\(grown.output)")
            let fits = try berth(["exec", name, "--", "/bin/sh", "-c", "dd if=/dev/zero of=/big bs=1M count=30 2>&1 && echo fits"])
            #expect(fits.output.contains("fits"), "\(fits.output)")
            let status = try berth(["status", name])
            #expect(status.output.contains("of 64") && status.output.contains("with a project quota"), "\(status.output)")
            let disk = DiskImage(image: host.root + "/state/containers/\(name)/disk.img", mountPoint: host.root + "/state/containers/\(name)/disk")
            #expect(disk.size == DiskImage.imageSize(forLimit: 64 << 20))
        }

        // Without an agent the rows say they are not counted (not a silent 0).
        agent.kill()
        let after = try failcnts()
        #expect(after["diskspace"]?.source == DiskRefusals.notCounted && after["diskinodes"]?.source == DiskRefusals.notCounted, "\(after)")
    }

    /// Whether `condition` holds within `seconds` of wall time (each look
    /// runs berth, which takes seconds under qemu without KVM: a bound by
    /// count of looks would wait for minutes).
    static func within(seconds: UInt64, _ condition: () -> Bool) -> Bool {
        let deadline = MonotonicClock.milliseconds() + seconds * 1000
        while MonotonicClock.milliseconds() < deadline {
            if condition() { return true }
            usleep(250_000)
        }
        return condition()
    }
}
