import Foundation
import Kernel
import Model
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 13's inode limits and project-quota backend, checked as a user
/// would: a write or a new file past the quota fails inside with EDQUOT,
/// the limits change live (same init), drift in the kernel's quota shows,
/// and the host is unaffected. This machine's kernel has no filesystem
/// quotas (CONFIG_QFMT_V2 and CONFIG_XFS_QUOTA are off): here the tests
/// check that berth says so; the VM lane's Debian kernel enforces them.
extension DiskQuotaTests {
    /// Whether this kernel has ext4's quota format (quota_v2, loaded or built in).
    static let kernelHasExt4Quota: Bool = {
        if let modules = try? String(contentsOfFile: "/proc/modules", encoding: .utf8), modules.contains("quota_v2 ") { return true }
        guard let symbols = try? String(contentsOfFile: "/proc/kallsyms", encoding: .utf8) else { return false }
        return symbols.contains(" v2_read_file_info")
    }()

    static func quotaManifest(_ name: String, size: String, inodes: Int?) -> String {
        manifest(name, disk: inodes.map { "\(size), inodes: \($0)" } ?? size)
    }

    /// A filesystem that enforces project quotas mounted on `directory`
    /// (the test's state dir): XFS with prjquota, else ext4 with the
    /// project and quota features; nil when this kernel enforces neither.
    /// The returned closure unmounts it and detaches its loop device.
    static func projectQuotaFilesystem(on directory: String, image: String) throws -> (kind: String, cleanUp: () -> Void)? {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func run(_ arguments: [String]) -> (ok: Bool, output: String) {
            guard let result = try? Spawn.run(arguments, mergingStandardError: true) else { return (false, "") }
            return (result.exitedCleanly, String(decoding: result.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let formats: [(kind: String, size: String, mkfs: [String])] = [
            ("xfs", "320M", ["/usr/sbin/mkfs.xfs", "-q", "-f", image]),
            ("ext4", "256M", ["/usr/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-O", "quota,project", "-E", "quotatype=prjquota", image]),
        ]
        for format in formats where FileManager.default.fileExists(atPath: format.mkfs[0]) {
            _ = unlink(image)
            guard run(["/usr/bin/truncate", "-s", format.size, image]).ok, run(format.mkfs).ok else { continue }
            let attached = run(["/usr/sbin/losetup", "-f", "--show", image])
            guard attached.ok, attached.output.hasPrefix("/dev/loop") else { continue }
            let device = attached.output
            if run(["/usr/bin/mount", "-t", format.kind, "-o", "prjquota", device, directory]).ok {
                // The filesystem's root is the state dir: root's only, as berth makes it.
                chmod(directory, 0o700)
                return (
                    format.kind,
                    {
                        let unmounted = run(["/usr/bin/umount", directory])
                        if !unmounted.ok { print("DiskQuotaTests: umount \(directory): \(unmounted.output)") }
                        _ = run(["/usr/sbin/losetup", "-d", device])
                        _ = unlink(image)
                    }
                )
            }
            _ = run(["/usr/sbin/losetup", "-d", device])
        }
        _ = unlink(image)
        return nil
    }

    @Test func anInodeLimitOnTheImageIsEnforcedInsideAndChangesLive() throws {
        let host = try TestHost()
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        func berth(_ arguments: [String]) throws -> (code: Int32, output: String) {
            try DiskQuotaTests.berth(arguments, global: global)
        }
        func inside(_ script: String) throws -> (code: Int32, output: String) {
            try berth(["exec", "dq3", "--", "/bin/sh", "-c", script])
        }
        defer {
            _ = try? berth(["apply", "--prune", "--yes"])
            #expect(host.tearDown() == [])
        }
        let manifests = host.root + "/m"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        let file = manifests + "/dq3.yaml"
        try DiskQuotaTests.quotaManifest("dq3", size: "32Mi", inodes: 64).write(toFile: file, atomically: true, encoding: .utf8)
        let image = host.root + "/state/containers/dq3/disk.img"
        let applied = try berth(["apply", manifests])
        guard DiskQuotaTests.kernelHasExt4Quota else {
            // Refused before anything is made, at the field's line, saying why;
            // plan refuses it the same way.
            #expect(applied.code == 1 && applied.output.contains("cannot enforce ext4 quotas"), "\(applied.output)")
            #expect(applied.output.contains("/dq3.yaml:") && applied.output.contains("spec.resources.disk.inodes:"), "\(applied.output)")
            #expect(applied.output.contains("nothing was planned or changed"), "\(applied.output)")
            #expect(try berth(["plan", manifests]).output.contains("spec.resources.disk.inodes:"))
            #expect(!FileManager.default.fileExists(atPath: image))
            #expect(!FileManager.default.fileExists(atPath: host.root + "/state/containers/dq3"))
            return
        }
        #expect(applied.code == 0, "\(applied.output)")
        #expect(DiskImage(image: image, mountPoint: host.root + "/state/containers/dq3/disk").hasProjectQuota)
        let status = try berth(["status", "dq3"]).output
        #expect(status.contains("of 64 inodes") && status.contains("with a project quota"), "\(status)")
        #expect(try berth(["plan", "--detailed-exitcode", manifests]).code == 0)

        // 100 files do not fit in 64 inodes: EDQUOT inside.
        let full = try inside("mkdir /many; (for i in $(seq 1 100); do touch /many/f$i || exit 1; done) 2>&1; echo rc=$?")
        #expect(full.output.contains("Disk quota exceeded") && full.output.contains("rc=1"), "\(full.output)")
        _ = try inside("rm -rf /many")

        // spec.resources.disk.inodes raised live: same init, and they fit.
        let pid = host.runtime.state.load("dq3")?.pid
        try DiskQuotaTests.quotaManifest("dq3", size: "32Mi", inodes: 512).write(toFile: file, atomically: true, encoding: .utf8)
        let plan = try berth(["plan", manifests])
        #expect(plan.output.contains("update-live Container/dq3 spec.resources.disk.inodes: 64 → 512"), "\(plan.output)")
        let raised = try berth(["apply", manifests])
        #expect(raised.code == 0, "\(raised.output)")
        #expect(host.runtime.state.load("dq3")?.pid == pid)
        let fits = try inside("mkdir /many; for i in $(seq 1 100); do touch /many/f$i || exit 1; done && echo fits")
        #expect(fits.output.contains("fits"), "\(fits.output)")
        #expect(try berth(["drift", "--detailed-exitcode", manifests]).code == 0)

        // Changed behind berth's back (quotactl from outside): drift, repaired live.
        try ProjectQuota.setLimits(bytes: 32 << 20, inodes: 1000, of: DiskImage.projectID, on: host.root + "/state/containers/dq3/disk")
        let drift = try berth(["drift", "--detailed-exitcode", manifests])
        #expect(drift.code == 2 && drift.output.contains("spec.resources.disk.inodes"), "\(drift.output)")
        #expect(try berth(["apply", manifests]).code == 0)
        #expect(try berth(["drift", "--detailed-exitcode", manifests]).code == 0)
    }

    /// A test host whose state dir is a filesystem with project quotas;
    /// nil (the host torn down) where this kernel enforces none: the image
    /// backend is what berth uses here, and the VM lane runs the test.
    static func projectQuotaHost() throws -> (host: TestHost, state: String, filesystem: (kind: String, cleanUp: () -> Void))? {
        let host = try TestHost()
        let state = host.root + "/state"
        guard let filesystem = try projectQuotaFilesystem(on: state, image: host.root + "/fs.img") else {
            #expect(!ProjectQuota.isEnforced(on: "/"))
            _ = host.tearDown()
            return nil
        }
        return (host, state, filesystem)
    }

    @Test func aProjectQuotaHoldsTheDiskQuotaWhereTheStateDirHasThem() throws {
        guard let (host, state, filesystem) = try DiskQuotaTests.projectQuotaHost() else { return }
        let global = ["--state-dir", state, "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        func berth(_ arguments: [String]) throws -> (code: Int32, output: String) {
            try DiskQuotaTests.berth(arguments, global: global)
        }
        func inside(_ name: String, _ script: String) throws -> (code: Int32, output: String) {
            try berth(["exec", name, "--", "/bin/sh", "-c", script])
        }
        defer {
            _ = try? berth(["apply", "--prune", "--yes"])
            // The trash emptier the prune started works in the state dir:
            // waited for before its filesystem is unmounted (else busy, and
            // the test's root is left behind: CI of stop 18).
            host.runtime.state.trash.emptyNow()
            filesystem.cleanUp()
            #expect(host.tearDown() == [])
        }
        #expect(ProjectQuota.isEnforced(on: state), "\(filesystem.kind) mounted with prjquota does not enforce project quotas")
        let manifests = host.root + "/m"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try DiskQuotaTests.quotaManifest("dq4", size: "16Mi", inodes: 200).write(toFile: manifests + "/dq4.yaml", atomically: true, encoding: .utf8)
        try DiskQuotaTests.quotaManifest("dq5", size: "16Mi", inodes: nil).write(toFile: manifests + "/dq5.yaml", atomically: true, encoding: .utf8)
        let applied = try berth(["apply", manifests])
        #expect(applied.code == 0, "\(applied.output)")
        let layer = state + "/containers/dq4/disk"
        // No image, no loop device: a directory with a project ID of its own.
        #expect(!FileManager.default.fileExists(atPath: state + "/containers/dq4/disk.img"))
        let project = try ProjectQuota.project(of: layer)
        #expect(project.id != 0 && project.inherits)
        #expect(try ProjectQuota.project(of: state + "/containers/dq5/disk").id != project.id)
        let status = try berth(["status", "dq4"]).output
        #expect(status.contains("project quota \(project.id)") && status.contains("of 200 inodes"), "\(status)")
        #expect(try berth(["plan", "--detailed-exitcode", manifests]).code == 0)

        // 40 MiB do not fit in 16Mi: the write fails inside (ext4 answers
        // EDQUOT, XFS ENOSPC for a project: a project is a directory tree's
        // "disk"); the other container and the host write on.
        func refused(_ output: String) -> Bool { output.contains("Disk quota exceeded") || output.contains("No space left on device") }
        let full = try inside("dq4", "dd if=/dev/zero of=/big bs=1M count=40 2>&1; echo rc=$?; wc -c < /big")
        #expect(refused(full.output) && full.output.contains("rc=1"), "\(full.output)")
        let written = full.output.split(separator: "\n").last.flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        #expect((written ?? .max) <= 16 << 20, "\(full.output)")
        let other = try inside("dq5", "dd if=/dev/zero of=/other bs=1M count=8 2>&1 && echo fits")
        #expect(other.output.contains("fits"), "\(other.output)")
        #expect(FileManager.default.createFile(atPath: state + "/host-file", contents: Data(count: 8 << 20)))
        _ = unlink(state + "/host-file")
        let files = try inside("dq4", "rm -f /big; mkdir /many; (for i in $(seq 1 300); do touch /many/f$i || exit 1; done) 2>&1; echo rc=$?")
        #expect(refused(files.output) && files.output.contains("rc=1"), "\(files.output)")
        _ = try inside("dq4", "rm -rf /many")

        // spec.resources.disk.size grown live (no capability needed): same init, 30 MiB fit.
        let pid = host.runtime.state.load("dq4")?.pid
        try DiskQuotaTests.quotaManifest("dq4", size: "64Mi", inodes: 200).write(toFile: manifests + "/dq4.yaml", atomically: true, encoding: .utf8)
        let plan = try berth(["plan", manifests])
        #expect(plan.output.contains("update-live Container/dq4 spec.resources.disk.size: 16Mi → 64Mi"), "\(plan.output)")
        #expect(try berth(["apply", manifests]).code == 0)
        #expect(host.runtime.state.load("dq4")?.pid == pid)
        let fits = try inside("dq4", "dd if=/dev/zero of=/big bs=1M count=30 2>&1 && echo fits")
        #expect(fits.output.contains("fits"), "\(fits.output)")

        // Shrunk live too: refused below the use (naming it), taken above it.
        try DiskQuotaTests.quotaManifest("dq4", size: "24Mi", inodes: 200).write(toFile: manifests + "/dq4.yaml", atomically: true, encoding: .utf8)
        let shrink = try berth(["plan", manifests])
        #expect(shrink.output.contains("update-live Container/dq4 spec.resources.disk.size: 64Mi → 24Mi"), "\(shrink.output)")
        let refused = try berth(["apply", manifests])
        #expect(refused.code == 1 && refused.output.contains("its files use"), "\(refused.output)")
        #expect(try ProjectQuota.usage(of: project.id, on: layer).bytesLimit == 64 << 20)
        _ = try inside("dq4", "rm -f /big; sync")
        // XFS frees an unlinked file's blocks in the background: its use may lag the rm a moment.
        var shrunk = try berth(["apply", manifests])
        for _ in 0..<20 where shrunk.code != 0 {
            usleep(250_000)
            shrunk = try berth(["apply", manifests])
        }
        #expect(shrunk.code == 0, "\(shrunk.output)")
        #expect(try ProjectQuota.usage(of: project.id, on: layer).bytesLimit == 24 << 20)
        #expect(host.runtime.state.load("dq4")?.pid == pid)

        // Changed behind berth's back: drift names the field.
        try ProjectQuota.setLimits(bytes: 80 << 20, inodes: 200, of: project.id, on: layer)
        let drift = try berth(["drift", "--detailed-exitcode", manifests])
        #expect(drift.code == 2 && drift.output.contains("spec.resources.disk.size"), "\(drift.output)")
        #expect(try berth(["apply", manifests]).code == 0)
        #expect(try berth(["drift", "--detailed-exitcode", manifests]).code == 0)

        // Deleted: its directory goes and its project has no limits left.
        #expect(try berth(["apply", "--prune", "--yes"]).code == 0)
        #expect(!FileManager.default.fileExists(atPath: layer))
        let left = try? ProjectQuota.usage(of: project.id, on: state)
        #expect(left == nil || (left?.bytesLimit == nil && left?.inodesLimit == nil), "\(String(describing: left))")
    }
}

extension DiskQuotaTests {
    /// resources.disk.userQuota is refused (validate) because the kernel
    /// refuses container root in every configuration berth runs: its root is
    /// overlayfs, which has no quota operations (quotactl_fd: ENOSYS, even
    /// for a privileged container), and quotactl needs CAP_SYS_ADMIN of
    /// the host's user namespace, which a default container lacks (its
    /// seccomp filter or the kernel: EPERM). quota-probe tries what
    /// setquota would.
    @Test func containerRootCannotSetAUserQuotaOnItsOwnRoot() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let directory = host.root + "/probe"
        try Syscall.makeDirectories(directory)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("EscapeProbe/quota-probe.c")
        let built = try Spawn.run(["/usr/bin/cc", "-static", "-O1", "-o", directory + "/quota-probe", source.path], mergingStandardError: true)
        #expect(built.exitedCleanly, "\(String(decoding: built.output, as: UTF8.self))")
        // A privileged container gets every capability: where berth's own
        // root lacks one (this machine's lacks CAP_SYS_RESOURCE) it cannot
        // start, so it is tried where berth has them (the VM lane).
        for privileged in DiskImage.growsOnline ? [false, true] : [false] {
            let name = privileged ? "uq2" : "uq1"
            let container = host.container(name, command: ["/bin/sleep", "600"]) { spec in
                spec.mounts = [MountSpec(type: .bind, source: directory, destination: "/probe", readOnly: true)]
                if privileged {
                    var security = SecuritySpec()
                    security.privileged = true
                    spec.security = security
                }
            }
            _ = try host.runtime.start(container)
            let answer = try DiskQuotaTests.berth(
                ["exec", name, "--", "/probe/quota-probe", "/"],
                global: ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent])
            let word = answer.output.split(separator: "\n").last.map(String.init) ?? ""
            #expect(["ENOSYS", "EPERM"].contains(word), "privileged \(privileged): \(answer.output)")
        }
    }
}

extension DiskQuotaTests {
    /// resources.disk.userQuota (issue 13's second level): set on a running
    /// container, it is planned as a restart (the image gets user and group
    /// quota files, tune2fs, and is mounted with usrquota,grpquota); then
    /// the operator gives uid 1000 inside a 1 MiB block quota from the host
    /// (berth quota NAME set), uid 1000's write past it fails inside with
    /// EDQUOT while root's goes through, and the quota shows in
    /// `berth quota -o json` and in quotactl's Q_GETQUOTA of the image.
    @Test func aUserQuotaInsideRefusesAUsersWriteAndRootStillWrites() throws {
        let host = try TestHost()
        let berth = { (arguments: [String]) in try DiskQuotaTests.berth(arguments, host: host) }
        defer { #expect(host.tearDown() == []) }  // after the prune below
        defer { _ = try? berth(["apply", "--prune", "--yes"]) }
        let probe = host.root + "/probe"
        try Syscall.makeDirectories(probe)
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("EscapeProbe/quota-write.c")
        let built = try Spawn.run(["/usr/bin/cc", "-static", "-O1", "-o", probe + "/quota-write", source.path], mergingStandardError: true)
        #expect(built.exitedCleanly, "\(String(decoding: built.output, as: UTF8.self))")
        let manifests = host.root + "/m"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        let file = manifests + "/dq6.yaml"
        func write(userQuota: Bool) throws {
            let text =
                DiskQuotaTests.quotaManifest("dq6", size: "32Mi" + (userQuota ? ", userQuota: true" : ""), inodes: nil)
                + "  mounts: [{type: bind, source: \(probe), destination: /probe, readOnly: true}]\n"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
        }
        try write(userQuota: false)
        let first = try berth(["apply", manifests])
        #expect(first.code == 0, "\(first.output)")
        let noQuota = try berth(["quota", "dq6"])
        #expect(noQuota.code != 0 && noQuota.output.contains("spec.resources.disk.userQuota: true"), "\(noQuota.output)")

        // spec.resources.disk.userQuota turned on: a restart.
        try write(userQuota: true)
        let plan = try berth(["plan", manifests])
        guard DiskQuotaTests.kernelHasExt4Quota else {
            // Refused by plan and apply at the field's line; the container runs on.
            #expect(plan.code == 1 && plan.output.contains("dq6.yaml:") && plan.output.contains("spec.resources.disk.userQuota:"), "\(plan.output)")
            let applied = try berth(["apply", "--restart", manifests])
            #expect(applied.code == 1 && applied.output.contains("cannot enforce ext4 quotas"), "\(applied.output)")
            #expect(try berth(["exec", "dq6", "--", "/bin/true"]).code == 0)
            return
        }
        #expect(plan.output.contains("pending-restart Container/dq6 spec.resources.disk.userQuota: false → true"), "\(plan.output)")
        let applied = try berth(["apply", "--restart", manifests])
        #expect(applied.code == 0, "\(applied.output)")
        let disk = DiskImage(image: host.root + "/state/containers/dq6/disk.img", mountPoint: host.root + "/state/containers/dq6/disk")
        #expect(disk.hasUserQuota && disk.userQuotaEnforced)
        let status = try berth(["status", "dq6"]).output
        #expect(status.contains("user and group quotas inside"), "\(status)")
        #expect(try berth(["drift", "--detailed-exitcode", manifests]).code == 0)

        // The operator's quota for uid 1000, from the host.
        let set = try berth(["quota", "dq6", "set", "--user", "1000", "--blocks", "1024"])
        #expect(set.code == 0, "\(set.output)")
        #expect(try berth(["exec", "dq6", "--", "/bin/sh", "-c", "mkdir -p /data && chmod 1777 /data"]).code == 0)
        let user = try berth(["exec", "dq6", "--", "/probe/quota-write", "1000", "/data/user", "2048"])
        #expect(user.output.contains("EDQUOT"), "uid 1000 past 1 MiB: \(user.output)")
        let root = try berth(["exec", "dq6", "--", "/probe/quota-write", "0", "/data/root", "2048"])
        #expect(root.output.contains("ok"), "root: \(root.output)")

        // Visible from the host: berth quota and quotactl.
        let held = try Quota.usage(.user, of: 1000, on: disk.mountPoint)
        #expect(held.bytesLimit == 1 << 20 && held.usedBytes > 0 && held.usedBytes <= 1 << 20, "\(held)")
        let listed = try berth(["quota", "dq6", "-o", "json"])
        #expect(listed.code == 0, "\(listed.output)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]], "\(listed.output)")
        let row = rows.first { $0["type"] as? String == "user" && ($0["id"] as? NSNumber)?.intValue == 1000 }
        #expect((row?["blocksLimitKiB"] as? NSNumber)?.intValue == 1024, "\(listed.output)")
        #expect(((row?["usedBytes"] as? NSNumber)?.intValue ?? 0) > 0, "\(listed.output)")

        // Raised live: the same write goes through.
        #expect(try berth(["quota", "dq6", "set", "--user", "1000", "--blocks", "4Mi"]).code == 0)
        let raised = try berth(["exec", "dq6", "--", "/probe/quota-write", "1000", "/data/user", "2048"])
        #expect(raised.output.contains("ok"), "\(raised.output)")
    }
}
