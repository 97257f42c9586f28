import Foundation
import Kernel
import Runtime
import Testing

/// The host's default profile, applied for real: a container that lists no
/// profile runs under its limits (read back from its cgroup), one that opts
/// out with `profiles: []` runs without them, and the plan showed them.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct DefaultProfileKernelTests {
    static let manifests = """
        apiVersion: berth/v1
        kind: Profile
        metadata: {name: default}
        spec:
          resources: {cpu: {limit: "0.5"}, memory: {max: 96Mi}, pids: {max: 64}}
        ---
        apiVersion: berth/v1
        kind: Container
        metadata: {name: plain}
        spec:
          rootfs: {template: busybox}
          init: {command: [/bin/sleep, "600"]}
        ---
        apiVersion: berth/v1
        kind: Container
        metadata: {name: free}
        spec:
          profiles: []
          rootfs: {template: busybox}
          init: {command: [/bin/sleep, "600"]}

        """

    @Test func aContainerWithoutProfilesRunsUnderTheDefaultLimitsAndAnOptedOutOneDoesNot() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let directory = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try DefaultProfileKernelTests.manifests.write(toFile: directory + "/host.yaml", atomically: true, encoding: .utf8)
        let global = ["--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent", host.parent]
        func berth(_ command: String, _ arguments: [String]) throws -> (code: Int32, output: String) {
            let result = try Spawn.run([ContainerCLITests.binary, command] + global + arguments)
            return ((result.status >> 8) & 0xff, String(decoding: result.output, as: UTF8.self))
        }

        let plan = try berth("plan", [directory])
        #expect(plan.output.contains("spec.resources.pids.max: unlimited → 64"), "\(plan.output)")
        #expect(try berth("apply", [directory]).code == 0)

        let plain = try #require(host.runtime.state.load("plain"))
        let limited = try host.runtime.cgroups.observe(try CgroupPath(plain.cgroup)).limits
        #expect(limited.pidsMax == 64)
        #expect(limited.memoryMax == 96 << 20)
        #expect(limited.cpuQuotaMicros == 50_000)
        let free = try #require(host.runtime.state.load("free"))
        let unlimited = try host.runtime.cgroups.observe(try CgroupPath(free.cgroup)).limits
        #expect(unlimited.pidsMax == nil)
        #expect(unlimited.memoryMax == nil)

        #expect(try berth("plan", ["--detailed-exitcode", directory]).code == 0)
    }
}
