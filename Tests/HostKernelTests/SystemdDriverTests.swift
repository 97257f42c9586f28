import Foundation
import Kernel
import Logging
import Runtime
import Testing

/// The systemd cgroup driver where it cannot run: a host without the unified
/// hierarchy refuses a start with the driver before anything is made (the
/// VM lane's MachinedRegistrationTests runs the driver on cgroup v2).
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct SystemdDriverTests {
    @Test(.enabled(if: (try? CgroupDrivers.detect())?.version == .v1, "cgroup v2: the VM lane runs the driver"))
    func onCgroupV1TheSystemdDriverRefusesAStartBeforeMakingAnything() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var paths = host.runtime.paths
        paths.cgroupManager = .systemd
        let runtime = ContainerRuntime(paths: paths, cgroups: host.runtime.cgroups, logger: Logger(label: "test"))
        #expect {
            try runtime.start(host.container("sd1", command: ["/bin/sleep", "30"]))
        } throws: { error in
            "\(error)".contains("--cgroup-driver systemd needs the unified hierarchy (cgroup v2)")
        }
        #expect(runtime.state.load("sd1") == nil)
        #expect(!FileManager.default.fileExists(atPath: runtime.state.containerDirectory("sd1")))
    }
}
