import Foundation
import Kernel
import Model
import Netlink
import Runtime

/// `berth-bench scale N`: N containers on one network exactly as a user
/// makes them, through the release `berth` binary, a fresh process for each
/// step: one manifest file (one /16 network, N busybox `sleep` containers
/// with memory and pids limits), `berth apply FILE`, a no-op `berth plan`
/// and `berth drift`, `berth agent` idle over them, then the teardown: the
/// file emptied and `berth apply --prune` (when it returns, and when the
/// trash emptier it started is done). The whole pass runs once per network
/// driver, `bridge` then `macvlan` (BERTH_BENCH_DRIVERS=bridge,macvlan: the
/// default; one name: that pass alone), then a line per driver side by side.
/// Then runc and crun creating and deleting N containers of the same rootfs
/// and limits, one command per container (they have no network: CNI would
/// add one), once. Figures, never assertions; the targets are issue 16's.
func scaleBenchmark(count: Int) throws {
    guard count >= 10 else { throw BenchError("scale: N is at least 10") }
    let environment = ProcessInfo.processInfo.environment
    let drivers = try scaleDrivers(environment["BERTH_BENCH_DRIVERS"])
    // The run state (berth --run-dir, the peers' --root) on a tmpfs, as
    // /run is on a production host; the state dir on disk.
    let host = try BenchHost("scale", runStateOnTmpfs: true)
    defer {
        host.cleanUp()
        for driver in drivers { try? RouteNetlink().deleteLink(scaleDevice(driver)) }
    }
    let berth =
        environment["BERTH_BENCH_BERTH"]
        ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("berth").path
    let workers = environment["BERTH_APPLY_WORKERS"].map { "BERTH_APPLY_WORKERS=\($0)" } ?? "default workers"
    print(
        "berth-bench scale: \(count) containers on one /16 network through the berth binary (\(workers)), drivers "
            + drivers.joined(separator: " then ") + ";"
            + " run state on the tmpfs \(host.runState ?? host.root), state dir \(host.root)/state on disk")
    var figures: [ScaleFigures] = []
    for driver in drivers { figures.append(try scalePass(count: count, driver: driver, host: host, berth: berth)) }
    if figures.count > 1 {
        print("  drivers side by side (\(count) containers):")
        print("    driver     create     plan    drift  teardown  create last/first  teardown last/first  host memory per container")
        for figure in figures {
            func column(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
            print(
                "    " + figure.driver.padding(toLength: 8, withPad: " ", startingAt: 0)
                    + String(format: "%7.3f s %6.3f s %6.3f s %7.3f s", figure.create, figure.plan, figure.drift, figure.teardown)
                    + column(ratioText(figure.createRatio), 19) + column(ratioText(figure.teardownRatio), 21)
                    + column(figure.memoryKiB.map { String(format: "%.0f KiB", $0) } ?? "-", 27))
        }
    }

    // The peers, in the same run (BERTH_BENCH_PEERS=0: berth alone).
    if environment["BERTH_BENCH_PEERS"] != "0" { try peerScale(count: count, host: host) }
}

/// One driver's figures, for the side-by-side lines.
struct ScaleFigures {
    var driver: String
    var create: Double
    var plan: Double
    var drift: Double
    var teardown: Double
    var createRatio: Double?
    var teardownRatio: Double?
    var memoryKiB: Double?
}

/// The drivers BERTH_BENCH_DRIVERS names (comma-separated), in its order;
/// unset or empty: both.
func scaleDrivers(_ value: String?) throws -> [String] {
    let known = ["bridge", "macvlan"]
    guard let value, !value.isEmpty else { return known }
    var drivers: [String] = []
    for name in value.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
        guard known.contains(name) else { throw BenchError("BERTH_BENCH_DRIVERS: \(name) is not a driver (bridge, macvlan)") }
        if !drivers.contains(name) { drivers.append(name) }
    }
    guard !drivers.isEmpty else { throw BenchError("BERTH_BENCH_DRIVERS names no driver (bridge, macvlan)") }
    return drivers
}

/// The host device each driver's pass names in `spec.bridge`: the bridge,
/// or the macvlan network's end of its veth pair.
func scaleDevice(_ driver: String) -> String { driver == "bridge" ? "br-scale" : "mv-scale" }

private func ratioText(_ ratio: Double?) -> String { ratio.map { String(format: "%.2fx", $0) } ?? "-" }

