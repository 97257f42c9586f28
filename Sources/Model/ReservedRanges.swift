/// Address ranges a Network's subnet may never overlap: the host's own
/// loopback, link-local and multicast ranges, and "everything" (a default
/// route is not a subnet). A bridge holding such an address would take over
/// traffic the host needs (ARP for 169.254.169.254, 127.0.0.1, ...).
public enum ReservedRanges {
    public struct Range: Sendable {
        public var cidr: CIDR
        public var name: String
    }

    static func range(_ text: String, _ name: String) -> Range? {
        (try? CIDR(parsing: text)).map { Range(cidr: $0, name: name) }
    }

    public static let ipv4: [Range] = [
        range("0.0.0.0/8", "'this network' range"),
        range("127.0.0.0/8", "loopback range"),
        range("169.254.0.0/16", "link-local range"),
        range("224.0.0.0/4", "multicast range"),
        range("240.0.0.0/4", "reserved range (and the broadcast address)"),
    ].compactMap { $0 }

    public static let ipv6: [Range] = [
        range("::1/128", "loopback address"),
        range("::ffff:0:0/96", "IPv4-mapped range"),
        range("fe80::/10", "link-local range"),
        range("ff00::/8", "multicast range"),
    ].compactMap { $0 }

    /// Why `subnet` cannot be a network's subnet, or nil when it can.
    public static func problem(_ subnet: CIDR) -> String? {
        if subnet.prefixLength == 0 {
            return "\(subnet) is every address (a default route), not a subnet"
        }
        for range in subnet.address.isIPv4 ? ipv4 : ipv6 where subnet.overlaps(range.cidr) {
            return "subnet \(subnet) overlaps the \(range.name) \(range.cidr)"
        }
        return nil
    }
}
