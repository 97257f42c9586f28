// Benchmarks (never timed tests). `berth-bench parse`: the manifest pipeline.
// `berth-bench runtime`: container create+start+exit against runc, and 200
// containers side by side; `berth-bench network`: network set-up per
// container up to 1000 on one bridge; `berth-bench reconcile`: a no-op
// reconcile with 1, 100, 1000 containers and the agent's idle memory. All
// but parse need root inside a sandbox host (make bench).
import Foundation

let mode = CommandLine.arguments.dropFirst().first ?? "parse"
do {
    switch mode {
    case "parse": try parseBenchmark()
    case "runtime": try runtimeBenchmark()
    case "network": try networkBenchmark()
    case "reconcile": try reconcileBenchmark()
    default:
        FileHandle.standardError.write(Data("usage: berth-bench [parse|runtime|network|reconcile]\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("berth-bench: \(error)\n".utf8))
    exit(1)
}