/// One pass of `berth-bench scale` with the network's `driver`: create,
/// no-op plan and drift, the idle agent, teardown; nothing of it left.
func scalePass(count: Int, driver: String, host: BenchHost, berth: String) throws -> ScaleFigures {
    let directory = host.root + "/manifests"
    let file = directory + "/scale.yaml"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try scaleManifest(count: count, driver: driver).write(toFile: file, atomically: true, encoding: .utf8)
    let source = ["--source", "scale"]
    func berthRun(_ arguments: [String]) throws -> (seconds: Double, result: Spawn.Result) {
        var result: Spawn.Result?
        let seconds = try Stopwatch.seconds {
            result = try Spawn.run([berth] + arguments, outputLimit: 64 << 20)
        }
        guard let result else { throw BenchError("berth \(arguments.first ?? "") did not run") }
        return (seconds, result)
    }
    print("  driver: \(driver) (network device \(scaleDevice(driver)))")
    let linksBefore = Set(try RouteNetlink().links().map(\.name))

    // Create.
    let memoryBefore = availableMemory()
    let create = try berthRun(["apply", "-o", "json"] + host.global + source + [file])
    guard create.result.exitedCleanly else {
        throw BenchError("\(driver): berth apply failed: \(String(decoding: create.result.output.suffix(800), as: UTF8.self))")
    }
    let memoryAfter = availableMemory()
    let created = try finishTimes(create.result.output, kind: "create")
    guard created.count == count else { throw BenchError("\(driver): berth apply created \(created.count) of \(count) containers") }
    phaseLine("create (berth apply FILE)", create.seconds, target: 6)
    let createRatio = decileLines(created)

    // No-op plan and drift, five of each, interleaved.
    var plans: [Double] = []
    var drifts: [Double] = []
    for _ in 0..<5 {
        let plan = try berthRun(["plan", "--detailed-exitcode"] + host.global + source + [file])
        guard plan.result.exitedCleanly else {
            throw BenchError("\(driver): berth plan is not a no-op: \(String(decoding: plan.result.output.prefix(800), as: UTF8.self))")
        }
        plans.append(plan.seconds)
        let drift = try berthRun(["drift", "--detailed-exitcode"] + host.global + source + [file])
        guard drift.result.exitedCleanly else {
            throw BenchError("\(driver): berth drift found drift: \(String(decoding: drift.result.output.prefix(800), as: UTF8.self))")
        }
        drifts.append(drift.seconds)
    }
    phaseLine("no-op plan (median of 5)", Stopwatch.median(plans), target: 0.2)
    phaseLine("drift (median of 5)", Stopwatch.median(drifts), target: 0.2)
    // What an operator asks of the fleet (no target): every container's
    // line, and one container's status.
    var lists: [Double] = []
    var statuses: [Double] = []
    for _ in 0..<5 {
        let list = try berthRun(["list", "-q"] + host.global)
        guard list.result.exitedCleanly, list.result.output.filter({ $0 == UInt8(ascii: "\n") }).count == count else {
            throw BenchError("\(driver): berth list: \(String(decoding: list.result.output.suffix(400), as: UTF8.self))")
        }
        lists.append(list.seconds)
        let status = try berthRun(["status", "s\(count - 1)"] + host.global)
        guard status.result.exitedCleanly else {
            throw BenchError("\(driver): berth status: \(String(decoding: status.result.output.suffix(400), as: UTF8.self))")
        }
        statuses.append(status.seconds)
    }
    figureLine("list (median of 5)", Stopwatch.median(lists))
    figureLine("status of one (median of 5)", Stopwatch.median(statuses))

    // The agent over the same manifests, idle.
    try agentMemory(host, manifests: directory, containers: count, arguments: source)
    var memoryKiB: Double?
    if let memoryBefore, let memoryAfter {
        memoryKiB = Double(memoryBefore - memoryAfter) / 1024 / Double(count)
        print(
            String(
                format: "  host memory per container: %.0f KiB (MemAvailable drop over the create / %d)", memoryKiB ?? 0, count))
    }

    // Teardown: the file names nothing any more, and apply prunes (the
    // network too).
    try "# emptied: every container goes\n".write(toFile: file, atomically: true, encoding: .utf8)
    let teardown = try berthRun(["apply", "--prune", "--allow-empty", "-o", "json"] + host.global + source + [file])
    guard teardown.result.exitedCleanly else {
        throw BenchError(
            "\(driver): berth apply --prune failed: \(String(decoding: teardown.result.output.suffix(800), as: UTF8.self))")
    }
    let deleted = try finishTimes(teardown.result.output, kind: "delete")
    phaseLine("teardown: apply returned", teardown.seconds, target: 1.5)
    let teardownRatio = decileLines(deleted)
    // The deleted containers' files and cgroups, moved to the trash, are
    // removed by the detached emptier apply started (it holds the trash lock
    // from before apply returned): the disk is free once it lets go.
    let trash = host.runtime.trash
    var leftover = 0
    let emptying = Stopwatch.seconds { leftover = trash.emptyNow().removed }
    print(
        String(
            format: "  %@ %8.3f s   (%.3f s after apply returned; nice 19, idle I/O%@)",
            "teardown: trash empty".padding(toLength: 40, withPad: " ", startingAt: 0), teardown.seconds + emptying, emptying,
            leftover > 0 ? ", \(leftover) entries left to this benchmark" : ""))
    guard trash.isEmpty else { throw BenchError("\(driver): the trash is not empty after the teardown: \(trash.entries().count) entries") }
    guard host.runtime.state.names().isEmpty else {
        throw BenchError("\(driver): containers left after the teardown: \(host.runtime.state.names().count)")
    }
    // The prune took the network: its bridge, or its veth pair (both ends).
    let linksLeft = Set(try RouteNetlink().links().map(\.name)).subtracting(linksBefore)
    guard linksLeft.isEmpty else { throw BenchError("\(driver): links left after the teardown: \(linksLeft.sorted().joined(separator: ", "))") }
    return ScaleFigures(
        driver: driver, create: create.seconds, plan: Stopwatch.median(plans), drift: Stopwatch.median(drifts), teardown: teardown.seconds,
        createRatio: createRatio, teardownRatio: teardownRatio, memoryKiB: memoryKiB)
}

