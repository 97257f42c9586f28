import Foundation
import Kernel
import Logging
import Model
import Runtime

/// Container start-up against runc and crun, measured in the same run on the same
/// busybox rootfs, and the cost of many containers side by side.
func runtimeBenchmark() throws {
    let iterations = Int(ProcessInfo.processInfo.environment["BERTH_BENCH_ITERATIONS"] ?? "") ?? 40
    // Every runtime's run state (berth's --run-dir, runc's and crun's
    // --root) on one tmpfs, as /run is on a production host (/run/berth,
    // /run/runc, /run/crun); berth's state dir stays on disk.
    let host = try BenchHost("runtime", runStateOnTmpfs: true)
    defer { host.cleanUp() }
    let runtime = host.runtime
    let root = host.root
    let runState = host.runState ?? root
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

    // runc and crun run of the same busybox tree (a copy each: they want a
    // bundle), each from its own `spec`. crun refuses this hybrid host while
    // the cgroup2 `unified` mount is seen: it is detached for the whole
    // interleaved run, in the benchmark's own mount namespace (the
    // sandbox's), so every contender runs on the same host; berth never
    // reads it.
    let template = try runtime.templates.path(of: "busybox", logger: Logger(label: "bench"))
    var peers: [String: Int] = [:]
    for (name, candidates) in [("runc", ["/usr/sbin/runc", "/usr/bin/runc"]), ("crun", ["/usr/bin/crun", "/usr/sbin/crun"])] {
        guard let binary = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else { continue }
        if name == "crun" { _ = umount2("/sys/fs/cgroup/unified", Int32(MNT_DETACH)) }
        let bundle = root + "/bundle-" + name
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        guard try Spawn.run(["/bin/cp", "-a", template, bundle + "/rootfs"]).exitedCleanly else {
            throw BenchError("copy of the busybox rootfs failed")
        }
        try peerRunConfig(binary: binary, bundle: bundle)
        peers[name] = contenders.count
        contenders.append(
            (
                "\(name) run",
                { index in
                    let result = try Spawn.run([binary, "--root", runState + "/" + name, "run", "--bundle", bundle, "b\(index)"])
                    guard result.exitedCleanly else { throw BenchError("\(name) run failed (status \(result.status))") }
                }
            ))
    }

    // Beside the elapsed time, the CPU time of each run (user + system,
    // of this process and of the processes it waited for: a runtime and
    // the container it reaped): on a loaded machine the steadier figure.
    var times = [[Double]](repeating: [], count: contenders.count)
    var cpuTimes = [[Double]](repeating: [], count: contenders.count)
    for index in 0..<iterations {
        for turn in 0..<contenders.count {
            let which = (index + turn) % contenders.count
            let before = cpuSeconds()
            times[which].append(try Stopwatch.seconds { try contenders[which].run(index) })
            cpuTimes[which].append(cpuSeconds() - before)
        }
    }
    try runtime.delete("cli")

    print(
        "berth-bench runtime: create + start + exit of /bin/true on the busybox rootfs, \(iterations) runs each, interleaved (medians);"
            + " run state of all (berth --run-dir, runc and crun --root) on the tmpfs \(runState), berth's state dir \(root)/state on disk")
    let runcMedian = peers["runc"].map { median(times[$0]) }
    let crunMedian = peers["crun"].map { median(times[$0]) }
    let runcCPU = peers["runc"].map { median(cpuTimes[$0]) }
    let crunCPU = peers["crun"].map { median(cpuTimes[$0]) }
    print("  \("".padding(toLength: 36, withPad: " ", startingAt: 0)) elapsed                          CPU time")
    for (which, contender) in contenders.enumerated() {
        let value = median(times[which])
        let cpu = median(cpuTimes[which])
        var ratios = "", cpuRatios = ""
        if which < contenders.count - peers.count {
            if let crunMedian, let crunCPU {
                ratios += String(format: "  %.2fx crun", value / crunMedian)
                cpuRatios += String(format: "  %.2fx crun", cpu / crunCPU)
            }
            if let runcMedian, let runcCPU {
                ratios += String(format: "  %.2fx runc", value / runcMedian)
                cpuRatios += String(format: "  %.2fx runc", cpu / runcCPU)
            }
        }
        print(
            String(
                format: "  %@ %7.2f ms%@ %7.2f ms%@", contender.label.padding(toLength: 36, withPad: " ", startingAt: 0), value * 1000,
                ratios.padding(toLength: 24, withPad: " ", startingAt: 0), cpu * 1000, cpuRatios))
    }
    if runcMedian == nil { print("  runc: not installed (apt-get install runc): no ratio") }
    if crunMedian == nil { print("  crun: not installed (apt-get install crun): no ratio") }
    // The target's measure: the binary, `berth run -- /bin/true`.
    if let berthRun = contenders.firstIndex(where: { $0.label == "berth run (the binary)" }).map({ median(times[$0]) }) {
        for (peer, peerMedian, target) in [("crun", crunMedian, 0.8), ("runc", runcMedian, 0.25)] {
            guard let peerMedian else { continue }
            let ratio = berthRun / peerMedian
            print(
                String(
                    format: "  berth run / %@ run: %.2fx  target ≤ %.2fx: %@", peer, ratio, target,
                    ratio <= target ? "met" : String(format: "not met (%.2f ms more)", (berthRun - target * peerMedian) * 1000)))
        }
    }

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

/// The peer's own default config (`runc spec`, `crun spec`) for the
/// bundle, running /bin/true without a terminal, plus a cgroup namespace as
/// berth's containers have: the peer does what it does by default, not less.
func peerRunConfig(binary: String, bundle: String) throws {
    guard try Spawn.run([binary, "spec", "--bundle", bundle]).exitedCleanly else { throw BenchError("\(binary) spec failed") }
    let path = bundle + "/config.json"
    guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any],
        var process = config["process"] as? [String: Any], var linux = config["linux"] as? [String: Any],
        var namespaces = linux["namespaces"] as? [[String: Any]]
    else { throw BenchError("\(binary) spec wrote an unexpected config") }
    process["terminal"] = false
    process["args"] = ["/bin/true"]
    config["process"] = process
    config["hostname"] = "bench"
    if !namespaces.contains(where: { $0["type"] as? String == "cgroup" }) { namespaces.append(["type": "cgroup"]) }
    linux["namespaces"] = namespaces
    config["linux"] = linux
    try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
}

/// User + system CPU seconds of this process and of the children it waited for.
private func cpuSeconds() -> Double {
    func seconds(_ who: Int32) -> Double {
        var usage = rusage()
        guard getrusage(__rusage_who_t(who), &usage) == 0 else { return 0 }
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
    return seconds(RUSAGE_SELF.rawValue) + seconds(RUSAGE_CHILDREN.rawValue)
}
