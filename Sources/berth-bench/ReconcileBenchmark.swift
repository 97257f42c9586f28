import Engine
import Foundation
import Kernel
import Logging
import Model
import Reconcile
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// A no-op reconcile (observe + diff, nothing to change) with 1, 100 and
/// 1000 running containers: the time per container should stay flat (target:
/// 1000 in at most 0.2 s). Then the real `berth agent` over the same
/// containers, and its resident memory once idle (target: at most 20 MB, 19.07 MiB).
func reconcileBenchmark() throws {
    let counts = (ProcessInfo.processInfo.environment["BERTH_BENCH_RECONCILE"] ?? "1,100,1000").split(separator: ",").compactMap { Int($0) }
    guard let largest = counts.max(), largest > 0 else { throw BenchError("BERTH_BENCH_RECONCILE: a list of counts like 1,100,1000") }
    let host = try BenchHost("reconcile")
    defer { host.cleanUp() }
    let (root, runtime) = (host.root, host.runtime)
    let reconciler = Reconciler(runtime: runtime, logger: runtime.logger)
    let manifests = root + "/manifests"
    try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)

    // The containers come from manifests, so the agent later sees exactly the specs that run.
    var text = ""
    for index in 0..<largest {
        text += """
            ---
            apiVersion: berth/v1
            kind: Container
            metadata: {name: r\(index)}
            spec:
              rootfs: {template: busybox}
              init: {command: [/bin/sleep, "3600"]}
              resources: {memory: {max: 16Mi}, pids: {max: 16}, cpu: {weight: 100}}

            """
    }
    try text.write(toFile: manifests + "/containers.yaml", atomically: true, encoding: .utf8)
    let loaded = ManifestPipeline.load(paths: [manifests], host: HostFacts(name: "bench"))
    guard let all = loaded.desired else { throw BenchError("benchmark manifests: \(loaded.errors.prefix(3))") }

    print("berth-bench reconcile: a no-op pass (nothing to change) with N running busybox containers, median of 5")
    print("  N        start N (setup)   observe+diff   per container   load+observe+diff   target: 1000 in ≤ 200 ms")
    var started = 0
    for count in counts.sorted() {
        let setup = Stopwatch.seconds {
            while started < count {
                do {
                    _ = try runtime.start(all.containers[started])
                } catch {
                    print("  could not start container #\(started + 1): \(error)")
                    break
                }
                started += 1
            }
        }
        guard started == count else { break }
        let desired = DesiredHost(host: all.host, networks: [], containers: Array(all.containers.prefix(count)))
        let check = reconciler.plan(desired)
        guard check.isEmpty else { throw BenchError("not a no-op with \(count): \(check.prefix(3).map(\.description))") }
        var plans: [Double] = []
        var passes: [Double] = []
        for _ in 0..<5 {
            plans.append(Stopwatch.seconds { _ = reconciler.plan(desired) } * 1000)
        }
        if count == largest {
            for _ in 0..<5 {
                passes.append(
                    Stopwatch.seconds {
                        if let loaded = ManifestPipeline.load(paths: [manifests], host: all.host).desired { _ = reconciler.plan(loaded) }
                    } * 1000)
            }
        }
        var fresh: [Double] = []
        for _ in 0..<5 {
            runtime.state.forgetDecoded()
            fresh.append(Stopwatch.seconds { _ = reconciler.plan(desired) } * 1000)
        }
        let plan = plans.sorted()[plans.count / 2]
        let pass = passes.isEmpty ? "-" : String(format: "%.1f ms", passes.sorted()[passes.count / 2])
        print(
            String(
                format: "  %-6d %10.1f s %13.1f ms %12.1f µs %19@", count, setup, plan, plan * 1000 / Double(count),
                pass))
        // What the agent pays per pass for forgetting its decoded records between passes.
        print(String(format: "         records decoded afresh: observe+diff %.1f ms", fresh.sorted()[2]))
    }
    try agentMemory(host, manifests: manifests, containers: started)
}