/// The benchmark's manifest: one Network of `driver`, `count` Containers.
func scaleManifest(count: Int, driver: String = "bridge") -> String {
    var text = """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: scale}
        spec: {driver: \(driver), subnet: 10.80.0.0/16, bridge: \(scaleDevice(driver))}

        """
    for index in 0..<count {
        text += """
            ---
            apiVersion: berth/v1
            kind: Container
            metadata: {name: s\(index)}
            spec:
              profiles: []
              rootfs: {template: busybox}
              init: {command: [/bin/sleep, "3600"]}
              networks: [{network: scale, addresses: [10.80.\(index / 250).\(index % 250 + 2)]}]
              resources: {memory: {max: 16Mi}, pids: {max: 16}}

            """
    }
    return text
}

/// When each container action of `kind` finished, in seconds since the
/// apply began, sorted, from `apply -o json` (`finishedMs`; a berth
/// without it: the running sum of `durationMs`, one action after another).
func finishTimes(_ output: [UInt8], kind: String) throws -> [(start: Double, end: Double)] {
    guard let start = output.firstIndex(of: UInt8(ascii: "[")),
        let actions = try JSONSerialization.jsonObject(with: Data(output[start...])) as? [[String: Any]]
    else { throw BenchError("apply -o json printed no list of actions") }
    var elapsed: UInt64 = 0
    var times: [(start: Double, end: Double)] = []
    for action in actions {
        let duration = (action["durationMs"] as? NSNumber)?.uint64Value ?? 0
        elapsed += duration
        guard action["kind"] as? String == kind, (action["object"] as? String)?.hasPrefix("Container/") == true,
            action["result"] as? String == "applied"
        else { continue }
        let end = (action["finishedMs"] as? NSNumber)?.uint64Value ?? elapsed
        times.append((Double(end &- duration) / 1000, Double(end) / 1000))
    }
    return times.sorted { $0.end < $1.end }
}

func phaseLine(_ label: String, _ seconds: Double, target: Double) {
    print(
        String(
            format: "  %@ %8.3f s   target ≤ %.1f s: %@", label.padding(toLength: 40, withPad: " ", startingAt: 0), seconds, target,
            seconds <= target ? "met" : String(format: "not met (%.1fx)", seconds / target)))
}

/// A figure without a target.
func figureLine(_ label: String, _ seconds: Double) {
    print(String(format: "  %@ %8.3f s", label.padding(toLength: 40, withPad: " ", startingAt: 0), seconds))
}

/// The time each tenth of the containers took (a hundred of 1000): from
/// when the previous tenth was done (the first: from its first start) to
/// when its last one was; and the last tenth against the first (returned,
/// nil where it is not measured).
@discardableResult
func decileLines(_ times: [(start: Double, end: Double)], target: Double = 1.2) -> Double? {
    guard times.count >= 10, let first = times.map(\.start).min() else { return nil }
    var previous = first
    var slices: [Double] = []
    for decile in 1...10 {
        let end = times[decile * times.count / 10 - 1].end
        slices.append(end - previous)
        previous = end
    }
    let size = times.count / 10
    print("    each \(size) (ms): " + slices.map { String(format: "%.0f", $0 * 1000) }.joined(separator: " "))
    if let head = slices.first, let tail = slices.last, head > 0 {
        let ratio = tail / head
        print(
            String(
                format: "    last %d / first %d: %.2fx  target ≤ %.1fx: %@", size, size, ratio, target, ratio <= target ? "met" : "not met"))
        return ratio
    }
    return nil
}
