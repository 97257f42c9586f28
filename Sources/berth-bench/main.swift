// Benchmarks (never timed tests). `berth-bench parse`: the manifest pipeline.
// `berth-bench runtime`: container create+start+exit against runc, and 200
// containers side by side; `berth-bench reconcile`: a no-op reconcile with
// 1, 100, 1000 containers and the agent's idle memory. Both need root inside a
// sandbox host (make bench).
import Foundation

let mode = CommandLine.arguments.dropFirst().first ?? "parse"
do {
    switch mode {
    case "parse": try parseBenchmark()
    case "runtime": try runtimeBenchmark()
    case "reconcile": try reconcileBenchmark()
    default:
        FileHandle.standardError.write(Data("usage: berth-bench [parse|runtime|reconcile]\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("berth-bench: \(error)\n".utf8))
    exit(1)
}
