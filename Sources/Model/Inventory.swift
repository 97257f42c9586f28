/// What one source of manifests applied (Flux's inventory): the containers
/// and networks it named when berth applied it. An object belongs to at
/// most one source; only its own source prunes it, and applying another
/// source that names it is refused (unless ownership is taken over).
///
/// A source is a set of manifests: by default the paths given to plan or
/// apply (made absolute), or a name given with `--source`.
public struct Inventory: Codable, Equatable, Hashable, Sendable {
    public var source: String
    public var containers: [String]
    public var networks: [String]

    public init(source: String, containers: some Sequence<String> = [], networks: some Sequence<String> = []) {
        self.source = source
        self.containers = Set(containers).sorted()
        self.networks = Set(networks).sorted()
    }

    public var isEmpty: Bool { containers.isEmpty && networks.isEmpty }

    /// "2 containers, 1 network".
    public var summary: String {
        func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        return count(containers.count, "container") + ", " + count(networks.count, "network")
    }

    /// The name a source gets from its paths (absolute, as given to plan or
    /// apply): one path is its own name; several are joined in order.
    public static func sourceName(paths: [String]) -> String {
        paths.sorted().joined(separator: " ")
    }

    /// Whether `name` may name a source: printable, non-empty, bounded.
    public static func checkSourceName(_ name: String) -> String? {
        if name.isEmpty { return "a source name is not empty" }
        if name.utf8.count > 4096 { return "a source name is at most 4096 bytes" }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            return "a source name has no control characters"
        }
        return nil
    }
}
