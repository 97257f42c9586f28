import FoundationEssentials
import Kernel
import Logging
import Synchronization

/// A swift-log handler that writes structured events to journald over its
/// native protocol without ever blocking: a stalled journald costs a dropped
/// event (counted), an absent one sends the event to stderr instead.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String
    let sink: JournalSink

    public init(label: String, sink: JournalSink) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        sink.send(message: "\(event.message)", level: event.level, metadata: merged, source: event.source)
    }
}

/// Where journal events go: journald's socket, else stderr (unless the
/// caller prints events to stderr itself: `fallback` false).
public final class JournalSink: @unchecked Sendable {
    public static let defaultSocket = "/run/systemd/journal/socket"
    /// The metadata key that names an event's kind (EventKind's raw value)
    /// when its message is a sentence rather than the kind itself.
    public static let eventKey = "event"
    let socket: DatagramSocket?
    let identifier: String
    let fallback: Bool
    private let droppedCount = Atomic<Int>(0)

    /// Events dropped because journald did not keep up.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }

    public init(socketPath: String = JournalSink.defaultSocket, identifier: String = "berth", fallback: Bool = true) {
        socket = try? DatagramSocket(path: socketPath)
        self.identifier = identifier
        self.fallback = fallback
    }

    /// Sends one event. Metadata keys become fields: `container` →
    /// BERTH_CONTAINER, and the well-known ones (object, kind, action, field,
    /// desired, observed, result) → BERTH_OBJECT, ... Its MESSAGE_ID is its
    /// kind's: the `event` key's, else the message's when that is a kind.
    public func send(message: String, level: Logger.Level, metadata: Logger.Metadata, source: String) {
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", message), ("PRIORITY", "\(JournalSink.priority(level).rawValue)"),
            ("SYSLOG_IDENTIFIER", identifier),
        ]
        let kind = EventKind.kind(message: message, metadata: metadata)
        var metadata = metadata
        if let kind {
            fields.append(("MESSAGE_ID", kind.messageID))
            // A bare kind ("started") becomes a sentence: "web1: started (init pid 4242)".
            if metadata[JournalSink.eventKey] == nil {
                fields[0].value = kind.sentence(metadata.mapValues { "\($0)" })
                metadata[JournalSink.eventKey] = "\(kind.rawValue)"
            }
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            fields.append((JournalSink.fieldName(key), "\(value)"))
        }
        guard let socket, let datagram = try? NativeProtocol.encode(fields) else {
            fallback(message, metadata)
            return
        }
        switch socket.send(datagram) {
        case .sent:
            return
        case .wouldBlock:
            droppedCount.wrappingAdd(1, ordering: .relaxed)
        case .noReceiver, .failed:
            fallback(message, metadata)
        }
    }

    /// `container` → BERTH_CONTAINER: journald takes only A-Z, 0-9 and
    /// "_" in field names, so anything else becomes "_".
    static func fieldName(_ key: String) -> String {
        var name = Array("BERTH_".utf8)
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): name.append(byte - 32)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): name.append(byte)
            default: name.append(UInt8(ascii: "_"))
            }
        }
        return String(decoding: name, as: UTF8.self)
    }

    private func fallback(_ message: String, _ metadata: Logger.Metadata) {
        guard fallback else { return }
        // Appended, not joined(separator:): its generic witness lookup costs
        // a fresh process (every berth run) ~50 us.
        var line = "berth: " + message
        for key in metadata.keys.sorted() { line += " \(key)=\(metadata[key].map { "\($0)" } ?? "")" }
        Syscall.writeStandardError(line + "\n")
    }

    static func priority(_ level: Logger.Level) -> NativeProtocol.Priority {
        switch level {
        case .trace, .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }
}

