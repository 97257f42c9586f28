import Kernel

/// Generic netlink (genetlink, linux/genetlink.h): families are found by
/// name through the controller (CTRL_CMD_GETFAMILY), which answers with the
/// family's message type and its multicast groups. Each message after the
/// netlink header starts with struct genlmsghdr: cmd (u8), version (u8),
/// reserved (u16). Pure codec plus a small client over `NetlinkTransport`.
public enum GenericNetlink {
    public static let NETLINK_GENERIC: Int32 = 16
    /// GENL_ID_CTRL: the controller's own message type.
    public static let GENL_ID_CTRL: UInt16 = 0x10
    static let CTRL_CMD_NEWFAMILY: UInt8 = 1
    static let CTRL_CMD_GETFAMILY: UInt8 = 3
    static let CTRL_ATTR_FAMILY_ID: UInt16 = 1
    static let CTRL_ATTR_FAMILY_NAME: UInt16 = 2
    static let CTRL_ATTR_MCAST_GROUPS: UInt16 = 7
    static let CTRL_ATTR_MCAST_GRP_NAME: UInt16 = 1
    static let CTRL_ATTR_MCAST_GRP_ID: UInt16 = 2
    public static let headerSize = 4

    /// A family as the controller describes it.
    public struct Family: Equatable, Sendable {
        public var name: String
        /// The netlink message type of its messages.
        public var id: UInt16
        /// Multicast group IDs by name.
        public var groups: [String: UInt32]
        public init(name: String, id: UInt16, groups: [String: UInt32]) {
            self.name = name
            self.id = id
            self.groups = groups
        }
    }

    /// What a malformed genetlink answer lacked.
    public struct DecodeError: Error, Equatable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { "generic netlink: \(message)" }
    }

    /// genlmsghdr followed by attributes.
    public static func payload(command: UInt8, version: UInt8, _ attributes: [Attribute]) -> [UInt8] {
        [command, version, 0, 0] + Attribute.encode(attributes)
    }

    /// CTRL_CMD_GETFAMILY of one family by name (version 2, as libnl asks).
    public static func getFamily(_ name: String) -> (UInt16, UInt16, [UInt8]) {
        (GENL_ID_CTRL, 0, payload(command: CTRL_CMD_GETFAMILY, version: 2, [.string(CTRL_ATTR_FAMILY_NAME, name)]))
    }

    /// The command and attributes of a genetlink message's payload.
    public static func split(_ payload: [UInt8]) throws(DecodeError) -> (command: UInt8, attributes: [Attribute]) {
        guard payload.count >= headerSize else { throw DecodeError("message of \(payload.count) bytes has no genlmsghdr") }
        guard let attributes = Attribute.decode(payload[headerSize...]) else { throw DecodeError("malformed attribute") }
        return (payload[0], attributes)
    }

    /// The controller's answer (CTRL_CMD_NEWFAMILY): id, name, and the
    /// nested CTRL_ATTR_MCAST_GROUPS (an array of nests, each a group's
    /// name and id).
    public static func decodeFamily(_ payload: [UInt8]) throws(DecodeError) -> Family {
        let (command, attributes) = try split(payload)
        guard command == CTRL_CMD_NEWFAMILY else { throw DecodeError("controller answered command \(command), not NEWFAMILY") }
        guard let idAttribute = attributes.first(where: { $0.type == CTRL_ATTR_FAMILY_ID }),
            let id = idAttribute.value.readLittleEndian(UInt16.self, at: 0)
        else { throw DecodeError("family without CTRL_ATTR_FAMILY_ID") }
        let name = attributes.first { $0.type == CTRL_ATTR_FAMILY_NAME }?.stringValue ?? ""
        var groups: [String: UInt32] = [:]
        for list in attributes where list.type == CTRL_ATTR_MCAST_GROUPS {
            guard let entries = Attribute.decode(list.value[...]) else { throw DecodeError("malformed CTRL_ATTR_MCAST_GROUPS") }
            for entry in entries {
                guard let fields = Attribute.decode(entry.value[...]),
                    let groupName = fields.first(where: { $0.type == CTRL_ATTR_MCAST_GRP_NAME })?.stringValue,
                    let groupID = fields.first(where: { $0.type == CTRL_ATTR_MCAST_GRP_ID })?.u32Value
                else { throw DecodeError("multicast group without a name or an id") }
                groups[groupName] = groupID
            }
        }
        return Family(name: name, id: id, groups: groups)
    }

    /// Asks the controller for `name` (ENOENT: no such family in this kernel).
    public static func family(_ name: String, over transport: NetlinkTransport) throws -> Family {
        let reply = try RouteNetlink(transport: transport).get(getFamily(name), operation: "generic netlink family \(name)")
        return try decodeFamily(reply.payload)
    }
}