/// Starts the release `berth agent` on the benchmark's manifests, waits for
/// READY=1 and a moment of idleness, and prints its resident memory.
@discardableResult
func agentMemory(_ host: BenchHost, manifests: String, containers: Int, arguments: [String] = []) throws -> Double {
    let root = host.root
    let berth = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("berth").path
    let notify = try DatagramReceiver(path: root + "/notify.sock")
    let log = root + "/agent.log"
    let pid = try Spawn.start(
        [berth, "agent"] + host.global + ["--manifests", manifests] + arguments,
        environment: ["NOTIFY_SOCKET": notify.path, "BERTH_JOURNAL_SOCKET": root + "/no-journald"], outputPath: log)
    defer {
        _ = kill(pid, SIGTERM)
        Reaper.wait(pid)
    }
    var status: String?
    let readyTime = Stopwatch.seconds {
        let deadline = MonotonicClock.milliseconds() + 300_000
        while status == nil && MonotonicClock.milliseconds() < deadline {
            if let datagram = notify.receive(timeoutMilliseconds: 200) {
                let message = String(decoding: datagram, as: UTF8.self)
                if message.contains("READY=1") { status = message }
            } else if Reaper.poll(pid) != nil {
                break
            }
        }
    }
    guard let status else {
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw BenchError("berth agent did not become ready: \(output.suffix(600))")
    }
    sleep(2)
    func field(_ name: String) -> String {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
        return line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? "?"
    }
    let rss = Double(field("VmRSS")).map { $0 / 1024 } ?? -1
    let peak = Double(field("VmHWM")).map { $0 / 1024 } ?? -1
    let anonymous = Double(field("RssAnon")).map { $0 / 1024 } ?? -1
    let fileBacked = Double(field("RssFile")).map { $0 / 1024 } ?? -1
    let anonymousParts = anonymousMappings(pid)
    let statusLine = status.split(separator: "\n").first { $0.hasPrefix("STATUS=") }.map { String($0.dropFirst(7)) } ?? "?"
    print(
        "  berth agent over \(containers) containers: start-up and first pass \(Int(readyTime * 1000)) ms; \(statusLine)"
    )
    // Issue 16's target: at most 20 MB (20,000,000 bytes = 19.07 MiB).
    let target = 20e6 / 1_048_576
    print(
        String(
            format: "  agent resident memory while idle: %.2f MiB (peak %.1f MiB)   target ≤ %.2f MiB (20 MB): %@; no process per container",
            rss, peak, target,
            rss < 0 ? "not measured" : rss <= target ? String(format: "met (%.2fx)", rss / target) : String(format: "not met (%.2fx)", rss / target)
        ))
    // Most of it is the static binary's code and read-only data paged in from
    // the file (shared with every berth process, reclaimable); the agent's own
    // heap and stacks are the anonymous part.
    print(String(format: "    of which anonymous (heap, stacks) %.1f MiB, file-backed (the binary's pages) %.1f MiB", anonymous, fileBacked))
    print(
        String(
            format:
                "    anonymous by mapping: [heap] %.1f MiB, written data of the binary and libraries %.1f MiB, other (thread arenas, stacks, large blocks) %.1f MiB",
            anonymousParts.heap, anonymousParts.data, anonymousParts.other))
    let files = anonymousParts.files.sorted { $0.value > $1.value }.prefix(5)
    print(
        "    file-backed by object: "
            + files.map { String(format: "%@ %.1f MiB", $0.key.split(separator: "/").last.map(String.init) ?? $0.key, $0.value) }.joined(
                separator: ", "))
    return rss
}

/// The resident anonymous memory of `pid` (MiB) in its main heap and in
/// its other anonymous mappings (thread arenas, thread stacks, blocks malloc
/// mapped on their own), and its file-backed resident memory by file, from
/// /proc/PID/smaps.
func anonymousMappings(_ pid: Int32) -> (heap: Double, data: Double, other: Double, files: [String: Double]) {
    // read(2) to the end: /proc files report no size to read by.
    let text = String(decoding: (try? Syscall.readFile("/proc/\(pid)/smaps", limit: 64 << 20)) ?? [], as: UTF8.self)
    var (heap, data, other) = (0.0, 0.0, 0.0)
    var files: [String: Double] = [:]
    var current: Substring?
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if let first = fields.first, first.contains("-"), first.first?.isHexDigit == true {
            // A mapping: address perms offset dev inode [path].
            current = fields.count > 5 ? fields[5] : ""
            continue
        }
        guard fields.count > 1, let kib = Double(fields[1]) else { continue }
        if fields.first == "Rss:", let path = current, path.hasPrefix("/") {
            // File-backed pages: Rss less the file mapping's private dirty (Anonymous) pages.
            files[String(path), default: 0] += kib / 1024
        } else if fields.first == "Anonymous:" {
            if let path = current, path.hasPrefix("/") {
                files[String(path), default: 0] -= kib / 1024
                data += kib / 1024
            } else if current == "[heap]" {
                heap += kib / 1024
            } else {
                other += kib / 1024
            }
        }
    }
    return (heap, data, other, files)
}
