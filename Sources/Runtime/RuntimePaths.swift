import SystemPackage

/// Where one berth instance keeps its state, its runtime files and its cgroups.
///
/// Several instances never collide as long as these three differ
/// (`--state-dir`, `--run-dir`, `--cgroup-parent`).
public struct RuntimePaths: Sendable, Equatable {
    public var stateDirectory: FilePath
    public var runDirectory: FilePath
    public var cgroupParent: String

    public init(
        stateDirectory: FilePath = "/var/lib/berth",
        runDirectory: FilePath = "/run/berth",
        cgroupParent: String = "berth"
    ) {
        self.stateDirectory = stateDirectory
        self.runDirectory = runDirectory
        self.cgroupParent = cgroupParent
    }
}