/// A quota warning (fs/quota/netlink.c, include/uapi/linux/quota.h): a
/// quota of `type` for `id` on device major:minor crossed a limit or got
/// back under it. Sent only to listeners in the initial network namespace.
public struct QuotaWarning: Equatable, Sendable {
    /// USRQUOTA 0, GRPQUOTA 1, PRJQUOTA 2.
    public enum QuotaType: UInt32, Sendable {
        case user = 0
        case group = 1
        case project = 2
    }

    /// QUOTA_NL_* warning kinds.
    public enum Kind: UInt32, Sendable {
        case none = 0
        case inodeHardLimit = 1
        case inodeSoftLimitExpired = 2
        case inodeSoftLimit = 3
        case blockHardLimit = 4
        case blockSoftLimitExpired = 5
        case blockSoftLimit = 6
        case inodeBelowHardLimit = 7
        case inodeBelowSoftLimit = 8
        case blockBelowHardLimit = 9
        case blockBelowSoftLimit = 10

        /// The limit that refused an allocation, if this warning means one
        /// was refused (a hard limit, or a soft one past its grace time).
        public var refused: Resource? {
            switch self {
            case .blockHardLimit, .blockSoftLimitExpired: .space
            case .inodeHardLimit, .inodeSoftLimitExpired: .inodes
            default: nil
            }
        }
    }

    public enum Resource: Sendable, Equatable { case space, inodes }

    public var type: QuotaType
    public var id: UInt64
    public var kind: Kind
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
    /// The user whose action crossed the limit.
    public var causedBy: UInt64

    public init(type: QuotaType, id: UInt64, kind: Kind, deviceMajor: UInt32, deviceMinor: UInt32, causedBy: UInt64) {
        self.type = type
        self.id = id
        self.kind = kind
        self.deviceMajor = deviceMajor
        self.deviceMinor = deviceMinor
        self.causedBy = causedBy
    }

    /// The VFS_DQUOT family's name and its multicast group.
    public static let familyName = "VFS_DQUOT"
    public static let groupName = "events"
    static let QUOTA_NL_C_WARNING: UInt8 = 1
    static let QUOTA_NL_A_QTYPE: UInt16 = 1
    static let QUOTA_NL_A_EXCESS_ID: UInt16 = 2
    static let QUOTA_NL_A_WARNING: UInt16 = 3
    static let QUOTA_NL_A_DEV_MAJOR: UInt16 = 4
    static let QUOTA_NL_A_DEV_MINOR: UInt16 = 5
    static let QUOTA_NL_A_CAUSED_ID: UInt16 = 6

    /// The message the kernel multicasts (version 1), for tests and seeds.
    public func payload() -> [UInt8] {
        func u64(_ type: UInt16, _ value: UInt64) -> Attribute {
            var bytes: [UInt8] = []
            bytes.appendLittleEndian(value)
            return Attribute(type, bytes)
        }
        return GenericNetlink.payload(
            command: QuotaWarning.QUOTA_NL_C_WARNING, version: 1,
            [
                .u32(QuotaWarning.QUOTA_NL_A_QTYPE, type.rawValue), u64(QuotaWarning.QUOTA_NL_A_EXCESS_ID, id),
                .u32(QuotaWarning.QUOTA_NL_A_WARNING, kind.rawValue), .u32(QuotaWarning.QUOTA_NL_A_DEV_MAJOR, deviceMajor),
                .u32(QuotaWarning.QUOTA_NL_A_DEV_MINOR, deviceMinor), u64(QuotaWarning.QUOTA_NL_A_CAUSED_ID, causedBy),
            ])
    }

