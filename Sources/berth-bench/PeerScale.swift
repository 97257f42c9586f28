import Foundation
import Kernel
import Logging
import Runtime

/// runc and crun creating `count` detached busybox `sleep` containers, one
/// `run -d` each (the same read-only rootfs, 16 MiB of memory, 16 pids,
/// their own empty network namespace), then deleting them one
/// `delete --force` each: what `berth-bench scale` prints beside berth.
/// crun refuses this hybrid host while the cgroup2 `unified` mount is seen:
/// it runs last, with that mount detached in the benchmark's own mount
/// namespace (the sandbox's).
func peerScale(count: Int, host: BenchHost) throws {
    let root = host.root + "/peers"
    let rootfs = root + "/rootfs"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let template = try host.runtime.templates.path(of: "busybox", logger: Logger(label: "bench"))
    guard try Spawn.run(["/bin/cp", "-a", template, rootfs]).exitedCleanly else { throw BenchError("copy of the busybox rootfs failed") }
    let peers = [("runc", ["/usr/sbin/runc", "/usr/bin/runc"]), ("crun", ["/usr/bin/crun", "/usr/sbin/crun"])]
    for (name, candidates) in peers {
        guard let binary = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            print("  \(name): not installed (apt-get install \(name)): no figures")
            continue
        }
        if name == "crun" { _ = umount2("/sys/fs/cgroup/unified", Int32(MNT_DETACH)) }
        let parent = "\(host.parent)-\(name)"
        let state = (host.runState ?? root) + "/" + name
        // One bundle per container: the config names its own cgroup.
        for index in 0..<count {
            try peerConfig(binary: binary, bundle: "\(root)/\(name)/p\(index)", rootfs: rootfs, cgroup: "/\(parent)/p\(index)")
        }
        let memoryBefore = availableMemory()
        var created: [(start: Double, end: Double)] = []
        var failure: String?
        let clock = ContinuousClock()
        let began = clock.now
        func since() -> Double {
            let elapsed = clock.now - began
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        for index in 0..<count {
            let start = since()
            let pid = try Spawn.start(
                [binary, "--root", state, "run", "-d", "--bundle", "\(root)/\(name)/p\(index)", "p\(index)"],
                outputPath: "\(root)/\(name).log")
            let status = Reaper.wait(pid) ?? -1
            guard status == 0 else {
                failure = "\(name) run -d p\(index) failed (status \(status)); see \(root)/\(name).log"
                break
            }
            created.append((start, since()))
        }
        let memoryAfter = availableMemory()
        let createSeconds = created.last?.end ?? 0
        let teardownBegan = since()
        var deleted: [(start: Double, end: Double)] = []
        for index in 0..<created.count {
            let start = since() - teardownBegan
            let pid = try Spawn.start([binary, "--root", state, "delete", "--force", "p\(index)"], outputPath: "\(root)/\(name).log")
            _ = Reaper.wait(pid)
            deleted.append((start, since() - teardownBegan))
        }
        // runc on this hybrid host makes each container's cgroup in the
        // cgroup2 `unified` hierarchy too, and leaves it at `delete`.
        for group in ["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "systemd", "unified"] {
            let directory = "/sys/fs/cgroup/\(group)/\(parent)"
            for child in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where child.hasPrefix("p") {
                rmdir(directory + "/" + child)
            }
            rmdir(directory)
        }
        if let failure {
            print("  \(name): \(failure)")
            continue
        }
        print("  \(name) (\(binary)): \(count) containers, \(name) run -d each, no network")
        phaseLine("create (\(name) run -d × \(count))", createSeconds, target: 6)
        decileLines(created)
        phaseLine("teardown (\(name) delete --force × \(count))", deleted.last?.end ?? 0, target: 1.5)
        decileLines(deleted)
        if let memoryBefore, let memoryAfter {
            print(
                String(
                    format: "    host memory per container: %.0f KiB", Double(memoryBefore - memoryAfter) / 1024 / Double(count)))
        }
    }
}

/// `runc spec`'s defaults, running `sleep 3600` without a terminal on the
/// shared rootfs, with berth's limits and a cgroup namespace.
func peerConfig(binary: String, bundle: String, rootfs: String, cgroup: String) throws {
    try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
    guard try Spawn.run([binary, "spec", "--bundle", bundle]).exitedCleanly else { throw BenchError("\(binary) spec failed") }
    let path = bundle + "/config.json"
    guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any],
        var process = config["process"] as? [String: Any], var linux = config["linux"] as? [String: Any],
        var namespaces = linux["namespaces"] as? [[String: Any]]
    else { throw BenchError("\(binary) spec wrote an unexpected config") }
    process["terminal"] = false
    process["args"] = ["/bin/sleep", "3600"]
    config["process"] = process
    config["root"] = ["path": rootfs, "readonly": true]
    config["hostname"] = "bench"
    if !namespaces.contains(where: { $0["type"] as? String == "cgroup" }) { namespaces.append(["type": "cgroup"]) }
    linux["namespaces"] = namespaces
    linux["cgroupsPath"] = cgroup
    var resources = linux["resources"] as? [String: Any] ?? [:]
    resources["memory"] = ["limit": 16 << 20]
    resources["pids"] = ["limit": 16]
    linux["resources"] = resources
    config["linux"] = linux
    try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
}
