import Model

extension Reader {
    static let containerFields = [
        "placement", "profiles", "state", "hostname", "rootfs", "init", "env", "networks", "resources",
        "devices", "capabilities", "security", "proc", "mounts", "userNamespace", "restartPolicy", "stopTimeout",
        "firewall", "policy", "logs",
    ]
    /// A Profile is a partial Container spec without placement or profiles of its own.
    static let profileFields = containerFields.filter { $0 != "placement" && $0 != "profiles" }

    mutating func containerSpec(_ node: Node, _ path: FieldPath, isProfile: Bool) -> ContainerSpec? {
        let errorsBefore = errorMark
        guard let f = mapping(node, path, fields: isProfile ? Reader.profileFields : Reader.containerFields) else {
            return nil
        }
        var spec = ContainerSpec()
        spec.placement = f.read("placement", &self) { $0.placement($1, $2) }
        spec.profiles = f.read("profiles", &self) { reader, node, path in
            reader.list(node, path) { $0.checked($1, $2, Names.checkDNSLabel) }
        }
        spec.state = f.read("state", &self) { $0.enumeration($1, $2, DesiredRunState.self) }
        spec.hostname = f.read("hostname", &self) { $0.checked($1, $2, Names.checkHostname) }
        spec.rootfs = f.read("rootfs", &self) { $0.rootfs($1, $2) }
        spec.`init` = f.read("init", &self) { $0.initSpec($1, $2) }
        spec.env = f.read("env", &self) { reader, node, path in
            reader.stringMap(node, path, checkKey: Reader.checkEnvName) { _ in }
        }
        spec.networks = f.read("networks", &self) { reader, node, path in
            reader.list(node, path) { $0.networkAttachment($1, $2) }
        }
        spec.resources = f.read("resources", &self) { $0.resources($1, $2) }
        spec.devices = f.read("devices", &self) { reader, node, path in
            reader.list(node, path) { $0.device($1, $2) }
        }
        spec.capabilities = f.read("capabilities", &self) { $0.capabilities($1, $2) }
        spec.security = f.read("security", &self) { $0.security($1, $2) }
        spec.proc = f.read("proc", &self) { $0.proc($1, $2) }
        spec.mounts = f.read("mounts", &self) { reader, node, path in
            reader.list(node, path) { $0.mount($1, $2) }
        }
        spec.userNamespace = f.read("userNamespace", &self) { $0.userNamespace($1, $2) }
        spec.restartPolicy = f.read("restartPolicy", &self) { $0.enumeration($1, $2, RestartPolicy.self) }
        spec.stopTimeout = f.read("stopTimeout", &self) { $0.parsed($1, $2, Interval.init(parsing:)) }
        spec.firewall = f.read("firewall", &self) { $0.firewall($1, $2) }
        spec.policy = f.read("policy", &self) { $0.objectPolicy($1, $2) }
        spec.logs = f.read("logs", &self) { reader, node, path in
            guard let fields = reader.mapping(node, path, fields: ["driver"]) else { return nil }
            return LogsSpec(driver: fields.read("driver", &reader) { $0.enumeration($1, $2, LogDriver.self) })
        }
        return errorMark == errorsBefore ? spec : nil
    }

    static func checkEnvName(_ name: String) throws(ValueError) {
        let bytes = Array(name.utf8)
        let valid =
            !bytes.isEmpty
            && bytes.allSatisfy { Names.isAlnum($0) || $0 == UInt8(ascii: "_") }
            && !(bytes[0] >= UInt8(ascii: "0") && bytes[0] <= UInt8(ascii: "9"))
        if !valid {
            throw ValueError("'\(name)' is not a valid environment variable name", hint: "use letters, digits and '_', not starting with a digit")
        }
    }

    mutating func rootfs(_ node: Node, _ path: FieldPath) -> RootfsSpec? {
        guard let f = mapping(node, path, fields: ["template", "directory", "tarball", "persistent"]) else { return nil }
        var spec = RootfsSpec()
        let given = ["template", "directory", "tarball"].filter { f[$0] != nil }
        if given.count > 1 {
            error(node, path, "give exactly one of template, directory or tarball, not \(given.joined(separator: " and "))")
            return nil
        }
        if let template = f.read("template", &self, { $0.checked($1, $2, ValueRules.checkTemplate) }) {
            spec.source = .template(template)
        } else if let directory = f.read("directory", &self, { $0.checked($1, $2, ValueRules.checkPath) }) {
            spec.source = .directory(directory)
        } else if let tarball = f.read("tarball", &self, { $0.checked($1, $2, Reader.checkTarball) }) {
            spec.source = .tarball(tarball)
        }
        spec.persistent = f.read("persistent", &self) { $0.bool($1, $2) }
        if spec.source == nil && given.isEmpty {
            error(node, path, "give one of template, directory or tarball")
            return nil
        }
        return spec
    }

