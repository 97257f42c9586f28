// Benchmark (not a test): the manifest pipeline's cost per node as one
// document grows, for the shapes hostile input takes: one huge mapping (valid
// labels, and unknown keys that are all errors), one huge list, and alias
// fan-out (within the expansion budget, and past it: refused). Linear parsing
// keeps the cost per node flat: the target is a largest/smallest ratio under 2.
import Foundation
import Manifest
import Model

/// One document shape, generated at a given size.
struct ScalingShape: Sendable {
    var name: String
    /// A document with `count` keys or items, or `count` nodes of aliases.
    var yaml: @Sendable (Int) -> String
    /// Whether the document is valid (else it must be refused with errors).
    var valid: Bool
    /// Whether its ratio counts against the target. Unknown keys do not: the
    /// first 1000 of a file are reported with a "did you mean" (about 5 µs
    /// each), later ones only counted, so a small file costs more per node.
    var inTarget = true
}

/// Limits raised so that a million keys fit: the sweep measures growth, not refusal.
private let sweepLimits: ParseLimits = {
    var limits = ParseLimits()
    limits.maxFileBytes = 256 << 20
    limits.maxDocumentBytes = 256 << 20
    limits.maxNodesPerDocument = 8_000_000
    return limits
}()

private let documentHead = """
    apiVersion: berth/v1
    kind: Container
    metadata:
      name: big

    """

let scalingShapes: [ScalingShape] = [
    ScalingShape(
        name: "mapping: labels",
        yaml: { count in
            var text = documentHead + "  labels:\n"
            text.reserveCapacity(count * 20)
            for index in 0..<count { text += "    k\(index): v\n" }
            return text + "spec:\n  rootfs: {template: busybox}\n"
        }, valid: true),
    ScalingShape(
        name: "mapping: unknown keys",
        yaml: { count in
            var text = documentHead + "spec:\n  rootfs: {template: busybox}\n"
            text.reserveCapacity(count * 20)
            for index in 0..<count { text += "  memroy\(index): 1\n" }
            return text
        }, valid: false, inTarget: false),
    ScalingShape(
        name: "list: command",
        yaml: { count in
            var text = documentHead + "spec:\n  rootfs: {template: busybox}\n  init:\n    command:\n"
            text.reserveCapacity(count * 20)
            for index in 0..<count { text += "      - a\(index)\n" }
            return text
        }, valid: true),
    ScalingShape(
        name: "nested: rules",
        // Distinct 9-node rules, each a mapping in the list: the alias
        // shape's nodes, all written out.
        yaml: { count in
            var text = documentHead + "spec:\n  rootfs: {template: busybox}\n  firewall:\n    rules:\n"
            text.reserveCapacity(count * 8)
            for index in 0..<max(1, count / 9) {
                text += "      - {action: allow, protocol: tcp, port: \(1 + index % 65535), from: 10.0.0.0/8}\n"
            }
            return text
        }, valid: true),
    ScalingShape(
        name: "aliases: fan-out",
        // A 9-node rule and aliases of it: `count` nodes once expanded.
        yaml: { count in
            var text = documentHead + "spec:\n  rootfs: {template: busybox}\n  firewall:\n    rules:\n"
            text += "      - &r {action: allow, protocol: tcp, port: 80, from: 10.0.0.0/8}\n"
            text.reserveCapacity(count)
            for _ in 1..<max(1, count / 9) { text += "      - *r\n" }
            return text
        }, valid: true),
]

/// A shape's name in a column.
private func padded(_ name: String) -> String {
    "  " + name + String(repeating: " ", count: max(0, 22 - name.count))
}

/// The least CPU time this thread spent in one of `runs` runs of `body`, in
/// seconds. CPU time, not wall time: on a shared machine a run of seconds
/// (a million nodes) is always preempted while a run of a millisecond often
/// is not, and wall time then measured the load, not the parser (a ratio of
/// 4.9 at a load of 24 on 2 cores that was 1.3 in CPU time).
private func fastestCPUSeconds(runs: Int, _ body: () -> Void) -> Double {
    var fastest = Double.infinity
    for _ in 0..<runs {
        let start = threadCPUSeconds()
        body()
        fastest = min(fastest, threadCPUSeconds() - start)
    }
    return fastest
}

