import Kernel
import Netlink

/// Where a network namespace's nftables ruleset stands: the kernel moves
/// the generation on by one with every committed change to any table of the
/// namespace (past 0), counts it from boot, and gives a namespace's cookie
/// to no other until it reboots. A record keeps it beside the listing of a
/// table berth made (as its text, "BOOT-ID NAMESPACE-COOKIE GENERATION");
/// the same generation later means no table changed since: the listing
/// still stands, and is not made again (libnftables stays unloaded).
struct RulesetGeneration: Equatable, Sendable, CustomStringConvertible {
    var boot: String
    var namespaceCookie: UInt64
    var id: UInt32

    var description: String { "\(boot) \(namespaceCookie) \(id)" }

    /// A generation from a record's text; nil when it is none.
    init?(_ text: String?) {
        let parts = text?.split(separator: " ") ?? []
        guard parts.count == 3, let cookie = UInt64(parts[1]), let id = UInt32(parts[2]) else { return nil }
        self.init(boot: String(parts[0]), namespaceCookie: cookie, id: id)
    }

    init(boot: String, namespaceCookie: UInt64, id: UInt32) {
        self.boot = boot
        self.namespaceCookie = namespaceCookie
        self.id = id
    }

    /// The generation one commit later.
    var next: RulesetGeneration { RulesetGeneration(boot: boot, namespaceCookie: namespaceCookie, id: id == .max ? 1 : id + 1) }

    /// The current generation of this network namespace, or of the one
    /// `networkNamespaceFD` opens; nil when the kernel does not tell.
    static func current(networkNamespaceFD: Int32? = nil) -> RulesetGeneration? {
        guard let boot = HostIdentity.bootID, let current = NFTablesNetlink.generation(networkNamespaceFD: networkNamespaceFD) else {
            return nil
        }
        return RulesetGeneration(boot: boot, namespaceCookie: current.namespaceCookie, id: current.id)
    }

    /// Whether the namespace's ruleset (this one's, or the one
    /// `networkNamespaceFD` opens) still stands at `recorded`, a record's
    /// text: no table changed since, and what was known then still holds.
    static func stands(at recorded: String?, networkNamespaceFD: Int32? = nil) -> Bool {
        guard let generation = RulesetGeneration(recorded) else { return false }
        return generation == current(networkNamespaceFD: networkNamespaceFD)
    }

    /// What a listing made between two reads of the generation was made at:
    /// `body`'s result, and the generation when no commit came between.
    static func listed<Listing>(networkNamespaceFD: Int32? = nil, _ body: () throws -> Listing) rethrows -> (Listing, RulesetGeneration?) {
        let before = current(networkNamespaceFD: networkNamespaceFD)
        let listing = try body()
        let after = current(networkNamespaceFD: networkNamespaceFD)
        return (listing, before == after ? before : nil)
    }
}

/// Where a namespace's ruleset stood before one of berth's commits there
/// and after it (or after the listing that followed it). When it moved on
/// by exactly one, the commit was the only change between: every other
/// table of the namespace is as it was at `before`.
struct RulesetStep: Equatable, Sendable {
    var before: RulesetGeneration?
    var after: RulesetGeneration?

    /// No other commit came between the two reads.
    var isSole: Bool {
        guard let before, let after else { return false }
        return before.next == after
    }

    /// Where another of berth's tables in the namespace, known as berth
    /// made it at `recorded`, is known after this step: at `after` when it
    /// was known right before it; otherwise as recorded (listed at the
    /// next observe).
    func carried(_ recorded: String?) -> String? {
        guard isSole, let before, RulesetGeneration(recorded) == before else { return recorded }
        return after?.description
    }

    /// `body` (a commit) between two reads of the generation.
    static func committing(networkNamespaceFD: Int32, _ body: () throws -> Void) rethrows -> RulesetStep {
        let before = RulesetGeneration.current(networkNamespaceFD: networkNamespaceFD)
        try body()
        return RulesetStep(before: before, after: RulesetGeneration.current(networkNamespaceFD: networkNamespaceFD))
    }
}