/// One MESSAGE_ID per kind of event, so `journalctl MESSAGE_ID=...` finds
/// every exec, every start, ... (ids are fixed: never change one).
public enum EventKind: String, CaseIterable, Sendable {
    case started, stopped, exec, suspended, resumed, checkpointed, restored
    case resourcesUpdated = "resources updated live"
    /// One reconcile action and its result (Engine's Reconciler).
    case applied
    /// A difference between the manifests and the kernel.
    case drift
    case agentStarted = "agent started"
    case agentReconciled = "agent reconciled"
    case agentStopping = "agent stopping"
    case manifestsInvalid = "manifests invalid"
    case backOff = "back-off"
    case gitUpdateFailed = "git update failed"
    case waitingForLock = "waiting for lock"
    case containerExited = "container exited"
    case adopted
    case networksUpdated = "networks updated live"
    case firewallUpdated = "firewall updated live"
    /// The agent starts a container whose init ended, as its restartPolicy says.
    case restarting
    /// An init that keeps ending: its next restart waits.
    case restartBackOff = "restart back-off"
    /// A record-only change (restart policy, stop timeout, ...).
    case recordUpdated = "record updated"
    case templateBuilt = "template built"
    case templateShifted = "template shifted for a user namespace"
    case bridgeCreated = "bridge created"
    case bridgeAdopted = "bridge adopted"
    /// A bridge berth's record owns gets its owner alias back (a kill
    /// between the create and the alias left it unmarked).
    case bridgeMarked = "bridge marked"
    case bridgeDeleted = "bridge deleted"
    /// A network's device made again for another `spec.driver`.
    case networkDeviceReplaced = "network device replaced"
    case oldBridgeDeleted = "old bridge deleted"
    case networksAttached = "networks attached"
    case networkDetached = "network detached"
    /// A `berth run` container's init ended (berth deletes it).
    case runExited = "exited"
    /// A `berth run` container killed after a second signal.
    case killing = "killing the container"
    case stopTimedOut = "stop timed out, killing"
    case manifestsMissing = "manifests directory is missing; watching for it"
    case reloadRequested = "reload requested (SIGHUP)"
    case commitNotRecorded = "cannot record the applied commit"
    /// The agent's manifests name an object another source applied.
    case anotherSource = "object of another source"
    /// The agent's manifests give a container an address another running
    /// container holds on the same network: that container is left alone.
    case addressHeld = "address held by another container"
    /// A tarball unpacked into the template cache, with what was dropped
    /// from it (device nodes, set-id bits): once per tarball.
    case templateUnpacked = "template unpacked"
    /// The agent's checkout was reset to an upstream whose history was rewritten.
    case checkoutReset = "checkout reset to a rewritten upstream"
    /// The upstream moved but the checkout has local changes: left alone (said once).
    case checkoutLocalChanges = "checkout has local changes"
    /// The all-clear after a git failure or local changes.
    case checkoutFollowing = "checkout follows its upstream again"
    /// The all-clear after invalid manifests.
    case manifestsValid = "manifests valid again"
    /// A container's journal relay had gone and was started again.
    case logRelayRestarted = "log relay restarted"
    case logRelayRestartFailed = "log relay restart failed"
    /// systemd-machined runs but refused a container (it still runs).
    case machinedRegistrationFailed = "machined registration failed"
    /// A beancounter's failcnt rose: a limit refused the container something.
    case beancounterFailed = "beancounter limit refused"
    /// The containers' limits add up past the host's overcommit ratio (said
    /// once by the agent, until it clears).
    case hostOvercommitted = "host overcommitted"
    /// The all-clear after an overcommitted host.
    case overcommitCleared = "host no longer overcommitted"
    /// The agent cannot count (some of) the kernel's quota warnings: disk
    /// failcnt is not counted, or missed some.
    case diskRefusalsNotCounted = "disk quota refusals not counted"
    /// The trash emptier could not remove a deleted container's directory
    /// (it stays in the trash; the next emptier tries again).
    case trashNotEmptied = "trash entry not removed"