    static let tarballSuffixes = [".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz"]

    static func checkTarball(_ path: String) throws(ValueError) {
        try ValueRules.checkPath(path)
        guard tarballSuffixes.contains(where: { path.hasSuffix($0) }) else {
            throw ValueError("'\(path)' is not a tarball", hint: "berth unpacks \(tarballSuffixes.joined(separator: ", "))")
        }
    }

    mutating func initSpec(_ node: Node, _ path: FieldPath) -> InitSpec? {
        guard let f = mapping(node, path, fields: ["command", "workingDir"]) else { return nil }
        var spec = InitSpec()
        spec.command = f.read("command", &self) { reader, node, path in
            reader.list(node, path, minCount: 1) { reader, node, path in
                guard let text = reader.string(node, path) else { return nil }
                if path.components.last == .index(0) && text.isEmpty {
                    reader.error(node, path, "the program to run must not be empty")
                    return nil
                }
                if text.utf8.contains(0) {
                    reader.error(node, path, "argument contains a NUL byte")
                    return nil
                }
                return text
            }
        }
        spec.workingDir = f.read("workingDir", &self) { $0.checked($1, $2, ValueRules.checkPath) }
        return spec
    }

    mutating func networkAttachment(_ node: Node, _ path: FieldPath) -> NetworkAttachment? {
        guard let f = mapping(node, path, fields: ["network", "addresses", "interface", "defaultRoute"]) else { return nil }
        let network = f.required("network", &self).flatMap { checked($0, path / "network", Names.checkDNSLabel) }
        let addresses = f.read("addresses", &self) { reader, node, path in
            reader.list(node, path) { reader, node, path in
                reader.parsed(node, path) { (text: String) throws(ValueError) in try CIDR(parsing: text, requirePrefix: false) }
            }
        }
        let interface = f.read("interface", &self) { $0.checked($1, $2, Names.checkInterfaceName) }
        let defaultRoute = f.read("defaultRoute", &self) { $0.bool($1, $2) }
        guard let network else { return nil }
        return NetworkAttachment(network: network, addresses: addresses ?? [], interface: interface, defaultRoute: defaultRoute)
    }

    mutating func resources(_ node: Node, _ path: FieldPath) -> ResourcesSpec? {
        guard let f = mapping(node, path, fields: ["cpu", "memory", "pids", "io", "disk", "numtcpsock", "numpty", "numfile"]) else { return nil }
        var spec = ResourcesSpec()
        spec.cpu = f.read("cpu", &self) { reader, node, path in
            guard let f = reader.mapping(node, path, fields: ["weight", "limit", "cpus"]) else { return nil }
            return CPUSpec(
                weight: f.read("weight", &reader) { $0.integer($1, $2, in: 1...10_000).map(Int.init) },
                limit: f.read("limit", &reader) { $0.cpuLimit($1, $2) },
                cpus: f.read("cpus", &reader) { $0.parsed($1, $2, CPUSet.init(parsing:)) })
        }
        spec.memory = f.read("memory", &self) { reader, node, path in
            guard let f = reader.mapping(node, path, fields: ["max", "high", "swap"]) else { return nil }
            return MemorySpec(
                max: f.read("max", &reader) { $0.memoryMax($1, $2) },
                high: f.read("high", &reader) { $0.size($1, $2) },
                swap: f.read("swap", &reader) { $0.size($1, $2) })
        }
        spec.pids = f.read("pids", &self) { reader, node, path in
            guard let f = reader.mapping(node, path, fields: ["max"]) else { return nil }
            return PidsSpec(max: f.read("max", &reader) { $0.integer($1, $2, in: ValueRules.pidsMax).map(Int.init) })
        }
        spec.numtcpsock = f.read("numtcpsock", &self) { $0.integer($1, $2, in: ValueRules.numtcpsock).map(Int.init) }
        spec.numpty = f.read("numpty", &self) { $0.integer($1, $2, in: ValueRules.numpty).map(Int.init) }
        spec.numfile = f.read("numfile", &self) { $0.integer($1, $2, in: ValueRules.numfile).map(Int.init) }
        spec.io = f.read("io", &self) { reader, node, path in
            guard let f = reader.mapping(node, path, fields: ["weight", "limits"]) else { return nil }
            return IOSpec(
                weight: f.read("weight", &reader) { $0.integer($1, $2, in: 1...10_000).map(Int.init) },
                limits: f.read("limits", &reader) { reader, node, path in
                    reader.list(node, path) { $0.ioLimit($1, $2) }
                })
        }
        spec.disk = f.read("disk", &self) { reader, node, path in
            guard let f = reader.mapping(node, path, fields: ["size", "inodes", "userQuota"]) else { return nil }
            guard
                let size = f.required("size", &reader).flatMap({ node in
                    reader.size(node, path / "size").flatMap { size in
                        reader.obeying(size, node, path / "size") { (size: ByteSize) throws(ValueError) in
                            try ValueRules.checkDiskSize(size, written: node.scalarText)
                        }
                    }
                })
            else { return nil }
            return DiskSpec(
                size: size, inodes: f.read("inodes", &reader) { $0.integer($1, $2, in: ValueRules.diskInodes).map(UInt64.init) },
                userQuota: f.read("userQuota", &reader) { $0.bool($1, $2) })
        }
        return spec
    }

