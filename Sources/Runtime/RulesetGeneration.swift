import Kernel
import Netlink

/// Where a network namespace's nftables ruleset stands, as a record keeps
/// it beside the listing of a table it made ("BOOT-ID NAMESPACE-COOKIE
/// GENERATION"): the kernel moves the generation on with every committed
/// change to any table of the namespace, counts it from boot, and gives a
/// namespace's cookie to no other until it reboots. The same text later
/// means no table changed since: the listing still stands, and is not made
/// again (libnftables stays unloaded).
enum RulesetGeneration {
    /// The current generation of this network namespace, or of the one
    /// `networkNamespaceFD` opens; nil when the kernel does not tell.
    static func current(networkNamespaceFD: Int32? = nil) -> String? {
        guard let boot = HostIdentity.bootID, let current = NFTablesNetlink.generation(networkNamespaceFD: networkNamespaceFD) else {
            return nil
        }
        return "\(boot) \(current.namespaceCookie) \(current.id)"
    }

    /// The generation one commit after `previous` (the kernel moves it on
    /// by one per commit, past 0), or nil when `previous` is no generation.
    static func following(_ previous: String) -> String? {
        let parts = previous.split(separator: " ")
        guard parts.count == 3, let id = UInt32(parts[2]) else { return nil }
        return "\(parts[0]) \(parts[1]) \(id == .max ? 1 : id + 1)"
    }

    /// What a listing made between two reads of the generation was made at:
    /// `body`'s result, and the generation when no commit came between.
    static func listed<Listing>(networkNamespaceFD: Int32? = nil, _ body: () throws -> Listing) rethrows -> (Listing, String?) {
        let before = current(networkNamespaceFD: networkNamespaceFD)
        let listing = try body()
        let after = current(networkNamespaceFD: networkNamespaceFD)
        return (listing, before == after ? before : nil)
    }
}
