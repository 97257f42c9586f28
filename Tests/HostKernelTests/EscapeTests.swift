import Foundation
import Kernel
import Logging
import Model
import Runtime
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One way out of a container tried from inside, and the answer it must
/// get. README's "Escapes tried" table is made from this list
/// (EscapeTableTests), and each case's test holds the kernel to `expected`.
struct EscapeCase: Sendable {
    /// The key in the probe's results (and the test's lookups).
    let id: String
    /// What is tried, for README.
    let attempt: String
    /// escape-probe's case and argument (nil: the test checks it itself).
    let probe: (name: String, argument: String)?
    /// escape-probe's answer ("EPERM", "mknod:EPERM", "ok", ...) or the result the test computes.
    let expected: String

    init(_ id: String, _ attempt: String, probe: (String, String)? = nil, expected: String) {
        self.id = id
        self.attempt = attempt
        self.probe = probe.map { (name: $0.0, argument: $0.1) }
        self.expected = expected
    }
}

enum Escapes {
    /// Placeholders the init script fills in: a host pid, the host's disk, a host file.
    static let hostPID = "HOST_PID"
    static let hostDisk = "HOST_DISK"
    static let hostFile = "HOST_FILE"

    /// Everything tried, as root in a default container (no user namespace,
    /// the default capabilities, seccomp filter and no_new_privs).
    static let cases: [EscapeCase] = [
        EscapeCase("host-pids", "list /proc for the host's processes", expected: "only its own (pid 1 and its children)"),
        EscapeCase("kill-host", "`kill(host pid, 0)`", probe: ("kill", hostPID), expected: "ESRCH"),
        EscapeCase("ptrace-host", "`ptrace(PTRACE_ATTACH, host pid)`", probe: ("ptrace", hostPID), expected: "ESRCH"),
        EscapeCase("remount-root", "remount `/` (bind, read-write)", probe: ("remount", "/"), expected: "EPERM"),
        EscapeCase("remount-proc", "remount `/proc`", probe: ("remount", "/proc"), expected: "EPERM"),
        EscapeCase("mount-proc", "mount a new procfs", probe: ("mount-proc", ""), expected: "EPERM"),
        EscapeCase("unmask-proc-sys", "unmount the read-only `/proc/sys`", probe: ("umount", "/proc/sys"), expected: "EPERM"),
        EscapeCase(
            "core-pattern", "write `/proc/sys/kernel/core_pattern`", probe: ("write", "/proc/sys/kernel/core_pattern"), expected: "EROFS"),
        EscapeCase(
            "drop-caches", "write `/proc/sys/vm/drop_caches` (a host-wide knob)", probe: ("write", "/proc/sys/vm/drop_caches"), expected: "EROFS"),
        EscapeCase("uevent-helper", "write `/sys/kernel/uevent_helper`", probe: ("create", "/sys/kernel/uevent_helper"), expected: "EROFS"),
        EscapeCase(
            "cgroup-write", "raise its limits: write `/sys/fs/cgroup/pids.max` (no cgroupfs is mounted inside)",
            probe: ("write", "/sys/fs/cgroup/pids.max"), expected: "ENOENT"),
        EscapeCase("cgroup-mount", "mount cgroupfs to reach its cgroup files", probe: ("mount-cgroup", ""), expected: "EPERM"),
        EscapeCase("init-module", "load a module: `init_module`", probe: ("init-module", ""), expected: "EPERM"),
        EscapeCase("finit-module", "load a module: `finit_module`", probe: ("finit-module", ""), expected: "EPERM"),
        EscapeCase("host-disk", "`mknod` the host's disk (block) and read it", probe: ("mknod-read", hostDisk), expected: "mknod:EPERM"),
        EscapeCase("dev-mem", "open `/dev/mem`", probe: ("open", "/dev/mem"), expected: "ENOENT"),
        EscapeCase("dev-mem-mknod", "`mknod` `/dev/mem` (c 1:1) and read it", probe: ("mknod-read", "c:1:1"), expected: "mknod:EPERM"),
        EscapeCase("dev-kmsg", "open `/dev/kmsg`", probe: ("open", "/dev/kmsg"), expected: "ENOENT"),
        EscapeCase("dev-kmsg-mknod", "`mknod` `/dev/kmsg` (c 1:11) and read it", probe: ("mknod-read", "c:1:11"), expected: "mknod:EPERM"),
        EscapeCase("syslog", "read the kernel log: `syslog(READ_ALL)`", probe: ("syslog", ""), expected: "EPERM"),
        EscapeCase(
            "exe-write", "open `/proc/self/exe` (the probe: a host file bind-mounted read-only) for writing", probe: ("exe-write", ""),
            expected: "ETXTBSY"),
        EscapeCase(
            "exe-scan", "open every `/proc/PID/exe` while `berth exec` runs commands, to reopen berth's binary (runc CVE-2019-5736)",
            expected: "0 host binaries opened"),
        EscapeCase("chroot", "chroot, climb `..`, chroot again, look for a host file", probe: ("chroot-break", hostFile), expected: "contained"),
        EscapeCase("open-by-handle", "`open_by_handle_at` (the \"shocker\" escape)", probe: ("open-by-handle", ""), expected: "EPERM"),
        EscapeCase(
            "project-id", "leave its disk quota: set a file's project ID to 0 (`FS_IOC_FSSETXATTR`)", probe: ("project-id", ""),
            expected: "set:EPERM"),
        EscapeCase("bpf", "`bpf`", probe: ("bpf", ""), expected: "EPERM"),
        EscapeCase("keyctl", "`keyctl` (the host's keyrings)", probe: ("keyctl", ""), expected: "EPERM"),
        EscapeCase("x32", "an x32 system call (`getpid` with bit 30), around the filter's numbers", probe: ("x32", ""), expected: "EPERM"),
        EscapeCase("unshare-user", "`unshare(CLONE_NEWUSER)`", probe: ("unshare-user", ""), expected: "EPERM"),
        EscapeCase("clone-user", "`clone(CLONE_NEWUSER)`", probe: ("clone-user", ""), expected: "EPERM"),
        EscapeCase("clone3-user", "`clone3` with `CLONE_NEWUSER`", probe: ("clone3-user", ""), expected: "ENOSYS"),
        EscapeCase("thread", "start a thread (glibc falls back from `clone3` to `clone`)", probe: ("thread", ""), expected: "ok"),
        EscapeCase(
            "nested-allowed", "`unshare(CLONE_NEWUSER)` with `security.nestedUserNamespaces: true`", expected: "ok"),
        EscapeCase(
            "symlink-mount",
            "a mount target in the rootfs that is a symlink out of it (a manifest mount's, one below a link to `/`, `/proc`, `/sys`, `/dev`)",
            expected: "refused at start (ELOOP), host directory untouched"),
        EscapeCase(
            "tarball-template", "a tarball template holding a block device node and set-uid and set-gid files",
            expected: "nodes removed, set-id bits cleared, tree 0700 root, reported once"),
    ]

