import Model

/// /proc/PID/net/route: the IPv4 main table of the network namespace of
/// process PID, as the kernel formats it (fib_route_seq_show), read from
/// the host without entering that namespace (a route dump has no target
/// namespace id, unlike link and address dumps):
///
///     Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
///     eth0	00000000	0100500A	0003	0	0	0	00000000	0	0	0
///
/// Addresses are the in-memory bytes of a network-order word printed as a
/// host-order %08X. The file shows a multipath route by its first hop,
/// where a route dump shows it without RTA_GATEWAY.
public enum ProcNetRoute {
    /// RTF_GATEWAY (linux/route.h).
    static let gatewayFlag: UInt32 = 0x0002

    /// The gateways of the default routes (destination and mask 0, a
    /// gateway), in the file's order.
    public static func defaultGateways(_ bytes: [UInt8]) -> [IPAddress] {
        var gateways: [IPAddress] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")).dropFirst() {
            let fields = line.split(whereSeparator: { $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: " ") })
            guard fields.count >= 8, let destination = hex(fields[1]), let gateway = hex(fields[2]), let flags = hex(fields[3]),
                let mask = hex(fields[7]), destination == 0, mask == 0, flags & gatewayFlag != 0, gateway != 0
            else { continue }
            if let address = IPAddress(bytes: withUnsafeBytes(of: gateway) { Array($0) }) { gateways.append(address) }
        }
        return gateways
    }

    /// A field of up to eight hexadecimal digits.
    static func hex(_ digits: ArraySlice<UInt8>) -> UInt32? {
        guard !digits.isEmpty, digits.count <= 8 else { return nil }
        var value: UInt32 = 0
        for byte in digits {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
