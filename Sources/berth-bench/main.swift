// Benchmarks (never timed tests). `berth-bench parse`: the manifest pipeline.
// `berth-bench runtime`: container create+start+exit against runc, and 200
// containers side by side; needs root inside a sandbox host (make bench).
import Foundation

let mode = CommandLine.arguments.dropFirst().first ?? "parse"
do {
    switch mode {
    case "parse": try parseBenchmark()
    case "runtime": try runtimeBenchmark()
    default:
        FileHandle.standardError.write(Data("usage: berth-bench [parse|runtime]\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("berth-bench: \(error)\n".utf8))
    exit(1)
}