    /// A QUOTA_NL_C_WARNING payload; an error for anything else or one
    /// missing an attribute (the kernel always sends all six).
    public static func decode(_ payload: [UInt8]) throws(GenericNetlink.DecodeError) -> QuotaWarning {
        let (command, attributes) = try GenericNetlink.split(payload)
        guard command == QUOTA_NL_C_WARNING else { throw GenericNetlink.DecodeError("quota message with command \(command)") }
        func value<T: FixedWidthInteger>(_ type: UInt16, _: T.Type, _ name: String) throws(GenericNetlink.DecodeError) -> T {
            guard let attribute = attributes.first(where: { $0.type == type }), attribute.value.count == MemoryLayout<T>.size,
                let value = attribute.value.readLittleEndian(T.self, at: 0)
            else { throw GenericNetlink.DecodeError("quota warning without a valid \(name)") }
            return value
        }
        let rawType = try value(QUOTA_NL_A_QTYPE, UInt32.self, "QUOTA_NL_A_QTYPE")
        let rawKind = try value(QUOTA_NL_A_WARNING, UInt32.self, "QUOTA_NL_A_WARNING")
        guard let type = QuotaType(rawValue: rawType) else { throw GenericNetlink.DecodeError("unknown quota type \(rawType)") }
        guard let kind = Kind(rawValue: rawKind) else { throw GenericNetlink.DecodeError("unknown quota warning \(rawKind)") }
        return QuotaWarning(
            type: type, id: try value(QUOTA_NL_A_EXCESS_ID, UInt64.self, "QUOTA_NL_A_EXCESS_ID"), kind: kind,
            deviceMajor: try value(QUOTA_NL_A_DEV_MAJOR, UInt32.self, "QUOTA_NL_A_DEV_MAJOR"),
            deviceMinor: try value(QUOTA_NL_A_DEV_MINOR, UInt32.self, "QUOTA_NL_A_DEV_MINOR"),
            causedBy: try value(QUOTA_NL_A_CAUSED_ID, UInt64.self, "QUOTA_NL_A_CAUSED_ID"))
    }

    /// The warnings of one datagram received on the group, in order; other
    /// families' messages are skipped, malformed ones reported in `errors`.
    public static func decode(datagram: [UInt8], family: UInt16) -> (warnings: [QuotaWarning], errors: [GenericNetlink.DecodeError]) {
        guard let messages = NetlinkMessage.decode(datagram) else { return ([], [GenericNetlink.DecodeError("malformed netlink datagram")]) }
        var warnings: [QuotaWarning] = []
        var errors: [GenericNetlink.DecodeError] = []
        for message in messages where message.type == family {
            do {
                warnings.append(try decode(message.payload))
            } catch {
                errors.append(error)
            }
        }
        return (warnings, errors)
    }
}

/// A socket joined to VFS_DQUOT's `events` group: the kernel's quota
/// warnings as they happen. Netlink multicast of these is in the initial
/// network namespace only, so the socket is opened there (the netns of
/// /proc/1, when this process may enter it; else its own).
public final class QuotaWarningListener {
    let socket: NetlinkSocket
    public let family: GenericNetlink.Family
    /// Datagrams the kernel dropped because this socket was full (ENOBUFS).
    public private(set) var overruns = 0

    public init(namespacePath: String? = "/proc/1/ns/net") throws {
        var opened: NetlinkSocket?
        if let namespacePath, let namespaceFD = try? Syscall.openReadOnly(namespacePath) {
            defer { Syscall.close(namespaceFD) }
            opened = try? NetlinkSocket(protocol: GenericNetlink.NETLINK_GENERIC, networkNamespaceFD: namespaceFD)
        }
        let socket = try opened ?? NetlinkSocket(protocol: GenericNetlink.NETLINK_GENERIC)
        let family = try GenericNetlink.family(QuotaWarning.familyName, over: socket)
        guard let group = family.groups[QuotaWarning.groupName] else {
            throw GenericNetlink.DecodeError("\(QuotaWarning.familyName) has no multicast group \(QuotaWarning.groupName)")
        }
        try socket.joinGroup(group)
        self.socket = socket
        self.family = family
    }

    /// The descriptor to poll for readability.
    public var fd: Int32 { socket.fd }

    /// Every warning queued now (without waiting); malformed messages in `errors`.
    public func drain() -> (warnings: [QuotaWarning], errors: [GenericNetlink.DecodeError]) {
        var warnings: [QuotaWarning] = []
        var errors: [GenericNetlink.DecodeError] = []
        while true {
            let datagram: [UInt8]?
            do {
                datagram = try socket.receiveDatagramNow()
            } catch {
                if error.errno == 105 {  // ENOBUFS: the kernel dropped some; the socket goes on
                    overruns += 1
                    continue
                }
                errors.append(GenericNetlink.DecodeError("\(error)"))
                break
            }
            guard let datagram else { break }
            let decoded = QuotaWarning.decode(datagram: datagram, family: family.id)
            warnings += decoded.warnings
            errors += decoded.errors
        }
        return (warnings, errors)
    }
}
