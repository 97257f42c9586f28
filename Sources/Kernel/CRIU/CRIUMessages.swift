/// The messages of CRIU's RPC protocol that berth sends and reads, with the
/// field numbers of CRIU's images/rpc.proto (criu_req, criu_opts, criu_resp
/// and the small messages they embed). Each request and each answer is one
/// SOCK_SEQPACKET message holding one encoded protobuf message.
public enum CRIURequestType: Int32, Sendable, CustomStringConvertible {
    case empty = 0
    case dump = 1
    case restore = 2
    case check = 3
    case preDump = 4
    case notify = 6
    case version = 10

    public var description: String {
        switch self {
        case .empty: "empty"
        case .dump: "dump"
        case .restore: "restore"
        case .check: "check"
        case .preDump: "pre-dump"
        case .notify: "notify"
        case .version: "version"
        }
    }
}

/// criu_opts: what berth sets of it. Unset optionals are not sent (CRIU's
/// defaults apply).
public struct CRIUOptions: Equatable, Sendable {
    /// criu_cg_mode.
    public enum CgroupMode: Int32, Sendable {
        case ignore = 0, none = 1, props = 2, soft = 3, full = 4, strict = 5
    }
    /// criu_network_lock_method.
    public enum NetworkLock: Int32, Sendable {
        case iptables = 1, nftables = 2, skip = 3
    }
    public struct InheritFD: Equatable, Sendable {
        public var key: String
        public var fd: Int32
        public init(key: String, fd: Int32) {
            self.key = key
            self.fd = fd
        }
    }
    public struct CgroupRoot: Equatable, Sendable {
        public var controller: String?
        public var path: String
        public init(controller: String? = nil, path: String) {
            self.controller = controller
            self.path = path
        }
    }

    /// An open directory of berth's: CRIU opens it through /proc/BERTH/fd/N.
    public var imagesDirectoryFD: Int32 = -1
    public var pid: Int32?
    public var leaveRunning: Bool?
    public var externalUnixSockets: Bool?
    public var tcpEstablished: Bool?
    public var shellJob: Bool?
    public var fileLocks: Bool?
    public var logLevel: Int32?
    public var logFile: String?
    public var root: String?
    /// A previous (pre-)dump's directory, relative to the images directory.
    public var parentImage: String?
    public var trackMemory: Bool?
    public var workDirectoryFD: Int32?
    public var manageCgroups: Bool?
    public var cgroupRoots: [CgroupRoot] = []
    public var restoreSibling: Bool?
    /// Descriptors of the criu process (swrk) that restored files become.
    public var inheritFDs: [InheritFD] = []
    public var cgroupMode: CgroupMode?
    /// `--external` values: veth[IN]:OUT@BRIDGE, file[MNT:INODE], mnt[...].
    public var external: [String] = []
    public var networkLock: NetworkLock?
    public var orphanPseudoTerminalMaster: Bool?

    public init() {}

    public func encode(into writer: inout ProtobufWriter) {
        writer.int32(1, imagesDirectoryFD)
        if let pid { writer.int32(2, pid) }
        if let leaveRunning { writer.bool(3, leaveRunning) }
        if let externalUnixSockets { writer.bool(4, externalUnixSockets) }
        if let tcpEstablished { writer.bool(5, tcpEstablished) }
        if let shellJob { writer.bool(7, shellJob) }
        if let fileLocks { writer.bool(8, fileLocks) }
        if let logLevel { writer.int32(9, logLevel) }
        if let logFile { writer.string(10, logFile) }
        if let root { writer.string(13, root) }
        if let parentImage { writer.string(14, parentImage) }
        if let trackMemory { writer.bool(15, trackMemory) }
        if let workDirectoryFD { writer.int32(17, workDirectoryFD) }
        if let manageCgroups { writer.bool(24, manageCgroups) }
        for root in cgroupRoots {
            writer.message(25) { message in
                if let controller = root.controller { message.string(1, controller) }
                message.string(2, root.path)
            }
        }
        if let restoreSibling { writer.bool(26, restoreSibling) }
        for inherit in inheritFDs {
            writer.message(27) { message in
                message.string(1, inherit.key)
                message.int32(2, inherit.fd)
            }
        }
        if let cgroupMode { writer.enumeration(34, cgroupMode.rawValue) }
        for value in external { writer.string(37, value) }
        if let orphanPseudoTerminalMaster { writer.bool(50, orphanPseudoTerminalMaster) }
        if let networkLock { writer.enumeration(64, networkLock.rawValue) }
    }
}

