import Foundation
import Kernel
import Netlink

/// One networked container, `berth apply FILE` to running, as a user does
/// it: a file with one Network (its bridge already there) and one
/// Container with an address, applied through the release binary; then
/// the container dropped from the file and pruned, and again. Printed: the
/// median of the create action (apply's own `durationMs`: from the start of
/// the create to the init running in its network) and of the whole command
/// (process start, manifest load, observe, plan included). Issue 16's
/// target: at most 5 ms. Returns the lines to print.
func networkedApplyBenchmark(_ host: BenchHost, berth: String, samples: Int) throws -> [String] {
    let directory = host.root + "/apply-one"
    let file = directory + "/one.yaml"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? RouteNetlink().deleteLink("br-one") }
    let network = """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: one}
        spec: {subnet: 10.91.0.0/24, bridge: br-one}

        """
    let container = """
        ---
        apiVersion: berth/v1
        kind: Container
        metadata: {name: one}
        spec:
          profiles: []
          rootfs: {template: busybox}
          init: {command: [/bin/sleep, "3600"]}
          networks: [{network: one, addresses: [10.91.0.2]}]
          resources: {memory: {max: 16Mi}, pids: {max: 16}}

        """
    // A prune with the network alone names no container: --allow-empty.
    func apply(_ text: String, prune: Bool) throws -> (seconds: Double, output: [UInt8]) {
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let arguments = [berth, "apply", "-o", "json", "--source", "one"] + (prune ? ["--prune", "--allow-empty"] : []) + host.global + [file]
        var result: Spawn.Result?
        let seconds = try Stopwatch.seconds { result = try Spawn.run(arguments, outputLimit: 1 << 20) }
        guard let result, result.exitedCleanly else {
            throw BenchError("berth apply failed: \(String(decoding: (result?.output ?? []).suffix(800), as: UTF8.self))")
        }
        return (seconds, result.output)
    }
    // The network's bridge first, and one round to warm the template.
    _ = try apply(network, prune: false)
    var actions: [Double] = []
    var commands: [Double] = []
    for round in 0...samples {
        let created = try apply(network + container, prune: false)
        guard let action = try finishTimes(created.output, kind: "create").first else {
            throw BenchError("berth apply created no container")
        }
        if round > 0 {
            actions.append(action.end - action.start)
            commands.append(created.seconds)
        }
        _ = try apply(network, prune: true)
    }
    let action = Stopwatch.median(actions)
    let command = Stopwatch.median(commands)
    return ["  one networked container, berth apply FILE to running (median of \(samples), the bridge already there):"]
        + [("create action (apply's durationMs, whole ms)", action), ("the whole berth apply command", command)].map { label, value in
            String(
                format: "    %@ %7.2f ms   target ≤ 5 ms: %@", label.padding(toLength: 46, withPad: " ", startingAt: 0), value * 1000,
                value <= 0.005 ? "met" : String(format: "not met (%.1fx)", value / 0.005))
        }
}
