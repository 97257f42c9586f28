import Journal
import Kernel
import Logging
import Synchronization

/// What a person reads on stderr: one line per event at or above the level
/// (-q errors, -v informational events, BERTH_LOG_LEVEL, else notice), as
/// `berth: MESSAGE key=value ...`, except the events the command prints
/// itself (apply prints each outcome once, on stdout).
struct ConsoleLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(level: Logger.Level) { logLevel = level }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let message = "\(event.message)"
        if let kind = EventKind.kind(message: message, metadata: merged), ConsoleLog.isRendered(kind) { return }
        Syscall.writeStandardError(ConsoleLog.line(message, level: event.level, metadata: merged) + "\n")
    }
}

enum ConsoleLog {
    /// Event kinds the running command prints itself.
    private static let rendered = Mutex<Set<EventKind>>([])

    /// -q: errors and the command's own result only, no notes.
    private static let quietMode = Mutex(false)
    static var quiet: Bool {
        get { quietMode.withLock { $0 } }
        set { quietMode.withLock { $0 = newValue } }
    }

    static func render(_ kinds: Set<EventKind>) { rendered.withLock { $0.formUnion(kinds) } }
    static func isRendered(_ kind: EventKind) -> Bool { rendered.withLock { $0.contains(kind) } }

    /// `berth: MESSAGE key=value ...`, keys sorted, empty values and the
    /// event kind left out; warnings and worse say so first.
    static func line(_ message: String, level: Logger.Level, metadata: Logger.Metadata) -> String {
        // Appended, not joined(separator:): its generic witness lookup costs
        // a fresh process (every berth run) ~50 us.
        var line = "berth: "
        if level >= .warning { line += "\(level): " }
        line += message
        for key in metadata.keys.sorted() where key != JournalSink.eventKey {
            let value = metadata[key].map { "\($0)" } ?? ""
            if !value.isEmpty { line += " \(key)=\(value)" }
        }
        return line
    }

    /// The level stderr shows: -q and -v first, then BERTH_LOG_LEVEL, then
    /// `fallback` (notice for commands; info for an agent without journald,
    /// whose stderr is then its only record).
    static func level(_ verbosity: Verbosity, environment: String?, fallback: Logger.Level) -> Logger.Level {
        switch verbosity {
        case .quiet: return .error
        case .verbose: return min(.info, environment.flatMap(Logger.Level.init(rawValue:)) ?? .info)
        case .normal: return environment.flatMap(Logger.Level.init(rawValue:)) ?? fallback
        }
    }
}
