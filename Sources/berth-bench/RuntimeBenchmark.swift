import Foundation
import Kernel
import Logging
import Model
import Runtime

/// Container start-up against runc, measured in the same run on the same
/// busybox rootfs, and the cost of many containers side by side.
func runtimeBenchmark() throws {
    let iterations = Int(ProcessInfo.processInfo.environment["BERTH_BENCH_ITERATIONS"] ?? "") ?? 40
    let host = try BenchHost("runtime")
    defer { host.cleanUp() }
    let runtime = host.runtime
    let root = host.root
    let berth = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("berth").path
    let global = host.global
    func container(_ name: String, _ command: [String]) -> ContainerObject { host.container(name, command) }
    func median(_ values: [Double]) -> Double { Stopwatch.median(values) }

    // The contenders run interleaved, in a rotated order each round: every
    // run leaves a network namespace that the kernel tears down later on a
    // worker thread, and that backlog must weigh on all of them alike.
    var contenders: [(label: String, run: (Int) throws -> Void)] = []

    // berth, in process: create + start + exit + delete of /bin/true, as
    // `berth run` does them (a foreground container, its layer in memory):
    // the floor under the binary's figure.
    _ = try runtime.start(container("warm", ["/bin/true"]))
    try runtime.delete("warm")
    contenders.append(
        (
            "berth runtime (in process)",
            { index in
                let record = try runtime.start(container("t\(index)", ["/bin/true"]), foreground: true)
                if let pid = record.pid { Reaper.wait(pid) }
                try runtime.delete("t\(index)", keepPrivateLayer: false)
            }
        ))

    // berth, the binary: `berth run` (create, start, wait, delete in one
    // process, as `runc run` does); the target's measure.
    contenders.append(
        (
            "berth run (the binary)",
            { _ in
                let result = try Spawn.run([berth, "run"] + global + ["--", "/bin/true"])
                guard result.exitedCleanly else { throw BenchError("berth run failed (status \(result.status))") }
            }
        ))

    // berth, the binary: `berth start` + `berth stop` of a recorded container.
    let record = try runtime.start(container("cli", ["/bin/true"]))
    if let pid = record.pid { Reaper.wait(pid) }
    try runtime.stop("cli", timeout: Interval(milliseconds: 0))
    contenders.append(
        (
            "berth start + berth stop (binaries)",
            { _ in
                let started = try Spawn.run([berth, "start"] + global + ["cli"])
                let stopped = try Spawn.run([berth, "stop"] + global + ["--timeout", "0", "cli"])
                guard started.exitedCleanly, stopped.exitedCleanly else { throw BenchError("berth start/stop failed") }
            }
        ))

    // runc run of the same busybox tree (a copy: runc wants a bundle).
    let runcBinary = ["/usr/sbin/runc", "/usr/bin/runc"].first { FileManager.default.fileExists(atPath: $0) }
    if let runcBinary {
        let bundle = root + "/bundle"
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        let template = try runtime.templates.path(of: "busybox", logger: Logger(label: "bench"))
        _ = try Spawn.run(["/bin/cp", "-a", template, bundle + "/rootfs"])
        try runcConfig(runc: runcBinary, bundle: bundle)
        contenders.append(
            (
                "runc run",
                { index in
                    let result = try Spawn.run([runcBinary, "--root", root + "/runc", "run", "--bundle", bundle, "b\(index)"])
                    guard result.exitedCleanly else { throw BenchError("runc run failed (status \(result.status))") }
                }
            ))
    }

    var times = [[Double]](repeating: [], count: contenders.count)
    for index in 0..<iterations {
        for turn in 0..<contenders.count {
            let which = (index + turn) % contenders.count
            times[which].append(try Stopwatch.seconds { try contenders[which].run(index) })
        }
    }
    try runtime.delete("cli")
    let runc = runcBinary == nil ? [] : times[contenders.count - 1]

    print(
        "berth-bench runtime: create + start + exit of /bin/true on the busybox rootfs, \(iterations) runs each, interleaved (medians)")
    let runcMedian = runc.isEmpty ? nil : median(runc)
    func line(_ label: String, _ values: [Double]) {
        let value = median(values)
        let ratio = runcMedian.map { String(format: "  %.2fx runc", value / $0) } ?? ""
        print(String(format: "  %@ %7.2f ms%@", label.padding(toLength: 36, withPad: " ", startingAt: 0), value * 1000, ratio))
    }
    for (which, contender) in contenders.enumerated() where contender.label != "runc run" { line(contender.label, times[which]) }
    if let runcMedian {
        print(String(format: "  %@ %7.2f ms", "runc run".padding(toLength: 36, withPad: " ", startingAt: 0), runcMedian * 1000))
    } else {
        print("  runc: not installed (apt-get install runc) — no ratio")
    }
    print("  target: berth run at most 0.3x runc run")

    // Many containers: time per start at 1, 50, 100, 200 and memory per
    // container. First a pause, so that the kernel has torn down the network
    // namespaces of the runs above and does not weigh on the first starts.
    sleep(3)
    let count = Int(ProcessInfo.processInfo.environment["BERTH_BENCH_MANY"] ?? "") ?? 200
    let before = availableMemory()
    var perStart: [Double] = []
    for index in 0..<count {
        perStart.append(try Stopwatch.seconds { _ = try runtime.start(container("m\(index)", ["/bin/sleep", "600"])) })
    }
    let after = availableMemory()
    // BERTH_BENCH_DUMP: every start time, to tell a trend from disk noise.
    if ProcessInfo.processInfo.environment["BERTH_BENCH_DUMP"] != nil {
        print("  every start (ms): " + perStart.map { String(format: "%.1f", $0 * 1000) }.joined(separator: " "))
    }
    print("  \(count) sleeping containers: start time at")
    for mark in [1, 50, 100, 200] where mark <= count {
        let window = perStart[max(0, mark - 5)..<mark]
        print(String(format: "    #%-4d %7.2f ms", mark, window.reduce(0, +) / Double(window.count) * 1000))
    }
    if let before, let after {
        print(String(format: "  host memory per container: %.0f KiB (MemAvailable drop / %d)", Double(before - after) / 1024 / Double(count), count))
    }
}

/// MemAvailable from /proc/meminfo, in bytes.
func availableMemory() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
    }
    return nil
}

/// runc's own default config (`runc spec`) for the bundle, running
/// /bin/true without a terminal, plus a cgroup namespace as berth's
/// containers have: the peer does what runc does by default, not less.
func runcConfig(runc: String, bundle: String) throws {
    guard try Spawn.run([runc, "spec", "--bundle", bundle]).exitedCleanly else { throw BenchError("runc spec failed") }
    let path = bundle + "/config.json"
    guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any],
        var process = config["process"] as? [String: Any], var linux = config["linux"] as? [String: Any],
        var namespaces = linux["namespaces"] as? [[String: Any]]
    else { throw BenchError("runc spec wrote an unexpected config") }
    process["terminal"] = false
    process["args"] = ["/bin/true"]
    config["process"] = process
    config["hostname"] = "bench"
    if !namespaces.contains(where: { $0["type"] as? String == "cgroup" }) { namespaces.append(["type": "cgroup"]) }
    linux["namespaces"] = namespaces
    config["linux"] = linux
    try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
}
