import FoundationEssentials
import Kernel
import Logging
import Model

#if canImport(Glibc)
    import Glibc
#endif

/// Read-only root filesystem templates, shared by every container as the
/// lower layer of its overlay (OpenVZ-style template caching): the hundredth
/// container costs no copy.
public struct TemplateStore: Sendable {
    public let directory: String
    /// Where the built-in busybox template takes its binary (Debian's busybox-static).
    public var busyboxBinary = "/bin/busybox"

    public init(directory: String) { self.directory = directory }

    public struct Unsupported: Error, CustomStringConvertible {
        public var description: String
    }

    /// The lower directory for a template name, built on first use.
    public func path(of template: String, logger: Logger) throws -> String {
        guard template == "busybox" else {
            throw Unsupported(description: "unknown template '\(template)' (built in: busybox)")
        }
        let path = directory + "/busybox"
        if Syscall.exists(path + "/bin/busybox") { return path }
        try buildBusybox(at: path, logger: logger)
        return path
    }

    /// The lower directory for a tarball, unpacked once into the cache. The
    /// cache key is the path with its size and modification time, so a
    /// replaced tarball is unpacked again. The tree is root's, mode 0700,
    /// without device nodes or set-id bits (Syscall.hardenTemplateTree); what
    /// was dropped is logged once, when it is unpacked (or, for a tree an
    /// older berth unpacked as it came, when it is first used again).
    public func path(ofTarball tarball: String, logger: Logger) throws -> String {
        let path = try cachePath(ofTarball: tarball)
        var info = stat()
        if lstat(path, &info) == 0 {
            if info.st_uid != 0 || info.st_mode & 0o7777 != 0o700 {
                report(try Syscall.hardenTemplateTree(path), of: tarball, at: path, logger: logger)
            }
            return path
        }
        let files = FileManager.default
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let staging = "\(directory)/.tar-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? Syscall.removeTree(staging) }
        try Syscall.mkdir(staging, mode: 0o700)
        // GNU tar detects the compression, strips leading '/' and refuses '..'.
        let result = try Spawn.run(["/bin/tar", "--extract", "--file", tarball, "--directory", staging, "--numeric-owner"])
        guard result.exitedCleanly else {
            throw Unsupported(description: "unpacking \(tarball) failed (tar status \(result.status >> 8))")
        }
        let dropped = try Syscall.hardenTemplateTree(staging)
        guard try publish(staging, at: path, complete: path) else { return path }
        report(dropped, of: tarball, at: path, logger: logger)
        return path
    }

    /// The one event for an unpacked tarball: what was dropped from it.
    func report(_ dropped: TemplateHardening, of tarball: String, at path: String, logger: Logger) {
        logger.log(
            level: dropped == TemplateHardening() ? .info : .warning,
            "template unpacked",
            metadata: [
                "template": "\(tarball)", "path": "\(path)", "deviceNodesRemoved": "\(dropped.deviceNodes)",
                "setIDBitsCleared": "\(dropped.setIDFiles)",
            ])
    }

    /// Where `tarball` is (or will be) unpacked: the path with its size and
    /// modification time, so a replaced tarball is unpacked again.
    public func cachePath(ofTarball tarball: String) throws(SystemError) -> String {
        var info = stat()
        guard fstatat(AT_FDCWD, tarball, &info, 0) == 0 else { throw SystemError(call: "stat", errno: errno, subject: tarball) }
        let size = UInt64(info.st_size)
        let modified = "\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        return directory + "/tar-" + String(FNV1a.hash64("\(tarball)|\(size)|\(modified)"), radix: 16)
    }

    /// The built-in template's directory when it is built, without building it.
    public func builtPath(of template: String) -> String? {
        let path = directory + "/" + template
        return template == "busybox" && Syscall.exists(path + "/bin/busybox") ? path : nil
    }

    /// The directories of the busybox template.
    static let busyboxDirectories = ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root", "run", "var/log", "home", "tmp"]

    /// `busybox --list-full` by binary path and version (a replaced binary
    /// is asked again).
    static let applets = FileVersionCache<[String]>()

    /// The applets the busybox template links to /bin/busybox: relative
    /// paths (`bin/sh`, `usr/sbin/httpd`), as `busybox --list-full` gives them.
    /// Asked once per version of the binary in a process: an apply's init
    /// check asks for every container when the template is not built yet,
    /// and a spawn each made the manifest check of `berth-bench scale 1000`
    /// on a fresh state dir take 11-19 s (2.2 s of CPU) instead of 1.5-3 s.
    public func busyboxApplets() throws -> [String] {
        guard let version = Syscall.version(busyboxBinary) else {
            throw Unsupported(description: "\(busyboxBinary) is missing (install Debian's busybox-static)")
        }
        if let known = TemplateStore.applets.value(busyboxBinary, version) { return known }
        let listing = try Spawn.run([busyboxBinary, "--list-full"])
        guard listing.exitedCleanly else {
            throw Unsupported(description: "\(busyboxBinary) --list-full failed (status \(listing.status))")
        }
        // Only plain relative paths: bin/sh, usr/bin/wc.
        let applets = String(decoding: listing.output, as: UTF8.self).split(separator: "\n").map(String.init).filter {
            !$0.isEmpty && !$0.hasPrefix("/") && !$0.contains("..") && $0 != "bin/busybox"
        }
        TemplateStore.applets.keep(applets, busyboxBinary, version)
        return applets
    }

    /// Builds the busybox template in a temporary directory and renames it in
    /// place, so a crash never leaves a half-built template behind.
    func buildBusybox(at path: String, logger: Logger) throws {
        let applets = try busyboxApplets()
        let files = FileManager.default
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let staging = "\(directory)/.busybox-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? files.removeItem(atPath: staging) }
        for sub in TemplateStore.busyboxDirectories where sub != "tmp" {
            try files.createDirectory(atPath: "\(staging)/\(sub)", withIntermediateDirectories: true)
        }
        try files.createDirectory(atPath: "\(staging)/tmp", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o1777])
        try files.copyItem(atPath: busyboxBinary, toPath: "\(staging)/bin/busybox")
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(staging)/bin/busybox")
        for relative in applets {
            let link = "\(staging)/\(relative)"
            if Syscall.exists(link) { continue }
            try Syscall.symlink("/bin/busybox", at: link)
        }
        for (name, text) in TemplateStore.busyboxEtc {
            try Syscall.writeAtomically(Array(text.utf8), to: "\(staging)/etc/\(name)", mode: 0o644)
        }
        guard try publish(staging, at: path, complete: path + "/bin/busybox") else { return }
        logger.info("template built", metadata: ["template": "busybox", "path": "\(path)"])
    }

    /// The files of the busybox template's /etc.
    static let busyboxEtc: [String: String] = [
        "passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        "group": "root:x:0:\nnogroup:x:65534:\n",
        "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
        "inittab": "::sysinit:/bin/hostname -F /etc/hostname\n::respawn:/sbin/syslogd -n\n::ctrlaltdel:/sbin/reboot\n",
        "hostname": "localhost\n",
    ]

    /// Renames a fully built staging directory into place. Returns false when
    /// another berth got there first (`complete` exists): theirs is used.
    @discardableResult
    func publish(_ staging: String, at path: String, complete: String) throws -> Bool {
        var renameError: SystemError?
        do throws(SystemError) {
            try Syscall.rename(staging, path)
        } catch {
            renameError = error
        }
        guard let renameError else { return true }
        guard Syscall.exists(complete) else { throw renameError }
        return false
    }
}
