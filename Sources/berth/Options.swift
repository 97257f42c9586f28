import ArgumentParser
import FoundationEssentials
import Kernel
import Manifest
import Model
import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// Options every subcommand takes, so that several berth instances never collide.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Where berth keeps its state (or BERTH_STATE_DIR).", valueName: "dir"))
    var stateDir: String = Instance.defaults.stateDir

    @Option(name: .long, help: ArgumentHelp("Where berth keeps runtime files and its lock (or BERTH_RUN_DIR).", valueName: "dir"))
    var runDir: String = Instance.defaults.runDir

    @Option(name: .long, help: ArgumentHelp("The cgroup under which berth creates containers' cgroups (or BERTH_CGROUP_PARENT).", valueName: "name"))
    var cgroupParent: String = Instance.defaults.cgroupParent

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Who makes containers' cgroups: cgroupfs (berth, under --cgroup-parent) or systemd (a delegated scope per container in <cgroup-parent>.slice, cgroup v2; or BERTH_CGROUP_DRIVER).",
            valueName: "driver"))
    var cgroupDriver: String = Instance.defaults.cgroupDriver

    @Flag(name: [.customShort("q"), .long], help: "Print only errors and totals.")
    var quiet = false

    @Flag(name: [.customShort("v"), .long], help: "Also print informational events (BERTH_LOG_LEVEL sets any level).")
    var verbose = false

    var verbosity: Verbosity { quiet ? .quiet : verbose ? .verbose : .normal }

    var paths: RuntimePaths { Instance(self).paths }

    func validate() throws {
        if quiet && verbose { throw ValidationError("give --quiet or --verbose, not both") }
        try GlobalOptions.check(cgroupDriver: cgroupDriver)
    }

    static func check(cgroupDriver: String) throws {
        if CgroupManager(rawValue: cgroupDriver) == nil {
            throw ValidationError("--cgroup-driver \(cgroupDriver) (or BERTH_CGROUP_DRIVER): give cgroupfs or systemd")
        }
    }
}

/// How much berth says on stderr: -q errors only, -v informational events
/// too, else BERTH_LOG_LEVEL (trace, debug, info, notice, warning, error,
/// critical) or notice.
enum Verbosity: Equatable {
    case quiet, normal, verbose
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct OutputOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: "Output format: text or json.")
    var output: OutputFormat = .text
}

/// Which host of a fleet to plan for: detected, or overridden.
struct HostOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Plan for this host name instead of this machine's.", valueName: "name"))
    var host: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A host label key=value (repeatable); replaces labels read from /etc/berth/host-labels.",
            valueName: "key=value"))
    var hostLabel: [String] = []

    @Option(name: .long, help: ArgumentHelp("File of key=value host labels.", valueName: "file"))
    var hostLabelsFile: String = HostOptions.defaultLabelsFile

    static let defaultLabelsFile = "/etc/berth/host-labels"

    func facts() throws -> HostFacts { try HostOptions.facts(host: host, labels: hostLabel, file: hostLabelsFile) }

    /// The host name given (else this machine's), and its labels: those
    /// given, else the labels file's.
    static func facts(host: String?, labels given: [String], file: String) throws -> HostFacts {
        let name: String
        if let host {
            name = host
        } else {
            name = try HostIdentity.hostname()
        }
        var labels: [String: String] = [:]
        if given.isEmpty {
            labels = try HostOptions.readLabels(file: file)
        } else {
            for item in given {
                let (key, value) = try HostOptions.split(item, origin: "--host-label")
                labels[key] = value
            }
        }
        return HostFacts(name: name, labels: labels)
    }

    static func split(_ item: String, origin: String) throws -> (String, String) {
        guard let equals = item.firstIndex(of: "=") else {
            throw ValidationError("\(origin): '\(item)' is not key=value")
        }
        let key = String(item[..<equals]).trimmingSpaces
        let value = String(item[item.index(after: equals)...]).trimmingSpaces
        do {
            try Names.checkLabelKey(key)
            try Names.checkLabelValue(value)
        } catch {
            throw ValidationError("\(origin): \(error.message)")
        }
        return (key, value)
    }

    static func readLabels(file: String) throws -> [String: String] {
        // Read with a syscall: Foundation's read of a missing file makes an
        // NSError whose types the runtime instantiates on first use (0.4 ms
        // of every plan, apply and drift without the default file).
        guard let bytes = try? Syscall.readFile(file), let text = String(validating: bytes, as: UTF8.self) else { return [:] }
        var labels: [String: String] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = String(line).trimmingSpaces
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let (key, value) = try split(trimmed, origin: "\(file):\(index + 1)")
            labels[key] = value
        }
        return labels
    }
}

extension String {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice = slice.dropLast() }
        return String(slice)
    }
}

/// Writes to standard error without buffering surprises.
enum Console {
    static func error(_ text: String, newline: Bool = true) {
        var line = text
        if newline && !line.hasSuffix("\n") { line += "\n" }
        Syscall.writeStandardError(line)
    }

    /// Manifest errors shown as text: the first `limit`, then how many more
    /// (a hostile file can hold a million; JSON output keeps them all).
    static let shownErrors = 100

    static func errors(_ errors: [ManifestError], limit: Int = shownErrors) {
        var text = ""
        for error in errors.prefix(limit) { text += error.description + "\n" }
        if errors.count > limit { text += "... and \(errors.count - limit) more errors not shown (-o json lists every one)\n" }
        Syscall.writeStandardError(text)
    }
}
