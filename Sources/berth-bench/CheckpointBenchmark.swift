import Foundation
import Kernel
import Model
import Netlink
import Runtime

/// The exit status of `berth-bench checkpoint` where `criu check` fails
/// here: make bench then runs it in the VM (scripts/bench-checkpoint.sh).
let criuUnavailableStatus: Int32 = 3

/// `berth-bench checkpoint`: the freeze of a checkpoint and restore (how
/// long a container does not run), as `berth checkpoint` + `berth restore`
/// do it, and as `berth migrate` does it on one host: a pre-dump while it
/// runs, then the final dump on top of it and the restore; each split into
/// the dump and the restore, with the time CRIU's dump held the tasks
/// frozen. A counter container; BERTH_BENCH_ROUNDS rounds of each (5), the
/// median. Where `criu check` fails (this machine's kernel) it says so and
/// exits 3; make bench then runs it in the VM lane's VM, and
/// BERTH_BENCH_UNDER names that in the figures' heading.
/// Returns false, having said why, where `criu check` fails.
func checkpointBenchmark() throws -> Bool {
    let host = try BenchHost("checkpoint")
    defer { host.cleanUp() }
    try? RouteNetlink().setLink("lo", up: true)  // CRIU's probe binds 127.0.0.1 here
    let environment = ProcessInfo.processInfo.environment
    let criu = CRIU(workDirectory: host.runtime.criuWorkDirectory("ckpt"))
    do {
        // Recorded as berth's commands record it: the rounds measure what
        // every checkpoint after the first of a boot costs.
        _ = try criu.checkedVersion(cache: host.runtime.criuCheckRecord)
    } catch {
        print("berth-bench checkpoint: skipped here: \(error)")
        return false
    }
    let name = "ckpt"
    let counter = host.container(name, ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/tmp/count; usleep 10000; done"])
    _ = try host.runtime.start(counter)
    let rounds = max(1, environment["BERTH_BENCH_ROUNDS"].flatMap { Int($0) } ?? 5)
    let under = environment["BERTH_BENCH_UNDER"].map { ", measured under \($0)" } ?? ""
    print("berth-bench checkpoint: freeze (the container does not run) of a busybox counter, median of \(rounds)\(under)")
    /// One way of freezing: the dump, CRIU's frozen time in it, the restore.
    struct Freeze {
        var dump: [Double] = []
        var frozen: [Double] = []
        var restore: [Double] = []
        var total: [Double] = []

        mutating func measure(dump dumping: () throws -> Void, frozen: () -> Double?, restore restoring: () throws -> Void) rethrows {
            let dumped = try Stopwatch.seconds(dumping)
            if let seconds = frozen() { self.frozen.append(seconds) }
            let restored = try Stopwatch.seconds(restoring)
            dump.append(dumped)
            restore.append(restored)
            total.append(dumped + restored)
        }

        func line(_ label: String) -> String {
            func ms(_ values: [Double]) -> String { String(format: "%.0f ms", Stopwatch.median(values) * 1000) }
            let frozenPart = frozen.isEmpty ? "" : ", CRIU froze its tasks \(ms(frozen))"
            return "  \(label)\(ms(total)) (dump \(ms(dump))\(frozenPart); restore \(ms(restore)))"
        }
    }
    func frozen() -> Double? { criu.lastDumpStats().map { Double($0.frozenMicroseconds) / 1e6 } }
    var plain = Freeze()
    var preDumped = Freeze()
    var pages: [Double] = []
    for round in 0..<rounds {
        let directory = host.root + "/images/\(round)"
        try plain.measure(
            dump: { try host.runtime.checkpoint(name, to: directory + "/plain", leaveRunning: false, berthVersion: "bench") },
            frozen: frozen, restore: { _ = try host.runtime.restore(name, from: directory + "/plain") })
        if let written = try host.runtime.preDump(name, into: directory + "/pre", parent: nil) { pages.append(Double(written)) }
        try preDumped.measure(
            dump: { try host.runtime.checkpoint(name, to: directory + "/final", leaveRunning: false, berthVersion: "bench", parent: "../pre") },
            frozen: frozen, restore: { _ = try host.runtime.restore(name, from: directory + "/final") })
        try? FileManager.default.removeItem(atPath: directory)
    }
    print(plain.line("checkpoint + restore:                  "))
    print(preDumped.line("after a pre-dump (as berth migrate):   "))
    if !pages.isEmpty { print(String(format: "  pages a pre-dump wrote:                %.0f", Stopwatch.median(pages))) }
    return true
}
