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

    init(_ label: String) throws {
        guard getuid() == 0, ProcessInfo.processInfo.environment["BERTH_SANDBOX"] == "1" else {
            throw BenchError("run as root through scripts/sandbox-run.sh (make bench does)")
        }
        // BERTH_BENCH_ROOT: a filesystem overlayfs takes as an upper layer (the VM's tmpfs).
        let base = ProcessInfo.processInfo.environment["BERTH_BENCH_ROOT"] ?? "/tmp"
        root = "\(base)/berth-bench-\(label)-\(getpid())"
        parent = "berth-bench-\(label)-\(getpid())"
        let paths = RuntimePaths(stateDirectory: .init(root + "/state"), runDirectory: .init(root + "/run"), cgroupParent: parent)
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        runtime = ContainerRuntime(paths: paths, cgroups: try CgroupDrivers.detect(), logger: logger)
    }

    var global: [String] { ["--state-dir", root + "/state", "--run-dir", root + "/run", "--cgroup-parent", parent] }

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