    static func expected(_ id: String) -> String { cases.first { $0.id == id }?.expected ?? "unknown case \(id)" }

    /// README's table, between its markers.
    static var table: String {
        var lines = ["| escape tried | result |", "| --- | --- |"]
        for escape in cases { lines.append("| \(escape.attempt) | \(escape.expected) |") }
        return lines.joined(separator: "\n")
    }

    static let probeSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "EscapeProbe/escape-probe.c")

    /// escape-probe, built static into `directory` (the container has only busybox).
    static func buildProbe(in directory: String) throws -> String {
        try Syscall.makeDirectories(directory)
        let output = directory + "/escape-probe"
        let result = try Spawn.run(
            ["/usr/bin/cc", "-static", "-O1", "-o", output, probeSource.path, "-lpthread"], mergingStandardError: true)
        guard result.exitedCleanly else {
            throw SystemError(call: "cc", errno: EINVAL, subject: String(decoding: result.output, as: UTF8.self))
        }
        return output
    }

    /// The host's first disk as `b:MAJOR:MINOR` (from /proc/partitions).
    static var hostDiskNode: String {
        let partitions = (try? String(contentsOfFile: "/proc/partitions", encoding: .utf8)) ?? ""
        for line in partitions.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            if fields.count == 4, let major = Int(fields[0]), let minor = Int(fields[1]) { return "b:\(major):\(minor)" }
        }
        return "b:8:0"
    }
}

/// Log records kept in memory, to assert what berth reported.
final class LogRecords: Sendable {
    let entries = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in RecordingHandler(records: self) }
    }

    struct RecordingHandler: LogHandler {
        let records: LogRecords
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            records.entries.withLock { $0.append((event.level, "\(event.message)", merged)) }
        }
    }
}

