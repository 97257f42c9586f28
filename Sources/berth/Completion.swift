import ArgumentParser
import Model
import Runtime

/// What shell completion (`berth --generate-completion-script bash|zsh|fish`)
/// offers: container names from the state dir of the instance the command
/// line names (`--state-dir`, else BERTH_STATE_DIR, else the default), and
/// manifest files (`*.yaml`, `*.yml`) and directories.
enum Completion {
    static let containerName = CompletionKind.custom { words, _, prefix in containerNames(words, prefix: prefix) }
    static let manifests = CompletionKind.file(extensions: ["yaml", "yml"])

    /// The containers' names that start with `prefix` (the state dir is
    /// read, not the kernel: completing must be quick and needs no root).
    static func containerNames(_ words: [String], prefix: String) -> [String] {
        // The run dir too: a `berth run` container's record is there.
        var stateDir = Instance.defaults.stateDir
        var runDir = Instance.defaults.runDir
        for (index, word) in words.enumerated() {
            if word == "--state-dir", index + 1 < words.count {
                stateDir = words[index + 1]
            } else if word.hasPrefix("--state-dir=") {
                stateDir = String(word.dropFirst("--state-dir=".count))
            } else if word == "--run-dir", index + 1 < words.count {
                runDir = words[index + 1]
            } else if word.hasPrefix("--run-dir=") {
                runDir = String(word.dropFirst("--run-dir=".count))
            }
        }
        let paths = RuntimePaths(
            stateDirectory: .init(stateDir), runDirectory: .init(runDir), cgroupParent: Instance.defaults.cgroupParent)
        return StateStore(paths: paths).names().filter { name in
            name.hasPrefix(prefix) && (try? Names.checkDNSLabel(name)) != nil
        }
    }
}