/// CPU time of the calling thread (user and system), in seconds.
private func threadCPUSeconds() -> Double {
    var time = timespec()
    guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time) == 0 else { return 0 }
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Decodes and resolves `yaml`; returns the composed node count and the errors.
private func runPipeline(_ yaml: Data, limits: ParseLimits) -> (nodes: Int, errors: [ManifestError]) {
    let decoded = ManifestLoader.decode(yaml, file: "big.yaml", limits: limits)
    let resolved = ManifestSet(documents: decoded.documents).resolve(for: HostFacts(name: "bench"))
    let nodes = decoded.documents.first?.root.weight ?? 0
    return (nodes, decoded.errors + resolved.errors)
}

/// Per-node cost of each shape at each size, and the largest/smallest ratio.
func parseScalingBenchmark(sizes: [Int], shapes filter: String? = nil) throws {
    print("berth-bench: CPU time per node as one document grows (parse + decode + resolve; target: largest/smallest < 2)")
    var worstRatio = 0.0
    for shape in scalingShapes where filter.map({ shape.name.contains($0) }) ?? true {
        var perNode: [Double] = []
        for size in sizes {
            let yaml = Data(shape.yaml(size).utf8)
            let (nodes, errors) = runPipeline(yaml, limits: sweepLimits)
            guard errors.isEmpty == shape.valid else {
                throw BenchError("\(shape.name) at \(size): unexpected diagnostics: \(errors.prefix(3))")
            }
            // A document with errors is not returned: count its nodes as the valid shape does.
            let counted = nodes > 0 ? nodes : 2 * size
            // Roughly the same total work per size: many runs of small documents.
            let runs = max(3, min(200, 1_000_000 / counted))
            let seconds = fastestCPUSeconds(runs: runs) { _ = runPipeline(yaml, limits: sweepLimits) }
            let cost = seconds / Double(counted)
            perNode.append(cost)
            print(
                padded(shape.name)
                    + String(format: " %9d: %9.3f ms, %9d nodes, %7.1f ns/node", size, seconds * 1e3, counted, cost * 1e9)
                    + (shape.valid ? "" : " (\(errors.count) errors)"))
        }
        if let largest = perNode.max(), let smallest = perNode.min(), smallest > 0 {
            let ratio = largest / smallest
            if shape.inTarget { worstRatio = max(worstRatio, ratio) }
            print(
                padded(shape.name) + String(format: " ratio largest/smallest per node: %.2f", ratio)
                    + (shape.inTarget ? "" : " (not in the target: the first 1000 errors carry hints)"))
        }
    }
    print(String(format: "  worst ratio %.2f  target < 2  -> ", worstRatio) + (worstRatio < 2 ? "ok" : "OVER TARGET"))
    if filter.map({ "aliases: past budget".contains($0) }) ?? true { try refusalBenchmark() }
}

/// Alias fan-out past the default budget of 100,000 nodes: refused after about
/// the budget's worth of events, whatever the number of aliases written.
private func refusalBenchmark() throws {
    let limits = ParseLimits.default
    print("  past the alias budget (default limits: \(limits.maxNodesPerDocument) nodes per document), refused while composing:")
    // Each alias expands to 9 nodes: just past the budget, then as many as 1 MiB holds.
    for fanOut in [limits.maxNodesPerDocument / 9 + 1, 340_000] {
        var text =
            documentHead
            + "spec:\n  rootfs: {template: busybox}\n  firewall:\n    rules: [&r {action: allow, protocol: tcp, port: 80, from: 10.0.0.0/8}"
        text.reserveCapacity(fanOut * 3)
        for _ in 1..<fanOut { text += ",*r" }
        text += "]\n"
        let yaml = Data(text.utf8)
        let (_, errors) = runPipeline(yaml, limits: limits)
        guard errors.contains(where: { $0.message.contains("YAML bomb") }) else {
            throw BenchError("fan-out of \(fanOut) aliases was not refused: \(errors.prefix(3))")
        }
        let seconds = fastestCPUSeconds(runs: 5) { _ = runPipeline(yaml, limits: limits) }
        print(
            padded("aliases: past budget")
                + String(
                    format: " %9d: %9.3f ms for %d KiB, %5.1f ns per budgeted node", fanOut, seconds * 1e3, yaml.count >> 10,
                    seconds * 1e9 / Double(limits.maxNodesPerDocument)))
    }
}
