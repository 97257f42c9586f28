// Benchmarks (never timed tests). `berth-bench parse`: the manifest pipeline,
// then its cost per node as one document grows up to a million nodes
// (`--quick`: up to 100,000).
// `berth-bench runtime`: container create+start+exit against runc, and 200
// containers side by side; `berth-bench network`: network set-up per
// container up to 1000 on one bridge; `berth-bench reconcile`: a no-op
// reconcile with 1, 100, 1000 containers and the agent's idle memory;
// `berth-bench scale N`: N containers on one network through the berth
// binary (apply, plan, drift, agent, prune) beside runc and crun;
// `berth-bench checkpoint`: the freeze of checkpoint/restore and of
// migrate's pre-dumped dump (exit 3 where `criu check` fails: make bench
// then runs it in a VM, scripts/bench-checkpoint.sh). All
// but parse need root inside a sandbox host (make bench).
import Foundation

let mode = CommandLine.arguments.dropFirst().first ?? "parse"
do {
    switch mode {
    case "parse", "parse-scaling":
        if mode == "parse" { try parseBenchmark() }
        // Up to a million nodes per shape, the target; `--quick`
        // stops at 100,000 (or any sizes and shapes: BERTH_BENCH_SIZES=1000,20000
        // BERTH_BENCH_SHAPES=list, e.g. under valgrind with parse-scaling).
        let environment = ProcessInfo.processInfo.environment
        let quick = CommandLine.arguments.contains("--quick")
        let sizes = environment["BERTH_BENCH_SIZES"].map { $0.split(separator: ",").compactMap { Int($0) } }
        try parseScalingBenchmark(
            sizes: sizes ?? (quick ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000]),
            shapes: environment["BERTH_BENCH_SHAPES"])
    case "runtime": try runtimeBenchmark()
    case "network": try networkBenchmark()
    case "reconcile": try reconcileBenchmark()
    case "checkpoint": if !(try checkpointBenchmark()) { exit(criuUnavailableStatus) }
    case "scale":
        let count = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 1000
        try scaleBenchmark(count: count)
    default:
        FileHandle.standardError.write(
            Data("usage: berth-bench [parse [--quick]|parse-scaling [--quick]|runtime|network|reconcile|scale [N]|checkpoint]\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("berth-bench: \(error)\n".utf8))
    exit(1)
}
