import Foundation
import Kernel
import Model
import Netlink
import Runtime

/// `berth-bench checkpoint`: the freeze of a checkpoint and restore (how
/// long a container does not run), as `berth checkpoint` + `berth restore`
/// do it, and as `berth migrate` does it on one host: a pre-dump while it
/// runs, then the final dump on top of it and the restore. A counter
/// container; five rounds of each, the median. Skipped, saying why, where
/// `criu check` fails (this machine's kernel; the VM lane's passes).
func checkpointBenchmark() throws {
    let host = try BenchHost("checkpoint")
    defer { host.cleanUp() }
    try? RouteNetlink().setLink("lo", up: true)  // CRIU's probe binds 127.0.0.1 here
    do {
        try CRIU(workDirectory: host.root + "/criu-check").check()
    } catch {
        print("berth-bench checkpoint: skipped: \(error)")
        return
    }
    let name = "ckpt"
    let counter = host.container(name, ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/tmp/count; usleep 10000; done"])
    _ = try host.runtime.start(counter)
    print("berth-bench checkpoint: freeze (the container does not run) of a busybox counter, median of 5")
    var plain: [Double] = []
    var preDumped: [Double] = []
    for round in 0..<5 {
        let directory = host.root + "/images/\(round)"
        plain.append(
            try Stopwatch.seconds {
                try host.runtime.checkpoint(name, to: directory + "/plain", leaveRunning: false, berthVersion: "bench")
                _ = try host.runtime.restore(name, from: directory + "/plain")
            })
        try host.runtime.preDump(name, into: directory + "/pre", parent: nil)
        preDumped.append(
            try Stopwatch.seconds {
                try host.runtime.checkpoint(name, to: directory + "/final", leaveRunning: false, berthVersion: "bench", parent: "../pre")
                _ = try host.runtime.restore(name, from: directory + "/final")
            })
        try? FileManager.default.removeItem(atPath: directory)
    }
    func milliseconds(_ values: [Double]) -> String { String(format: "%.0f ms", Stopwatch.median(values) * 1000) }
    print("  checkpoint + restore:                  \(milliseconds(plain))")
    print("  after a pre-dump (as berth migrate):   \(milliseconds(preDumped))")
}