/// criu_req.
public struct CRIURequest: Equatable, Sendable {
    public var type: CRIURequestType
    public var options: CRIUOptions?
    /// The answer to a notification: carry on (true) or fail the request.
    public var notifySuccess: Bool?
    public var keepOpen: Bool?

    public init(type: CRIURequestType, options: CRIUOptions? = nil, notifySuccess: Bool? = nil, keepOpen: Bool? = nil) {
        self.type = type
        self.options = options
        self.notifySuccess = notifySuccess
        self.keepOpen = keepOpen
    }

    public var encoded: [UInt8] {
        var writer = ProtobufWriter()
        writer.enumeration(1, type.rawValue)
        if let options { writer.message(2) { options.encode(into: &$0) } }
        if let notifySuccess { writer.bool(3, notifySuccess) }
        if let keepOpen { writer.bool(4, keepOpen) }
        return writer.bytes
    }
}

/// criu_version.
public struct CRIUVersion: Equatable, Sendable, CustomStringConvertible {
    public var major: Int32
    public var minor: Int32
    public var sublevel: Int32?
    public var extra: Int32?
    public var gitID: String?
    public var name: String?

    public init(major: Int32, minor: Int32, sublevel: Int32? = nil, extra: Int32? = nil, gitID: String? = nil, name: String? = nil) {
        self.major = major
        self.minor = minor
        self.sublevel = sublevel
        self.extra = extra
        self.gitID = gitID
        self.name = name
    }

    /// 3.17.1 (the way `criu --version` prints it).
    public var description: String {
        var text = "\(major).\(minor)"
        if let sublevel { text += ".\(sublevel)" }
        if let extra { text += ".\(extra)" }
        if let gitID, !gitID.isEmpty { text += " (\(gitID))" }
        return text
    }

    static func decode(_ bytes: [UInt8]) throws(ProtobufError) -> CRIUVersion {
        var reader = ProtobufReader(bytes)
        var version = CRIUVersion(major: -1, minor: -1)
        while let field = try reader.next() {
            switch field.number {
            case 1: version.major = field.int32 ?? -1
            case 2: version.minor = field.int32 ?? -1
            case 3: version.gitID = field.string
            case 4: version.sublevel = field.int32
            case 5: version.extra = field.int32
            case 6: version.name = field.string
            default: break
            }
        }
        guard version.major >= 0, version.minor >= 0 else { throw ProtobufError(offset: 0, message: "criu_version without its numbers") }
        return version
    }
}

/// criu_resp.
public struct CRIUResponse: Equatable, Sendable {
    public var type: CRIURequestType?
    /// The raw type number (an unknown one leaves `type` nil).
    public var typeNumber: Int32 = 0
    public var success = false
    /// criu_dump_resp.restored: the dump was followed by a restore (rare).
    public var restored: Bool?
    /// criu_restore_resp.pid: the restored tree's root, in berth's pid namespace.
    public var restoredPID: Int32?
    /// criu_notify: the action script's name and its pid.
    public var notifyScript: String?
    public var notifyPID: Int32?
    public var errno: Int32?
    public var errorMessage: String?
    public var version: CRIUVersion?

    public init() {}

    public static func decode(_ bytes: [UInt8]) throws(ProtobufError) -> CRIUResponse {
        var reader = ProtobufReader(bytes)
        var response = CRIUResponse()
        var sawType = false
        var sawSuccess = false
        while let field = try reader.next() {
            switch field.number {
            case 1:
                response.typeNumber = field.int32 ?? -1
                response.type = CRIURequestType(rawValue: response.typeNumber)
                sawType = true
            case 2:
                response.success = field.bool ?? false
                sawSuccess = true
            case 3:
                var inner = ProtobufReader(field.data ?? [])
                while let item = try inner.next() { if item.number == 1 { response.restored = item.bool } }
            case 4:
                var inner = ProtobufReader(field.data ?? [])
                while let item = try inner.next() { if item.number == 1 { response.restoredPID = item.int32 } }
            case 5:
                var inner = ProtobufReader(field.data ?? [])
                while let item = try inner.next() {
                    if item.number == 1 { response.notifyScript = item.string }
                    if item.number == 2 { response.notifyPID = item.int32 }
                }
            case 7: response.errno = field.int32
            case 9: response.errorMessage = field.string
            case 10: response.version = try CRIUVersion.decode(field.data ?? [])
            default: break
            }
        }
        guard sawType, sawSuccess else {
            throw ProtobufError(offset: 0, message: "criu_resp without its required type and success fields")
        }
        return response
    }
}
