// One input of the netlink fuzz target, shared by the target
// (NetlinkFuzz.swift) and the lane-1 replay of its corpus and regressions
// (Tests/NetlinkTests/FuzzRegressionTests.swift, through a symlink).
//
// Input: byte 0 picks the request; the rest is a run of datagrams, each
// prefixed by its length (u16, little-endian), which a fake transport hands
// to the rtnetlink client as the kernel's answers. The client's first
// request carries sequence number 2.
import Netlink

enum NetlinkFuzzInput {
    struct EndOfInput: Error {}

    final class ReplayTransport: NetlinkTransport {
        var datagrams: [[UInt8]]
        init(_ datagrams: [[UInt8]]) { self.datagrams = datagrams.reversed() }
        func send(_ bytes: [UInt8]) throws {}
        func receive() throws -> [UInt8] {
            guard let next = datagrams.popLast() else { throw EndOfInput() }
            return next
        }
    }

    static func datagrams(_ bytes: ArraySlice<UInt8>) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var rest = bytes
        while rest.count >= 2 {
            let length = Int(rest[rest.startIndex]) | Int(rest[rest.startIndex + 1]) << 8
            rest = rest.dropFirst(2)
            let chunk = rest.prefix(length)
            result.append(Array(chunk))
            rest = rest.dropFirst(chunk.count)
        }
        return result
    }

    /// Decodes every datagram and answers one request with them; returns
    /// what broke a rule: a message or attribute run that does not re-encode
    /// to itself.
    static func problems(_ bytes: [UInt8]) -> [String] {
        guard let operation = bytes.first else { return [] }
        let replies = datagrams(bytes.dropFirst())
        var problems: [String] = []
        for datagram in replies {
            for message in NetlinkMessage.decode(datagram) ?? [] {
                if NetlinkMessage.decode(message.encoded()) != [message] {
                    problems.append("message does not survive a round trip: \(message)")
                }
                if let attributes = Attribute.decode(message.payload[...]),
                    Attribute.decode(Attribute.encode(attributes)[...]) != attributes
                {
                    problems.append("attributes do not survive a round trip: \(attributes)")
                }
                _ = InterfaceInfo.decode(message.payload)
                _ = AddressInfo.decode(message.payload)
            }
        }
        let client = RouteNetlink(transport: ReplayTransport(replies))
        switch operation % 8 {
        case 0: _ = try? client.links()
        case 1: _ = try? client.bridgePorts()
        case 2: _ = try? client.bridgePorts(master: 3)
        case 3: _ = try? client.addresses()
        case 4: _ = try? client.addresses(index: 2)
        case 5: _ = try? client.defaultRoutes()
        case 6: _ = try? client.link(named: "br-front")
        default: _ = try? client.index(of: "eth0")
        }
        return problems
    }
}