    /// At least 1m (ValueRules.checkCPULimit).
    mutating func cpuLimit(_ node: Node, _ path: FieldPath) -> CPUQuantity? {
        cpu(node, path).flatMap { obeying($0, node, path, ValueRules.checkCPULimit) }
    }

    /// At least 4Mi (ValueRules.checkMemoryMax), quoted as written.
    mutating func memoryMax(_ node: Node, _ path: FieldPath) -> ByteSize? {
        size(node, path).flatMap { max in
            obeying(max, node, path) { (max: ByteSize) throws(ValueError) in
                try ValueRules.checkMemoryMax(max, written: node.scalarText)
            }
        }
    }

    mutating func ioLimit(_ node: Node, _ path: FieldPath) -> IODeviceLimit? {
        guard let f = mapping(node, path, fields: ["device", "readBps", "writeBps", "readIops", "writeIops"]) else { return nil }
        guard let device = f.required("device", &self).flatMap({ checked($0, path / "device", Reader.checkBlockDevice) }) else {
            return nil
        }
        var limit = IODeviceLimit(device: device)
        limit.readBytesPerSecond = f.read("readBps", &self) { $0.size($1, $2) }
        limit.writeBytesPerSecond = f.read("writeBps", &self) { $0.size($1, $2) }
        limit.readIOPS = f.read("readIops", &self) { $0.integer($1, $2, in: 1...Int64.max).map(UInt64.init) }
        limit.writeIOPS = f.read("writeIops", &self) { $0.integer($1, $2, in: 1...Int64.max).map(UInt64.init) }
        return limit
    }