/// The escape suite: each way out tried as root in a default container
/// that berth made, with the errno or result it must get.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct EscapeTests {
    /// The probe's answers, as `id=answer` lines in the container's /tmp/results.
    func results(_ host: TestHost, _ name: String) -> [String: String] {
        let file = "\(host.root)/state/containers/\(name)/upper/tmp/results"
        _ = eventually { ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").hasSuffix("done\n") }
        var answers: [String: String] = [:]
        for line in ((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { answers[parts[0]] = parts[1] }
        }
        return answers
    }

    /// A shell script that runs every probe case and records each answer.
    func script(hostPID: pid_t, hostFile: String) -> String {
        var lines = ["P=/probe/escape-probe", "r() { echo \"$1=$($P \"$2\" \"$3\" 2>/dev/null)\" >> /tmp/results; }"]
        for escape in Escapes.cases {
            guard let probe = escape.probe else { continue }
            let argument = probe.argument.replacingOccurrences(of: Escapes.hostPID, with: "\(hostPID)")
                .replacingOccurrences(of: Escapes.hostDisk, with: Escapes.hostDiskNode)
                .replacingOccurrences(of: Escapes.hostFile, with: hostFile)
            lines.append("r \(escape.id) \(probe.name) '\(argument)'")
        }
        lines.append("echo \"host-pids=$($P pids)\" >> /tmp/results")
        lines.append("echo done >> /tmp/results")
        lines.append("$P exe-scan 60 > /tmp/exe-scan 2> /tmp/exe-scan.err &")
        lines.append("exec sleep 300")
        return lines.joined(separator: "\n")
    }

    func probeMount(_ host: TestHost) throws -> MountSpec {
        _ = try Escapes.buildProbe(in: host.root + "/probe")
        return MountSpec(type: .bind, source: host.root + "/probe", destination: "/probe", readOnly: true)
    }

    @Test func everyEscapeFromADefaultContainerGetsItsExpectedAnswer() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let mount = try probeMount(host)
        // A host file the chroot trick looks for: it must stay out of reach.
        let hostFile = host.root + "/host-only-sentinel"
        try Syscall.writeAtomically(Array("host\n".utf8), to: hostFile, mode: 0o644)
        let busybox = try Syscall.readFile("/bin/busybox", limit: 16 << 20)
        let container = host.container("esc1", command: ["/bin/sh", "-c", script(hostPID: getpid(), hostFile: hostFile)]) {
            $0.mounts = [mount]
        }
        _ = try host.runtime.start(container)
        let answers = results(host, "esc1")
        for escape in Escapes.cases where escape.probe != nil {
            #expect(answers[escape.id] == escape.expected, "\(escape.id): \(escape.attempt)")
        }
        // Only its own processes: pid 1 (the shell), the scanner, the probe itself.
        let pids = (answers["host-pids"] ?? "").split(separator: " ").compactMap { Int32($0) }
        let onlyOwn = pids.contains(1) && pids.allSatisfy { $0 < 64 } && !pids.contains(getpid())
        #expect((onlyOwn ? "only its own (pid 1 and its children)" : "sees \(pids)") == Escapes.expected("host-pids"))

        // While the scanner runs inside, berth exec runs commands: the
        // process berth clones is a copy of the host binary until it execs.
        let upper = "\(host.root)/state/containers/esc1/upper"
        #expect(eventually { FileManager.default.fileExists(atPath: upper + "/tmp/scan-started") })
        for _ in 0..<20 { #expect(try host.runtime.exec("esc1", command: ["/bin/true"]) == 0) }
        // ... and the berth binary itself (berth exec), which must come out unchanged.
        var before = stat()
        #expect(stat(ContainerCLITests.binary, &before) == 0)
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        for _ in 0..<5 {
            #expect(try Spawn.run([ContainerCLITests.binary, "exec"] + global + ["esc1", "--", "/bin/true"]).exitedCleanly)
        }
        #expect(try host.runtime.exec("esc1", command: ["/bin/touch", "/tmp/stop-scan"]) == 0)
        let scan = host.written("esc1", "/tmp/exe-scan")
        let log = host.written("esc1", "/tmp/exe-scan.err", waitSeconds: 2) ?? ""
        #expect(scan == Escapes.expected("exe-scan"), "\(log)")
        // The scanner did open executables (its own shell's, sleep's, the commands'): it was looking.
        let opened = log.split(separator: "\n").last { $0.hasPrefix("opened ") }.flatMap { Int($0.dropFirst("opened ".count)) }
        #expect((opened ?? 0) > 0, "\(log)")
        #expect(try Syscall.readFile("/bin/busybox", limit: 16 << 20) == busybox)
        #expect(try Syscall.readFile(hostFile) == Array("host\n".utf8))
        var after = stat()
        #expect(stat(ContainerCLITests.binary, &after) == 0)
        #expect(after.st_size == before.st_size && after.st_mtim.tv_sec == before.st_mtim.tv_sec)
        #expect(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
    }

    @Test func nestedUserNamespacesOnlyWhenTheManifestAllowsThem() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let mount = try probeMount(host)
        let script =
            "P=/probe/escape-probe; for c in unshare-user clone-user clone3-user thread; do echo \"$c=$($P $c)\" >> /tmp/results; done; "
            + "echo done >> /tmp/results; exec sleep 300"
        let allowed = host.container("nest1", command: ["/bin/sh", "-c", script]) {
            $0.mounts = [mount]
            $0.security = SecuritySpec()
            $0.security?.nestedUserNamespaces = true
        }
        _ = try host.runtime.start(allowed)
        let answers = results(host, "nest1")
        #expect(answers["unshare-user"] == Escapes.expected("nested-allowed"))
        #expect(answers["clone-user"] == "ok")
        #expect(answers["clone3-user"] == "ok")
        #expect(answers["thread"] == "ok")
        // berth exec keeps the container's choice; in a default one, refused.
        #expect(try host.runtime.exec("nest1", command: ["/bin/sh", "-c", "test $(/probe/escape-probe unshare-user) = ok"]) == 0)
        _ = try host.runtime.start(
            host.container("nest2", command: ["/bin/sh", "-c", "exec sleep 300"]) { $0.mounts = [mount] })
        #expect(
            try host.runtime.exec("nest2", command: ["/bin/sh", "-c", "test $(/probe/escape-probe unshare-user) = EPERM"]) == 0)
    }

    @Test func mountTargetThatIsASymlinkOutOfTheRootfsIsRefused() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let outside = host.root + "/outside"
        let source = host.root + "/source"
        try Syscall.makeDirectories(outside)
        try Syscall.makeDirectories(source)
        let busybox = try Syscall.readFile("/bin/busybox", limit: 16 << 20)
        // Directory rootfses with one symlink out each, and the mount that meets it:
        // a manifest mount on it, through a link to / above it, or berth's own /proc, /sys and /dev.
        let cases: [(name: String, link: String, target: String, mount: String?)] = [
            ("sym1", "data", outside, "/data"), ("sym2", "up", "/", "/up/" + outside.dropFirst()),
            ("sym3", "proc", outside, nil), ("sym4", "sys", outside, nil), ("sym5", "dev", outside, nil),
        ]
        var answers: [String] = []
        for escape in cases {
            let rootfs = host.root + "/" + escape.name
            try Syscall.makeDirectories(rootfs + "/bin")
            try Syscall.writeAtomically(busybox, to: rootfs + "/bin/busybox", mode: 0o755)
            try Syscall.symlink(escape.target, at: rootfs + "/" + escape.link)
            let container = host.container(escape.name, command: ["/bin/busybox", "sleep", "300"]) {
                $0.rootfs = RootfsSpec(source: .directory(rootfs))
                $0.mounts = escape.mount.map { [MountSpec(type: .bind, source: source, destination: $0)] }
            }
            do {
                _ = try host.runtime.start(container)
                answers.append("\(escape.name) started")
            } catch {
                answers.append("\(error)".contains("ELOOP") ? "ELOOP" : "\(escape.name): \(error)")
            }
        }
        let untouched = (try? FileManager.default.contentsOfDirectory(atPath: outside)) == []
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        #expect(!mounts.contains(" \(outside) "))
        let refused = answers == Array(repeating: "ELOOP", count: cases.count)
        let result = refused && untouched ? "refused at start (ELOOP), host directory untouched" : "\(answers)"
        #expect(result == Escapes.expected("symlink-mount"))
    }

    @Test func tarballTemplateLosesDeviceNodesAndSetIDBitsAndIsRootsAlone() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        // A tarball with busybox, a block device node, a char device node,
        // a set-uid and a set-gid copy of busybox, and a set-gid directory.
        let tree = host.root + "/tree"
        try Syscall.makeDirectories(tree + "/bin")
        try Syscall.makeDirectories(tree + "/opt")
        try Syscall.makeDirectories(tree + "/shared")
        let busybox = try Syscall.readFile("/bin/busybox", limit: 16 << 20)
        try Syscall.writeAtomically(busybox, to: tree + "/bin/busybox", mode: 0o755)
        try Syscall.symlink("busybox", at: tree + "/bin/sh")
        try Syscall.writeAtomically(busybox, to: tree + "/bin/su-copy", mode: 0o755)
        try Syscall.writeAtomically(busybox, to: tree + "/bin/sg-copy", mode: 0o755)
        #expect(chmod(tree + "/bin/su-copy", 0o4755) == 0)
        #expect(chmod(tree + "/bin/sg-copy", 0o2755) == 0)
        #expect(chmod(tree + "/shared", 0o2775) == 0)
        #expect(try Spawn.run(["/bin/mknod", "-m", "666", tree + "/opt/disk", "b", "8", "0"]).exitedCleanly)
        #expect(try Spawn.run(["/bin/mknod", "-m", "666", tree + "/opt/mem", "c", "1", "1"]).exitedCleanly)
        let tarball = host.root + "/hostile.tar"
        #expect(try Spawn.run(["/bin/tar", "--create", "--file", tarball, "--directory", tree, "--numeric-owner", "."]).exitedCleanly)

        let records = LogRecords()
        let path = try host.runtime.templates.path(ofTarball: tarball, logger: records.logger)
        _ = try host.runtime.templates.path(ofTarball: tarball, logger: records.logger)  // cached: not reported again
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_uid == 0 && info.st_mode & 0o7777 == 0o700)
        #expect(lstat(path + "/opt/disk", &info) != 0 && lstat(path + "/opt/mem", &info) != 0)
        #expect(lstat(path + "/bin/su-copy", &info) == 0 && info.st_mode & 0o7777 == 0o755)
        #expect(lstat(path + "/bin/sg-copy", &info) == 0 && info.st_mode & 0o7777 == 0o755)
        #expect(lstat(path + "/shared", &info) == 0 && info.st_mode & 0o7777 == 0o2775)
        let reports = records.entries.withLock { $0.filter { $0.message == "template unpacked" } }
        #expect(reports.count == 1)
        #expect(reports.first?.level == .warning)
        #expect(reports.first?.metadata["template"] == "\(tarball)")
        #expect(reports.first?.metadata["deviceNodesRemoved"] == "2")
        #expect(reports.first?.metadata["setIDBitsCleared"] == "2")
        // A tree an older berth unpacked as it came is made safe when it is next used, and reported then.
        let older = host.root + "/older.tar"
        #expect(try Spawn.run(["/bin/cp", tarball, older]).exitedCleanly)
        let olderPath = try host.runtime.templates.cachePath(ofTarball: older)
        #expect(try Spawn.run(["/bin/cp", "-a", tree, olderPath]).exitedCleanly)
        #expect(chmod(olderPath, 0o755) == 0)
        #expect(try host.runtime.templates.path(ofTarball: older, logger: records.logger) == olderPath)
        _ = try host.runtime.templates.path(ofTarball: older, logger: records.logger)
        #expect(lstat(olderPath, &info) == 0 && info.st_mode & 0o7777 == 0o700)
        #expect(lstat(olderPath + "/opt/disk", &info) != 0)
        #expect(lstat(olderPath + "/bin/su-copy", &info) == 0 && info.st_mode & 0o7777 == 0o755)
        let olderReports = records.entries.withLock { $0.filter { $0.metadata["template"] == "\(older)" } }
        #expect(olderReports.count == 1 && olderReports.first?.metadata["deviceNodesRemoved"] == "2")
        // A container still starts from it.
        _ = try host.runtime.start(
            host.container("tar1", command: ["/bin/sh", "-c", "(ls /opt; echo end) > /opt-list; exec sleep 300"]) {
                $0.rootfs = RootfsSpec(source: .tarball(tarball))
            })
        #expect(host.written("tar1", "/opt-list") == "end")
        #expect("nodes removed, set-id bits cleared, tree 0700 root, reported once" == Escapes.expected("tarball-template"))
    }
}

/// README's "Escapes tried" table is the list above (runs without root).
@Suite struct EscapeTableTests {
    @Test func readmeTableIsTheEscapeSuite() throws {
        let readme = ExampleTests.repository.appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let begin = "<!-- escapes: made by Tests/HostKernelTests/EscapeTests.swift; BERTH_UPDATE_GOLDEN=1 rewrites it -->\n"
        let end = "<!-- end escapes -->"
        guard let start = text.range(of: begin), let stop = text.range(of: end, range: start.upperBound..<text.endIndex) else {
            Issue.record("README.md has no escapes table between its markers")
            return
        }
        let table = String(text[start.upperBound..<stop.lowerBound])
        let expected = Escapes.table + "\n"
        if table != expected, ProcessInfo.processInfo.environment["BERTH_UPDATE_GOLDEN"] == "1" {
            try (text[..<start.upperBound] + expected + text[stop.lowerBound...]).write(to: readme, atomically: true, encoding: .utf8)
            return
        }
        #expect(table == expected)
    }
}
