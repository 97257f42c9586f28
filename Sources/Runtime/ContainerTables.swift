import Kernel
import Netlink

#if canImport(Glibc)
    import Glibc
#endif

/// The nftables tables berth keeps inside a container's network namespace
/// (its firewall, its connection limit), as observe reads them.
enum ContainerTables {
    /// The listing of table `inet NAME` in the network namespace of process
    /// `pid`; nil without the table (or when it cannot be listed). Asked
    /// over nfnetlink first: most containers have none, and libnftables
    /// stays unloaded (the agent's idle memory).
    static func list(inet name: String, pid: pid_t) throws -> String? {
        let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespaceFD) }
        guard (try? NFTablesNetlink.tableExists(family: NFTablesNetlink.familyINET, name: name, networkNamespaceFD: namespaceFD)) != false
        else { return nil }
        return try? NFTables.run("list table inet \(name)", inNetworkNamespace: namespaceFD)
    }
}
