import ArgumentParser
import Kernel

/// What a bug report needs first: berth's version and commit, and the host's
/// cgroup mode and kernel.
struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Show berth's version and git commit, the cgroup mode and the kernel.",
        discussion: "berth --version prints the same. The commit is the one berth was built from (none from a tarball).")
    /// Taken as everywhere, though the version needs no instance.
    @OptionGroup var global: GlobalOptions
    @OptionGroup var format: OutputOptions

    static let number = "0.1.0"

    struct Report: Encodable, Equatable {
        var version: String
        /// The git commit berth was built from ("-dirty" with changes), nil when not built from git.
        var commit: String?
        /// v2, v1, or v1 (hybrid): v1 controllers with a cgroup2 mount beside them.
        var cgroup: String
        var kernel: String
    }

    static func report() -> Report {
        Report(
            version: number, commit: BuildInfo.commit.isEmpty ? nil : BuildInfo.commit, cgroup: cgroupMode(), kernel: HostIdentity.kernelRelease())
    }

    /// The hierarchy at /sys/fs/cgroup, as berth's drivers see it.
    static func cgroupMode(root: String = "/sys/fs/cgroup") -> String {
        guard let type = try? Syscall.filesystemType(root) else { return "none" }
        if type == FilesystemMagic.cgroup2 { return "v2" }
        if (try? Syscall.filesystemType(root + "/unified")) == FilesystemMagic.cgroup2 { return "v1 (hybrid)" }
        return type == FilesystemMagic.tmpfs ? "v1" : "none"
    }

    func run() throws {
        let report = Version.report()
        if format.output == .json {
            print(try JSONOutput.encode(report))
            return
        }
        print("berth \(report.version)")
        print("commit: \(report.commit ?? "unknown (not built from a git checkout)")")
        print("cgroup: \(report.cgroup)")
        print("kernel: \(report.kernel)")
    }
}
