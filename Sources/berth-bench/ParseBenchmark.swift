// Benchmark (not a test): parse and validate 10,000 Container documents.
// Prints the time and the process's peak memory against the targets
// (under 1 s and under 200 MB on the project's 2-core machines).
import Foundation
import Manifest
import Model

func manifestText(containers: Int) -> String {
    var text = """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: bench}
        spec: {subnet: 10.64.0.0/16, nat: true}
        ---
        apiVersion: berth/v1
        kind: Profile
        metadata: {name: small}
        spec:
          rootfs: {template: busybox}
          resources:
            cpu: {weight: 100, limit: "0.5"}
            memory: {max: 128Mi, high: 96Mi}
            pids: {max: 256}

        """
    text.reserveCapacity(containers * 420)
    for index in 0..<containers {
        let address = "10.64.\(1 + index / 250).\(1 + index % 250)"
        text += """
            ---
            apiVersion: berth/v1
            kind: Container
            metadata:
              name: c\(index)
              labels: {app: bench, shard: "s\(index % 16)"}
            spec:
              profiles: [small]
              hostname: c\(index)
              init: {command: [/bin/sh, -c, "exec httpd -f -p 80"]}
              env: {ROLE: web, INDEX: "\(index)"}
              networks: [{network: bench, addresses: [\(address)]}]
              resources: {memory: {max: 256Mi}, io: {weight: 200}}
              stopTimeout: 10s

            """
    }
    return text
}

/// Peak resident memory of this process (VmHWM), in MiB.
func peakMemoryMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let digits = line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? -1
        return digits / 1024
    }
    return -1
}

/// Parse and validate 10,000 Container documents; print time and peak memory.
func parseBenchmark() throws {
    let containerCount = Int(ProcessInfo.processInfo.environment["BERTH_BENCH_CONTAINERS"] ?? "") ?? 10_000
    let runs = 5
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-bench-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appendingPathComponent("containers.yaml")
    let text = manifestText(containers: containerCount)
    try text.write(to: file, atomically: true, encoding: .utf8)
    let baseline = peakMemoryMiB()

    var timings: [Double] = []
    var resolved = 0
    let clock = ContinuousClock()
    for _ in 0..<runs {
        let elapsed = clock.measure {
            let loaded = ManifestLoader().load(paths: [file.path])
            precondition(loaded.errors.isEmpty, "benchmark manifests must be valid: \(loaded.errors.prefix(3))")
            let (desired, errors) = ManifestSet(documents: loaded.documents).resolve(for: HostFacts(name: "bench"))
            precondition(errors.isEmpty, "benchmark manifests must resolve: \(errors.prefix(3))")
            resolved = desired.containers.count
        }
        timings.append(Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
    }
    timings.sort()
    let median = timings[timings.count / 2]
    let peak = peakMemoryMiB()

    print("berth-bench: parse + validate + resolve \(resolved) Container documents (\(text.utf8.count / 1024) KiB of YAML)")
    print(
        String(
            format: "  time   median %.3f s  (min %.3f s, max %.3f s, %d runs)  target < 1 s  -> %.2fx of target", median, timings[0],
            timings[timings.count - 1], runs, median / 1.0))
    print(
        String(
            format: "  memory peak RSS %.1f MiB (%.1f MiB before parsing)  target < 200 MB  -> %.2fx of target", peak, baseline, peak * 1.048576 / 200
        )
    )
}
