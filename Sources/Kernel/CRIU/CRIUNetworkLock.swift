#if canImport(Glibc)
    import Glibc
#endif

/// CRIU's network lock (nftables): at dump CRIU makes a table `inet
/// CRIU-ID` in the container's network namespace that drops every packet
/// but its own, then saves that namespace's ruleset, lock included, into
/// the images. A restore puts the saved ruleset back and takes a lock of its
/// own, but removes only the one it names: CRIU before 4.1 names it after
/// the root's host PID, which is another PID on restore, so the dump's table
/// stays and the restored container's TCP and every other packet is dropped
/// silently (ARP, not filtered by `inet`, still answers). berth removes what
/// is left of it once CRIU has returned.
public enum CRIUNetworkLock {
    /// The prefix of the names of CRIU's lock tables (family inet).
    static let tablePrefix = "CRIU-"

    /// CRIU's lock tables in an `nft list tables` listing ("table inet
    /// CRIU-1234" lines), as `inet NAME` for a delete command.
    public static func lockTables(listing: String) -> [String] {
        listing.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard words.count == 3, words[0] == "table", words[1] == "inet", words[2].hasPrefix(tablePrefix),
                words[2].count > tablePrefix.count,
                words[2].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            else { return nil }
            return "inet \(words[2])"
        }
    }

    /// The delete commands for `tables`, one transaction.
    public static func deleteCommands(_ tables: [String]) -> String {
        tables.map { "delete table \($0)\n" }.joined()
    }

    /// Removes CRIU's lock tables left in the network namespace of `pid`
    /// (the restored root), when it has one of its own (a container sharing
    /// the host's namespace is left alone: another CRIU may be at work
    /// there). Returns the tables it removed.
    @discardableResult
    public static func removeLeftovers(pid: pid_t) throws -> [String] {
        let path = "/proc/\(pid)/ns/net"
        guard let own = Syscall.inode("/proc/self/ns/net"), let theirs = Syscall.inode(path),
            own.device != theirs.device || own.inode != theirs.inode
        else { return [] }
        let namespaceFD = try Syscall.open(path, O_RDONLY | O_CLOEXEC)
        defer { Syscall.close(namespaceFD) }
        let tables = lockTables(listing: try NFTables.run("list tables", inNetworkNamespace: namespaceFD))
        if !tables.isEmpty { try NFTables.run(deleteCommands(tables), inNetworkNamespace: namespaceFD) }
        return tables
    }
}