    /// `/dev/vda` or `MAJOR:MINOR`.
    static func checkBlockDevice(_ text: String) throws(ValueError) {
        try ValueRules.checkNoControlCharacters(text)
        if text.hasPrefix("/") {
            try checkDevicePath(text)
            return
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 7 && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else {
            throw ValueError("'\(text)' is neither a device path nor MAJOR:MINOR", hint: "for example /dev/vda or 254:0")
        }
    }

    static func checkDevicePath(_ path: String) throws(ValueError) {
        try ValueRules.checkPath(path)
        guard path.utf8.starts(with: "/dev/".utf8), path.utf8.count > 5 else {
            throw ValueError("'\(path)' is not under /dev")
        }
    }

    mutating func device(_ node: Node, _ path: FieldPath) -> DeviceSpec? {
        guard let f = mapping(node, path, fields: ["path", "access"]) else { return nil }
        let devicePath = f.required("path", &self).flatMap { checked($0, path / "path", Reader.checkDevicePath) }
        let access = f.read("access", &self) { reader, node, path in
            reader.checked(node, path) { (text: String) throws(ValueError) in
                let valid =
                    !text.isEmpty && text.count <= 3 && Set(text).count == text.count
                    && text.allSatisfy { "rwm".contains($0) }
                if !valid { throw ValueError("'\(text)' is not a device access string", hint: "use r, w and m, such as \"rw\"") }
            }
        }
        guard let devicePath else { return nil }
        return DeviceSpec(path: devicePath, access: access)
    }

    mutating func capabilities(_ node: Node, _ path: FieldPath) -> CapabilitiesSpec? {
        guard let f = mapping(node, path, fields: ["add", "drop"]) else { return nil }
        var spec = CapabilitiesSpec()
        spec.add = f.read("add", &self) { reader, node, path in
            reader.list(node, path) { reader, node, path in
                reader.parsed(node, path) { (text: String) throws(ValueError) in try Capabilities.canonical(text, allowAll: false) }
            }
        }
        spec.drop = f.read("drop", &self) { reader, node, path in
            reader.list(node, path) { reader, node, path in
                reader.parsed(node, path) { (text: String) throws(ValueError) in try Capabilities.canonical(text, allowAll: true) }
            }
        }
        return spec
    }

    mutating func security(_ node: Node, _ path: FieldPath) -> SecuritySpec? {
        guard let f = mapping(node, path, fields: ["privileged", "noNewPrivileges", "seccomp", "nestedUserNamespaces"]) else { return nil }
        var spec = SecuritySpec()
        spec.privileged = f.read("privileged", &self) { $0.bool($1, $2) }
        spec.noNewPrivileges = f.read("noNewPrivileges", &self) { $0.bool($1, $2) }
        spec.seccomp = f.read("seccomp", &self) { $0.enumeration($1, $2, SeccompProfile.self) }
        spec.nestedUserNamespaces = f.read("nestedUserNamespaces", &self) { $0.bool($1, $2) }
        return spec
    }

    mutating func proc(_ node: Node, _ path: FieldPath) -> ProcSpec? {
        guard let f = mapping(node, path, fields: ["virtualize"]) else { return nil }
        return ProcSpec(virtualize: f.read("virtualize", &self) { $0.bool($1, $2) })
    }

    mutating func mount(_ node: Node, _ path: FieldPath) -> MountSpec? {
        guard let f = mapping(node, path, fields: ["type", "source", "destination", "readOnly", "size"]) else { return nil }
        let type = f.read("type", &self) { $0.enumeration($1, $2, MountSpec.Kind.self) } ?? .bind
        let source = f.read("source", &self) { $0.checked($1, $2, ValueRules.checkPath) }
        let destination = f.required("destination", &self).flatMap { node -> String? in
            guard let text = checked(node, path / "destination", ValueRules.checkPath) else { return nil }
            if text == "/" {
                error(node, path / "destination", "cannot mount over the container's root")
                return nil
            }
            return text
        }
        let readOnly = f.read("readOnly", &self) { $0.bool($1, $2) }
        let size = f.read("size", &self) { $0.size($1, $2) }
        switch type {
        case .bind:
            if f["source"] == nil { error(node, path / "source", "required field is missing", hint: "a bind mount needs a host path") }
            if let sizeNode = f["size"] { error(sizeNode, path / "size", "only a tmpfs mount takes a size") }
        case .tmpfs:
            if let sourceNode = f["source"] { error(sourceNode, path / "source", "a tmpfs mount takes no source") }
        }
        guard let destination else { return nil }
        return MountSpec(type: type, source: source, destination: destination, readOnly: readOnly, size: size)
    }

    mutating func firewall(_ node: Node, _ path: FieldPath) -> FirewallSpec? {
        guard let f = mapping(node, path, fields: ["defaultPolicy", "rules"]) else { return nil }
        var spec = FirewallSpec()
        spec.defaultPolicy = f.read("defaultPolicy", &self) { $0.enumeration($1, $2, FirewallSpec.Policy.self) }
        spec.rules = f.read("rules", &self) { reader, node, path in
            reader.list(node, path) { $0.firewallRule($1, $2) }
        }
        return spec
    }

    mutating func firewallRule(_ node: Node, _ path: FieldPath) -> FirewallRule? {
        guard let f = mapping(node, path, fields: ["action", "protocol", "port", "from"]) else { return nil }
        let action = f.required("action", &self).flatMap { enumeration($0, path / "action", FirewallRule.Action.self) }
        let proto = f.read("protocol", &self) { $0.enumeration($1, $2, FirewallRule.TransportProtocol.self) } ?? .any
        let port = f.read("port", &self) { $0.port($1, $2) }
        let from = f.read("from", &self) { reader, node, path in
            reader.parsed(node, path) { (text: String) throws(ValueError) in try CIDR(parsing: text, requirePrefix: false) }
        }
        if let portNode = f["port"], proto != .tcp, proto != .udp {
            error(portNode, path / "port", "a port needs protocol tcp or udp", hint: "add 'protocol: tcp'")
            return nil
        }
        guard let action else { return nil }
        return FirewallRule(action: action, protocol: proto, port: port, from: from)
    }
}
