import Kernel
import SystemPackage

/// Where one berth instance keeps its state, its runtime files and its cgroups.
///
/// Several instances never collide as long as these three differ
/// (`--state-dir`, `--run-dir`, `--cgroup-parent`).
public struct RuntimePaths: Sendable, Equatable {
    public var stateDirectory: FilePath
    public var runDirectory: FilePath
    public var cgroupParent: String
    /// Where the host's LXCFS is mounted (a host service, shared by every
    /// instance; BERTH_LXCFS_DIR): containers' /proc files come from it.
    public var lxcfsDirectory: FilePath
    /// Who places the containers' cgroups (`--cgroup-driver`).
    public var cgroupManager: CgroupManager = .cgroupfs

    public init(
        stateDirectory: FilePath = "/var/lib/berth",
        runDirectory: FilePath = "/run/berth",
        cgroupParent: String = "berth",
        lxcfsDirectory: FilePath = "/var/lib/lxcfs"
    ) {
        self.stateDirectory = stateDirectory
        self.runDirectory = runDirectory
        self.cgroupParent = cgroupParent
        self.lxcfsDirectory = lxcfsDirectory
    }

    /// Where this instance's containers' cgroups go; `root`: the systemd
    /// manager's own cgroup (systemd driver).
    public func cgroupLayout(root: String = "") throws(CgroupLayout.LayoutError) -> CgroupLayout {
        try CgroupLayout(manager: cgroupManager, parent: cgroupParent, root: root)
    }

    /// The host's LXCFS, where this instance looks for it.
    public var lxcfs: LXCFS { LXCFS(directory: lxcfsDirectory.string) }
}
