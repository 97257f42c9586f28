import Foundation
import Kernel
import Logging
import Model
import Runtime

/// A throwaway berth instance for a benchmark: its own state dir and cgroup
/// parent, inside the sandbox host that `make bench` starts.
struct BenchHost {
    let root: String
    let parent: String
    let runtime: ContainerRuntime
    /// Where the run state goes when it is on a tmpfs of its own (as /run
    /// is on a production host): berth's run dir is `runState/berth`, a
    /// peer runtime's root `runState/NAME`. Nil: berth's run dir is
    /// `root/run`, on the same filesystem as its state dir.
    let runState: String?

    /// `runStateOnTmpfs`: a tmpfs is mounted for the run state, in the
    /// benchmark's own mount namespace (the sandbox's; refused in the
    /// host's), and goes with `cleanUp`.
    init(_ label: String, runStateOnTmpfs: Bool = false) throws {
        guard getuid() == 0, ProcessInfo.processInfo.environment["BERTH_SANDBOX"] == "1" else {
            throw BenchError("run as root through scripts/sandbox-run.sh (make bench does)")
        }
        // BERTH_BENCH_ROOT: a filesystem overlayfs takes as an upper layer (the VM's tmpfs).
        let base = ProcessInfo.processInfo.environment["BERTH_BENCH_ROOT"] ?? "/tmp"
        root = "\(base)/berth-bench-\(label)-\(getpid())"
        parent = "berth-bench-\(label)-\(getpid())"
        if runStateOnTmpfs {
            // Never on the host's mounts: the sandbox has a mount namespace of
            // its own, not its launcher's (nor pid 1's, where that is readable).
            func namespace(_ pid: String) -> String? { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/mnt") }
            let others = [namespace("1"), namespace("\(getppid())")].compactMap { $0 }
            guard let own = namespace("self"), !others.isEmpty, !others.contains(own) else {
                throw BenchError("a tmpfs for the run state needs the sandbox's own mount namespace (scripts/sandbox-run.sh)")
            }
            let directory = root + "/run-state"
            try Syscall.makeDirectories(directory)
            guard mount("tmpfs", directory, "tmpfs", UInt(MS_NOSUID) | UInt(MS_NODEV), "mode=0755,size=512m") == 0 else {
                throw BenchError("mount of a tmpfs on \(directory): \(String(cString: strerror(errno)))")
            }
            runState = directory
        } else {
            runState = nil
        }
        let paths = RuntimePaths(
            stateDirectory: .init(root + "/state"), runDirectory: .init(runState.map { $0 + "/berth" } ?? root + "/run"), cgroupParent: parent)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        runtime = ContainerRuntime(paths: paths, cgroups: try CgroupDrivers.detect(), logger: logger)
    }

    var global: [String] {
        ["--state-dir", root + "/state", "--run-dir", runtime.paths.runDirectory.string, "--cgroup-parent", parent]
    }

    func container(_ name: String, _ command: [String], configure: (inout ContainerConfig) -> Void = { _ in }) -> ContainerObject {
        var spec = ContainerConfig(name: name, rootfs: .template("busybox"))
        spec.command = command
        configure(&spec)
        return ContainerObject(metadata: ObjectMeta(name: name), spec: spec, source: SourceLocation(file: "bench", line: 1, column: 1))
    }

    /// Deletes every container it made, its cgroup parent and its files.
    func cleanUp() {
        for name in runtime.state.names() { try? runtime.delete(name, keepPrivateLayer: false) }
        if let group = try? CgroupPath(parent) { try? runtime.cgroups.remove(group) }
        if let runState { _ = umount2(runState, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: root)
    }
}

enum Stopwatch {
    static let clock = ContinuousClock()

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let duration = try clock.measure(body)
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.sorted()[values.count / 2] }

    static func mean(_ values: ArraySlice<Double>) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