    public var messageID: String {
        switch self {
        case .started: return "3f1d0a6c2b8e4d5f9a7c6b5e4d3c2b1a"
        case .stopped: return "8c2e4f6a1b3d5c7e9f0a2b4c6d8e0f1a"
        case .exec: return "5a7c9e1f3b5d7f9a1c3e5a7c9e1f3b5d"
        case .suspended: return "2d4f6b8d0f2b4d6f8b0d2f4b6d8f0b2d"
        case .resumed: return "9e1a3c5e7a9c1e3a5c7e9a1c3e5a7c9e"
        case .checkpointed: return "c4a81e5f0d2b4e6a8c1f3d5b7e9a0c2d"
        case .restored: return "d7b3f9e1a5c2468b0e4f6a8c1d3b5e7f"
        case .resourcesUpdated: return "6b8d0f2d4b6f8d0b2f4d6b8f0d2b4f6d"
        case .applied: return "7e29399c180c948575fe3311307ba636"
        case .drift: return "fc328b2b6ff9563d09a65e40f27225a8"
        case .agentStarted: return "58f57241830d6ba967611471ea993934"
        case .agentReconciled: return "beb901c591168a192ceb317da9809c5d"
        case .agentStopping: return "8e84b76dd68af2d92a447b3dc4da79f5"
        case .manifestsInvalid: return "df6cc0b1f093fdb48636d5f46632afb0"
        case .backOff: return "bceb490c35846eaa4170b126e1da2d41"
        case .gitUpdateFailed: return "8debdc29f38b9269d760b6b36d20104b"
        case .waitingForLock: return "a13051e02fd14f57715f38b0425b14a3"
        case .containerExited: return "753f06fbd71d4d3ab1279592a7a4c754"
        case .machinedRegistrationFailed: return "e499a2789ea1403b8c6b0022951dc449"
        case .logRelayRestarted: return "fe960bc3c9bd44e0be23a29be9d89838"
        case .logRelayRestartFailed: return "10e72126ec7442ef8a143c2f16feaa3e"
        case .adopted: return "8726189e8f1343da9e5ba4ec179e78a7"
        case .networksUpdated: return "a8af9feccb2a4bf9a24e061bdb916a8c"
        case .firewallUpdated: return "65a252dd5ac548ed8afc905c456befde"
        case .restarting: return "16d3e4a5134c4ad4925530556fc0d48b"
        case .restartBackOff: return "47be766af2634adc94a9ac8bde2590fa"
        case .recordUpdated: return "f75b3fda8d704b9e94251feef8dc2973"
        case .templateBuilt: return "db4207ad89e54c8eb33fa85541ff2449"
        case .templateShifted: return "632c7741b4814d188b125c40626e3ea3"
        case .bridgeCreated: return "d20101a1899f4a38b8083ab74e8fc665"
        case .bridgeAdopted: return "b3a7173d403e470981637b810a90d347"
        case .bridgeMarked: return "d83256207c1c4590987d89677846356c"
        case .bridgeDeleted: return "ec487ef716b8482787a1b7f4b9ca58bf"
        case .networkDeviceReplaced: return "7a680eaa221843cfb69e7ad20b9c6cfb"
        case .oldBridgeDeleted: return "dc5db2a59aaa4ce5a0a63586ffd1dcae"
        case .networksAttached: return "48c7c2d92b7846a49e33ae744d9318e9"
        case .networkDetached: return "c22f9d0bc65a4216aaf2e10933cbadad"
        case .runExited: return "8667faf5029b46d3a68295c55457e4ee"
        case .killing: return "c0ff8859d3134b0384f9cfd5c53f74ce"
        case .stopTimedOut: return "8f4727f865a74e7cbed147ee3726b729"
        case .manifestsMissing: return "e500167be879417b8c3cf6113bb1d00d"
        case .reloadRequested: return "7885c15a64a44e3e8954de64c6cfd541"
        case .commitNotRecorded: return "640785ab65bf4c1ab6d09d6a69ccf28c"
        case .anotherSource: return "c4e1f0a9d27b4b3e8e55a1b7f3d9c206"
        case .addressHeld: return "a39fcc562ca54b698c77f21ac3f4f4c4"
        case .templateUnpacked: return "aa12488a89fb44a1bde6aab2a32fa193"
        case .checkoutReset: return "f0f86bd2bee8432da9bd215739a08ad1"
        case .checkoutLocalChanges: return "48c724e4c7c346fabbea104bbc7b090c"
        case .checkoutFollowing: return "d1e17f0fdac143549666483d9434a587"
        case .manifestsValid: return "bd6066c3781a4ed1bdff57e085eda708"
        case .beancounterFailed: return "b386c9ce343247578ba0637420bb8568"
        case .hostOvercommitted: return "0ed1aad116074a5f950aceddf0ba96c4"
        case .overcommitCleared: return "f96bdb0f6b56425d83c6ce476745541c"
        case .diskRefusalsNotCounted: return "c69bbdf6ab3a4216b8a00912f1bb865c"
        case .trashNotEmptied: return "4982fc1901a249bebf631c56270f1914"
        }
    }

    static func messageID(for message: String) -> String? {
        EventKind(rawValue: message)?.messageID
    }

    /// The kind an event's `event` metadata names, else its message's.
    public static func kind(message: String, metadata: Logger.Metadata?) -> EventKind? {
        if let name = metadata?[JournalSink.eventKey], let kind = EventKind(rawValue: "\(name)") { return kind }
        return EventKind(rawValue: message)
    }

    static func messageID(message: String, metadata: Logger.Metadata) -> String? {
        kind(message: message, metadata: metadata)?.messageID
    }
}
