import Kernel
import Logging
import Model
import Netlink
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Bridges on the host side and veth pairs into containers, over rtnetlink.
/// A container's side is created straight in its network namespace (no move,
/// which costs an RCU grace period) and goes away with that namespace.
/// Every lookup is a get by name or a dump filtered to one link, so the cost
/// of attaching a container does not grow with the number on the bridge.
public struct NetworkAttacher {
    let logger: Logger
    /// Where created bridges are recorded (ownership: only those are deleted).
    var state: StateStore?

    /// Held by a start's attach: the RTNL lock is the kernel's one lock
    /// for every link change, so one start of a parallel apply waits here
    /// asleep while another's are under way, rather than in the host end's
    /// `disable_ipv6` write, which the kernel retries at once for as long
    /// as another holds the RTNL lock (a spinning CPU).
    static let attaching = Mutex(())

    public init(logger: Logger, state: StateStore? = nil) {
        self.logger = logger
        self.state = state
    }

    /// The bridge exists, is up, has the network's MTU and holds exactly
    /// its gateway addresses (IPv4, and IPv6 when the network has it; any
    /// other address is removed, IPv6 link-local ones aside). Idempotent;
    /// returns the bridge's link index. Every lookup is of this one link,
    /// so it is also what each attach runs; the ports' isolation flags,
    /// which take a dump of the ports, are `repairBridge`'s.
    @discardableResult
    public func ensureBridge(_ network: NetworkObject, netlink: RouteNetlink) throws -> Int32 {
        let name = network.spec.bridge
        var link = try netlink.link(named: name)
        let owner = state.map { NetworkAttacher.ownerAlias(cgroupParent: $0.paths.cgroupParent, network: network.metadata.name) }
        var changed = false
        let kind = network.spec.driver.deviceKind
        if let existing = link, existing.kind != kind,
            state?.networkRecord(network.metadata.name)?.bridge == name || (owner != nil && existing.alias == owner)
        {
            // Ours, made with the other driver (`spec.driver` changed): deleted
            // and made again. A bridge's ports leave it (each container's
            // veth is replaced by a macvlan in its converge); a macvlan
            // network's pair takes its containers' macvlans with it (each
            // gets a veth in its converge).
            try netlink.deleteLink(name)
            logger.info(
                "network device replaced",
                metadata: ["network": "\(network.metadata.name)", "bridge": "\(name)", "driver": "\(network.spec.driver.rawValue)"])
            link = nil
        }
        if link == nil {
            // Recorded first: a berth killed in between leaves a record of a
            // bridge that may not exist (deleting it is idempotent), never a
            // bridge that no record owns. A bridge made under an older name
            // stays recorded until it is deleted.
            if let state {
                let previous = state.networkRecord(network.metadata.name)
                var old = (previous?.oldBridges ?? []) + (previous.map { [$0.bridge] } ?? [])
                old = old.filter { $0 != name }.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
                try state.saveNetwork(
                    network.metadata.name, NetworkRecord(bridge: name, spec: network.spec, oldBridges: old.isEmpty ? nil : old))
            }
            Failpoint.bridgeRecorded.hit()
            // Its own address (the gateway's MAC stays put as containers
            // come and go; without one the kernel takes the lowest of its
            // ports' and recomputes it for each port) and no multicast
            // snooping (the kernel re-arms two query timers of every port
            // each time a port comes up). Its MTU is the user's only when
            // set on an existing bridge: one off at creation, then set
            // (otherwise the kernel lowers it to the smallest port MTU as
            // ports join). The kernel takes no alias with a new link: it is
            // set with the MTU (the record owns the bridge until then).
            let mtu = UInt32(network.spec.mtu)
            switch network.spec.driver {
            case .bridge:
                try netlink.createBridge(
                    name, mtu: mtu > 68 ? mtu - 1 : mtu + 1, mac: NetworkAttacher.bridgeMAC(name), multicastSnooping: false)
            case .macvlan:
                try createMacvlanPair(network, owner: owner, netlink: netlink)
            }
            Failpoint.bridgeUnmarked.hit()
            try netlink.setLink(name, mtu: mtu, alias: owner, group: NetworkConfig.bridgeGroup)
            Failpoint.bridgeCreated.hit()
            logger.info("bridge created", metadata: ["network": "\(network.metadata.name)", "bridge": "\(name)"])
            link = try netlink.link(named: name)
        }
        guard let link else { throw NetlinkError(operation: "find bridge \(name)", errno: ENODEV) }
        guard link.kind == kind else {
            throw SystemError(
                call: "network \(network.metadata.name)", errno: EEXIST,
                subject: "\(name) is a \(link.kind ?? "link") that is not berth's, where driver \(network.spec.driver.rawValue) needs a \(kind)")
        }
        if let owner, link.alias == owner, let state, !state.hasNetworkRecord(network.metadata.name) {
            // Ours by its alias, but the state dir lost the record: take it back.
            try state.recordNetwork(network.metadata.name, bridge: name)
            logger.info("bridge adopted", metadata: ["network": "\(network.metadata.name)", "bridge": "\(name)"])
        }
        if let owner, link.alias != owner, let state, state.networkRecord(network.metadata.name)?.bridge == name {
            // Ours by its record, but not marked: the alias is set in a
            // request after the create, and a berth killed in between left
            // the bridge without it. Marked now, it stays known as berth's
            // (a lost state dir, the host-subnet check).
            try netlink.setAlias(name, owner)
            logger.info("bridge marked", metadata: ["network": "\(network.metadata.name)", "bridge": "\(name)"])
        }
        if link.group != NetworkConfig.bridgeGroup {
            // The group tells berth's bridges apart in every network's forward filter.
            try netlink.setGroup(name, NetworkConfig.bridgeGroup)
            changed = true
        }
        let mtu = UInt32(network.spec.mtu)
        if link.mtu != mtu {
            try netlink.setLink(name, mtu: mtu)
            changed = true
        }
        let wanted = network.spec.bridgeAddresses
        let present = try netlink.addresses(index: link.index).map(\.cidr).filter { !$0.isIPv6LinkLocal }
        // Strays first: a new primary IPv4 address added before the old one
        // is deleted would be a secondary, and go with it.
        for address in present where !wanted.contains(address) {
            try netlink.deleteAddress(address, from: name)
            changed = true
        }
        if network.spec.ipv6 != nil && !present.contains(where: { !$0.address.isIPv4 }) { try NetworkAttacher.enableIPv6(name) }
        for address in wanted where !present.contains(address) {
            try netlink.addAddress(address, to: name)
            changed = true
        }
        if !link.isUp {
            try netlink.setLink(name, up: true)
            changed = true
        }
        var attachPoint = link.index
        if network.spec.driver == .macvlan { attachPoint = try ensureMacvlanLower(network, netlink: netlink, changed: &changed) }
        if changed { try recordApplied(network) }
        return attachPoint
    }

    /// A macvlan network's host side, made: a veth pair in the host's
    /// namespace, its end `bridge` (the gateway addresses, the network's
    /// MAC and group come with `ensureBridge`) and its lower end, which the
    /// containers' macvlans sit on: up.
    /// The containers reach the gateway and the host through the pair, and
    /// each other inside the macvlan driver (bridge mode), so the host has
    /// two links per network, whatever the number of containers.
    func createMacvlanPair(_ network: NetworkObject, owner: String?, netlink: RouteNetlink) throws {
        let name = network.spec.bridge
        let lower = network.spec.macvlanLower
        if let stale = try netlink.link(named: lower) {
            // The lower end of a pair of this network's whose gateway end
            // was renamed behind berth's back (the name is a hash of the
            // bridge's): it goes with its peer, and with the containers'
            // macvlans on it (each is made again on the new pair in its
            // converge). Only when the peer is berth's, by its alias.
            let peer = try stale.parent.flatMap { try netlink.link(index: $0) }
            guard stale.kind == "veth", let peer, let owner, peer.alias == owner else {
                throw SystemError(
                    call: "network \(network.metadata.name)", errno: EEXIST,
                    subject: "\(lower), the name of the lower end of \(name)'s veth pair, is a link that is not berth's")
            }
            try netlink.deleteLinkIfPresent(lower)
            logger.info("old bridge deleted", metadata: ["network": "\(network.metadata.name)", "bridge": "\(peer.name)"])
        }
        try netlink.createVeth(name, peer: lower, mtu: UInt32(network.spec.mtu))
        try netlink.setLink(name, mac: NetworkAttacher.bridgeMAC(name))
        // IPv6 stays on at the lower end: with it off, the kernel drops the
        // IPv6 addresses of the macvlans on it as they come up.
        try netlink.setLink(lower, up: true)
    }

    /// A macvlan network's lower end: there, up, with the network's MTU (a
    /// macvlan's MTU is at most its lower's; one lowered takes its
    /// macvlans' down with it). Returns its index.
    func ensureMacvlanLower(_ network: NetworkObject, netlink: RouteNetlink, changed: inout Bool) throws -> Int32 {
        let name = network.spec.macvlanLower
        guard let lower = try netlink.link(named: name), lower.kind == "veth" else {
            throw SystemError(
                call: "network \(network.metadata.name)", errno: ENODEV,
                subject: "\(name), the lower end of \(network.spec.bridge)'s veth pair, is missing (delete \(network.spec.bridge) and apply again)")
        }
        let mtu = UInt32(network.spec.mtu)
        if lower.mtu != mtu {
            try netlink.setLink(name, mtu: mtu)
            changed = true
        }
        if !lower.isUp {
            try netlink.setLink(name, up: true)
            changed = true
        }
        return lower.index
    }

    /// `ensureBridge`, then every berth port of the bridge takes the
    /// network's isolation flag and MTU (the containers' ends take it in
    /// their own converge); the record takes the spec.
    public func repairBridge(_ network: NetworkObject, netlink: RouteNetlink) throws {
        let bridge = try ensureBridge(network, netlink: netlink)
        let isolated = network.spec.isolated
        let mtu = UInt32(network.spec.mtu)
        for port in try netlink.bridgePorts(master: bridge) where NetworkAttacher.isHostInterface(port.name) {
            if port.isolated != isolated { try netlink.setPortIsolated(port.name, isolated) }
            if port.mtu != mtu { try netlink.setLink(port.name, mtu: mtu) }
        }
        try recordApplied(network)
    }

    /// The record keeps the spec last applied (written only when it changes).
    func recordApplied(_ network: NetworkObject) throws {
        guard let state else { return }
        let previous = state.networkRecord(network.metadata.name)
        var record = previous ?? NetworkRecord(bridge: network.spec.bridge)
        record.bridge = network.spec.bridge
        record.spec = network.spec
        if record != previous { try state.saveNetwork(network.metadata.name, record) }
    }

    /// IPv6 on for a bridge (the host's default for new links may be off):
    /// its gateway address needs it.
    static func enableIPv6(_ bridge: String) throws {
        let path = "/proc/sys/net/ipv6/conf/\(bridge)/disable_ipv6"
        guard let current = try? Syscall.readFile(path, limit: 8), current.first != UInt8(ascii: "0") else { return }
        try Syscall.writeValue("0", to: path, allowingSpaces: false)
    }

    /// The bridge of a desired network as the kernel has it (nil: absent):
    /// up, MTU, device group, addresses (IPv6 link-local ones aside) and
    /// the isolation flag of berth's ports on it, from `ports` (the host's
    /// one link dump for every network: BridgePort.ports(of:)).
    /// With driver macvlan, `lower` says whether the lower end is there
    /// and up with the network's MTU (nil with driver bridge).
    /// `driver`: the driver the device named `bridge` was made by (a
    /// bridge, or a veth: macvlan; nil: another kind).
    public static func observeBridge(_ network: NetworkObject, netlink: RouteNetlink, ports: [BridgePort]) throws -> (
        up: Bool, mtu: Int?, group: UInt32?, addresses: [CIDR], ports: [String: Bool], lower: Bool?, driver: NetworkDriver?
    )? {
        guard let link = try netlink.link(named: network.spec.bridge) else { return nil }
        let addresses = try netlink.addresses(index: link.index).map(\.cidr).filter { !$0.isIPv6LinkLocal }
        var flags: [String: Bool] = [:]
        for port in ports where port.master == link.index && isHostInterface(port.name) { flags[port.name] = port.isolated ?? false }
        var lower: Bool?
        if network.spec.driver == .macvlan {
            let end = try netlink.link(named: network.spec.macvlanLower)
            lower = end.map { $0.kind == "veth" && $0.isUp && $0.mtu == UInt32(network.spec.mtu) } ?? false
        }
        return (link.isUp, link.mtu.map { Int($0) }, link.group, addresses, flags, lower, NetworkDriver(deviceKind: link.kind))
    }

    /// Deletes a bridge berth created (its addresses go with it), and any
    /// it made for the network under an older name. Idempotent.
    public func deleteBridge(network: String, bridge: String, netlink: RouteNetlink) throws {
        for old in state?.networkRecord(network)?.oldBridges ?? [] where old != bridge {
            if try netlink.link(named: old) != nil { try netlink.deleteLink(old) }
        }
        if try netlink.link(named: bridge) != nil { try netlink.deleteLink(bridge) }
        Failpoint.bridgeDeleted.hit()
        state?.forgetNetwork(network)
        logger.info("bridge deleted", metadata: ["network": "\(network)", "bridge": "\(bridge)"])
    }

    /// Deletes a bridge berth made for `network` under a name the network no
    /// longer has, once its containers moved. Only a bridge berth owns (by
    /// the record, or by its alias) and never the network's current one.
    public func deleteOldBridge(network: String, bridge: String, netlink: RouteNetlink) throws {
        let record = state?.networkRecord(network)
        guard record?.bridge != bridge else {
            throw SystemError(call: "delete old bridge", errno: EBUSY, subject: "\(bridge) is network \(network)'s bridge")
        }
        if let link = try netlink.link(named: bridge) {
            let owner = state.map { NetworkAttacher.ownerAlias(cgroupParent: $0.paths.cgroupParent, network: network) }
            guard record?.oldBridges?.contains(bridge) == true || (owner != nil && link.alias == owner) else {
                throw SystemError(call: "delete old bridge", errno: EPERM, subject: "\(bridge) is not berth's")
            }
            try netlink.deleteLink(bridge)
        }
        if let state, var current = record, current.oldBridges?.contains(bridge) == true {
            current.oldBridges?.removeAll { $0 == bridge }
            if current.oldBridges?.isEmpty == true { current.oldBridges = nil }
            try state.saveNetwork(network, current)
        }
        logger.info("old bridge deleted", metadata: ["network": "\(network)", "bridge": "\(bridge)"])
    }

    /// Puts the host ends of veths, `names`, in a device group no link of
    /// the host's namespace is in (the dump says which are used), for
    /// `deleteLinks(group:)` to delete them (each pair, and its bridge port)
    /// in one kernel batch. For containers about to be killed (a batch
    /// delete): left alone, each pair goes when the kernel cleans the
    /// container's network namespace up, in batches of whichever namespaces
    /// died meanwhile, holding the RTNL lock that the network's bridge
    /// delete then waits for (berth-bench scale, teardown). Done before the
    /// kills: the requests, many to a datagram, then find the lock free.
    /// Only veths with the names `hostInterfaceName` gives are touched; one
    /// gone meanwhile is skipped. The group and how many are in it (nil:
    /// none).
    public static func groupHostEnds(_ names: Set<String>, netlink: RouteNetlink) throws -> (group: UInt32, count: Int)? {
        let links = try netlink.links()
        let ours = links.filter { names.contains($0.name) && $0.kind == "veth" && isHostInterface($0.name) }
        guard !ours.isEmpty else { return nil }
        let used = Set(links.map { $0.group ?? 0 })
        var group: UInt32
        repeat {
            group = UInt32.random(in: 0x0001_0000...0xFFFF_FFFE)
        } while used.contains(group) || group == NetworkConfig.bridgeGroup
        let answers = try netlink.requestAll(ours.map { RouteNetlink.setLink(named: $0.name, group: group) }, operation: "set group of veths")
        if let failed = answers.first(where: { $0 != 0 && $0 != ENODEV }) {
            throw NetlinkError(operation: "set group of veths", errno: failed)
        }
        let count = answers.count { $0 == 0 }
        return count > 0 ? (group, count) : nil
    }

    /// The address berth gives a bridge it creates: locally administered,
    /// unicast, from a hash of its name (the same for the same bridge).
    public static func bridgeMAC(_ bridge: String) -> [UInt8] {
        let hash = FNV1a.hash64("berth-bridge/\(bridge)")
        return [0x02] + (0..<5).map { UInt8(truncatingIfNeeded: hash >> (8 * $0)) }
    }

    /// IPv6 off on the host end of a veth, a bridge port, before it is up:
    /// no link-local address (no DAD, MLD or router solicitations sent to
    /// every other port), and no multicast route of its own in the host's
    /// IPv6 table (the kernel walks those, one per port, each time a port
    /// comes up or goes). Containers' IPv6 crosses the bridge all the same.
    /// `unlessOff`: read first, and write only when it is on (the write
    /// takes the RTNL lock, retrying while another holder has it).
    public static func disableIPv6(onPort name: String, unlessOff: Bool = false) throws {
        let path = "/proc/sys/net/ipv6/conf/\(name)/disable_ipv6"
        if unlessOff, let value = try? Syscall.readFile(path, limit: 8), value.first == UInt8(ascii: "1") { return }
        if (try? Syscall.writeValue("1", to: path, allowingSpaces: false)) != nil { return }
        // A kernel without IPv6 has no such file; any other failure is thrown.
        guard access(path, F_OK) == 0 || errno != ENOENT else { return }
        try Syscall.writeValue("1", to: path, allowingSpaces: false)
    }

    /// The alias berth puts on the bridges it creates: who owns it, so that a
    /// bridge is known as berth's even when the state dir is lost.
    public static func ownerAlias(cgroupParent: String, network: String) -> String {
        "berth:\(cgroupParent):\(network)"
    }

    /// The host-side name of a container's veth: a hash of container and
    /// network (never the container's name itself; at most 15 bytes).
    public static func hostInterfaceName(container: String, network: String) -> String {
        "vb" + FNV1a.hex32("\(container)/\(network)")
    }

    /// Whether a link's name is one `hostInterfaceName` gives.
    public static func isHostInterface(_ name: String) -> Bool {
        name.utf8.count == 10 && name.hasPrefix("vb") && name.dropFirst(2).allSatisfy(\.isHexDigit)
    }

    /// Attaches the container whose init is `pid` (waiting, before exec) to
    /// its networks: veth into the bridge, addresses, lo up, default route.
    /// `inside`: a netlink socket in the container's namespace already
    /// (its child's, ChildNetlink); without one, one is opened from a thread.
    ///
    /// `announce`: the container ran before (neighbours may know its
    /// addresses with the MACs of its last run's macvlans).
    public func attach(
        pid: pid_t, container: ContainerObject, networks: [String: NetworkObject], inside: NetlinkSocket? = nil, announce: Bool = false
    ) throws {
        for attachment in container.spec.networks where networks[attachment.network] == nil {
            throw SystemError(call: "attach", errno: ENOENT, subject: "network \(attachment.network)")
        }
        // Nothing to attach: the new namespace's lo the child brings up itself.
        let attachments = container.spec.networks
        guard !attachments.isEmpty else { return }
        try NetworkAttacher.attaching.withLock { _ in
            try converge(
                pid: pid, container: container, networks: networks, ipv6: container.spec.usesIPv6, fresh: true, inside: inside,
                announce: announce)
        }
        logger.info("networks attached", metadata: ["container": "\(container.metadata.name)", "networks": "\(NetworkAttacher.listed(attachments))"])
    }

    /// The networks' names as an array prints them (`["a", "b"]`: names
    /// are DNS labels, nothing to escape), written out: printing the array
    /// reflects over it, ~0.1 ms of every networked start in a fresh process.
    static func listed(_ attachments: [ContainerConfig.Attachment]) -> String {
        var text = "["
        for (index, attachment) in attachments.enumerated() {
            if index > 0 { text += ", " }
            text += "\"" + attachment.network + "\""
        }
        return text + "]"
    }

    /// Makes a running container's network namespace match its manifest,
    /// live: veths created or deleted (attach, detach), addresses added and
    /// removed, interfaces up, the host ends on their bridges, the default
    /// route. At start the namespace holds only lo, so this is also the
    /// attach. Only veths are ever deleted (a moved-in device stays). IPv6
    /// addresses wait for a restart when IPv6 is off in the namespace.
    /// `fresh`: the namespace is the one a start just made, holding only
    /// lo, which the child brings up itself (attach): nothing in it is
    /// dumped (no links, addresses nor routes to compare with).
    public func converge(
        pid: pid_t, container: ContainerObject, networks: [String: NetworkObject], ipv6: Bool, fresh: Bool = false,
        inside socket: NetlinkSocket? = nil, announce: Bool = false
    ) throws {
        let layout = container.interfaceLayout(networks: networks)
        let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
        defer { Syscall.close(namespaceFD) }
        let inside = RouteNetlink(transport: try socket ?? NetlinkSocket(networkNamespaceFD: namespaceFD))
        var links = fresh ? [] : try inside.links()
        if let loopback = links.first(where: { $0.name == "lo" }), !loopback.isUp { try inside.setLink("lo", up: true) }
        guard !layout.isEmpty || links.contains(where: NetworkAttacher.isAttachment) else { return }
        let host = try RouteNetlink()
        let wanted = Set(layout.map(\.interface))
        for link in links where NetworkAttacher.isAttachment(link) && !wanted.contains(link.name) {
            try inside.deleteLink(link.name)
            logger.info("network detached", metadata: ["container": "\(container.metadata.name)", "interface": "\(link.name)"])
        }
        links.removeAll { NetworkAttacher.isAttachment($0) && !wanted.contains($0.name) }
        let addresses = fresh ? [] : try inside.addresses()
        // Host ends made here come up last, once their peer inside is up:
        // the port then comes up with its carrier, and the kernel selects
        // the bridge's port states (a walk over every port) once, not
        // also for the carrier going down and up again.
        var hostEndsDown: [String] = []
        let routed = layout.firstIndex { $0.gateway != nil }
        for (position, interface) in layout.enumerated() {
            guard let network = networks[interface.network] else { continue }
            // The bridge's index, or with driver macvlan its lower end's.
            let attachPoint = try ensureBridge(network, netlink: host)
            // Both ends of the veth have the network's MTU, as its bridge does.
            let mtu = UInt32(network.spec.mtu)
            let hostName = NetworkAttacher.hostInterfaceName(container: container.metadata.name, network: network.metadata.name)
            let mac = NetworkAttacher.containerMAC(
                cgroupParent: state?.paths.cgroupParent ?? "", container: container.metadata.name, network: network.metadata.name)
            let device: AttachedDevice =
                network.spec.driver == .macvlan
                ? .macvlan(lower: attachPoint, mode: NetworkAttacher.macvlanMode(isolated: network.spec.isolated))
                : .veth(hostName: hostName, bridge: attachPoint, isolated: network.spec.isolated, mac: mac)
            var current = links.first { $0.name == interface.interface }
            if fresh {
                try attachFresh(
                    interface, device: device, mtu: mtu, ipv6: ipv6, defaultRoute: position == routed ? interface.gateway : nil,
                    namespaceFD: namespaceFD, host: host, inside: inside, announce: announce)
                if case .veth = device { hostEndsDown.append(hostName) }
                continue
            }
            switch device {
            case .macvlan(let lower, let mode):
                if let link = current, link.kind != "macvlan" || link.parent != lower {
                    // A veth, or a macvlan on another network's lower end.
                    try inside.deleteLink(interface.interface)
                    current = nil
                }
                if current == nil {
                    // Made again on a running container (drift repaired, a
                    // driver change): a new MAC for addresses its neighbours
                    // know, announced as it comes up.
                    try host.createMacvlan(interface.interface, lower: lower, namespaceFD: namespaceFD, mtu: mtu, mode: mode)
                    try inside.announceAddresses(interface.interface)
                    try NetworkAttacher.notifyNeighbours(of: interface, ipv6: ipv6, networkNamespaceFD: namespaceFD)
                } else if current?.macvlanMode != mode {
                    try inside.setMacvlanMode(interface.interface, mode)
                }
            case .veth(let hostName, let bridge, let isolated, let mac):
                let hostLink = try host.link(named: hostName)
                if let link = current, hostLink == nil || link.kind != "veth" {
                    // Its peer is not ours (or it is a macvlan): make the pair again.
                    try inside.deleteLink(interface.interface)
                    current = nil
                }
                if current == nil {
                    // A host end left by an init that is gone (a start berth was
                    // killed in, its init killed since) goes with that init's
                    // namespace, which the kernel frees asynchronously: it may
                    // vanish between the lookup and the delete.
                    if hostLink != nil { try host.deleteLinkIfPresent(hostName) }
                    try host.createVeth(hostName, peer: interface.interface, peerNamespaceFD: namespaceFD, mtu: mtu, peerMAC: mac)
                    try NetworkAttacher.disableIPv6(onPort: hostName)
                    // By name: no get of the host end (whose answer the kernel
                    // fills by a walk over every namespace its peers are in).
                    try host.setLink(named: hostName, master: bridge)
                    if isolated { try host.setPortIsolated(hostName, true) }
                    hostEndsDown.append(hostName)
                } else {
                    // A host end made before: IPv6 off, as at a start (CRIU
                    // makes its own at a restore, up on the bridge, with IPv6).
                    try NetworkAttacher.disableIPv6(onPort: hostName, unlessOff: true)
                    if let hostLink, hostLink.master != bridge || !hostLink.isUp {
                        try host.setLink(named: hostName, up: true, master: bridge)
                        if isolated { try host.setPortIsolated(hostName, true) }
                    }
                }
                if let hostLink, current != nil, hostLink.mtu != mtu { try host.setLink(hostName, mtu: mtu) }
            }
            if let current, current.mtu != mtu { try inside.setLink(interface.interface, mtu: mtu) }
            let present = current.map { link in addresses.filter { $0.index == link.index }.map(\.cidr) } ?? []
            for address in present where !interface.addresses.contains(address) && !address.isIPv6LinkLocal {
                try inside.deleteAddress(address, from: interface.interface)
            }
            for address in interface.addresses where !present.contains(address) && (ipv6 || address.address.isIPv4) {
                try inside.addAddress(address, to: interface.interface)
            }
            if current?.isUp != true { try inside.setLink(named: interface.interface, up: true) }
        }
        for hostName in hostEndsDown { try host.setLink(named: hostName, up: true) }
        let routes = fresh ? [] : try inside.defaultRoutes()
        // A fresh namespace's IPv4 default route went with its interface's
        // addresses (attachFresh).
        if !fresh || layout.isEmpty {
            try NetworkAttacher.convergeDefaultRoute(
                inside, family: Netlink.AF_INET, gateway: layout.compactMap(\.gateway).first, routes: routes)
        }
        // IPv6 is off in a namespace started without an IPv6 address.
        if ipv6 {
            try NetworkAttacher.convergeDefaultRoute(
                inside, family: Netlink.AF_INET6, gateway: layout.compactMap(\.gateway6).first, routes: routes)
        }
    }

    /// What joins a container's interface to its network.
    enum AttachedDevice {
        /// A veth whose host end `hostName` is a port of the bridge, its
        /// container's end with the hardware address `mac` (containerMAC).
        case veth(hostName: String, bridge: Int32, isolated: Bool, mac: [UInt8])
        /// A macvlan on the network's lower end, in `mode`, with the
        /// kernel's random address: one with a fixed address would not come
        /// up (EADDRINUSE) while the namespace of the container's last run
        /// still holds its macvlan on the same lower end, which the kernel
        /// frees asynchronously, up to a second or more after its init is
        /// gone; nothing on the host names it, to delete it first as a
        /// veth's host end is (a restart, or `apply --replace`).
        case macvlan(lower: Int32, mode: UInt32)
    }

    /// A host end left by a container's last run, set down and renamed out
    /// of the way (`vs` for `vb`) into this instance's set-aside group, so
    /// the new pair can take its name at once: a rename queues no
    /// unregister (no rcu_barrier, where a delete waits ~25 ms; an
    /// `apply --restart` of bridge containers paid it for each). It goes
    /// with its old namespace, which the kernel is freeing, or with the
    /// group at the end of the pass (`deleteSetAside`). True when it is out
    /// of the way (gone meanwhile too); false: the caller deletes it.
    func setAside(_ hostName: String, host: RouteNetlink) throws -> Bool {
        guard let state, NetworkAttacher.isHostInterface(hostName) else { return false }
        let index: Int32
        do {
            index = try host.index(of: hostName)
        } catch let error as NetlinkError where error.errno == ENODEV {
            return true
        }
        let aside = "vs" + hostName.dropFirst(2)
        let answers = try host.requestAll(
            [
                RouteNetlink.setLink(index: index, up: false),
                RouteNetlink.setLink(index: index, rename: aside, group: NetworkAttacher.setAsideGroup(cgroupParent: state.paths.cgroupParent)),
            ], operation: "set aside \(hostName)")
        if answers.contains(ENODEV) { return true }
        guard answers.allSatisfy({ $0 == 0 }) else { return false }
        NetworkAttacher.setAsideInThisProcess.withLock { $0 = true }
        return true
    }

    /// Whether this process set a host end aside (deleteSetAside has work).
    static let setAsideInThisProcess = Mutex(false)

    /// Set-aside host ends are on the host that an earlier berth did not
    /// delete (it ended before its pass did, and their namespaces are held):
    /// this pass's end deletes them (observe sees them in its link dump).
    public static func noteSetAside(in links: [Link], cgroupParent: String) {
        let group = setAsideGroup(cgroupParent: cgroupParent)
        if links.contains(where: { $0.group == group }) { setAsideInThisProcess.withLock { $0 = true } }
    }

    /// The device group of an instance's set-aside host ends: from a hash of
    /// its cgroup parent, above the 16-bit range (clear of the networks'
    /// group and of a batch delete's random one only by chance of 1 in 2^32).
    public static func setAsideGroup(cgroupParent: String) -> UInt32 {
        let hash = UInt32(truncatingIfNeeded: FNV1a.hash64("berth-set-aside/\(cgroupParent)"))
        return 0x0001_0000 + hash % (0xFFFF_FFFE - 0x0001_0000)
    }

    /// Deletes the host ends this process set aside that their namespaces
    /// have not taken yet, in one request (one rcu_barrier for them all):
    /// at the end of an apply or an agent's pass, and of `berth start`.
    public static func deleteSetAside(cgroupParent: String) {
        let pending = setAsideInThisProcess.withLock { pending in
            defer { pending = false }
            return pending
        }
        guard pending else { return }
        // ENODEV: all gone with their namespaces already; on any other
        // failure they go with their namespaces all the same.
        _ = try? RouteNetlink().deleteLinks(group: setAsideGroup(cgroupParent: cgroupParent))
    }

    /// IPv6's counterpart of arp_notify, where `interface` has an IPv6
    /// address (and IPv6 is on): ndisc_notify in the namespace, so an
    /// unsolicited neighbour advertisement follows once each address is
    /// ready. A sysctl only (rtnetlink's IFLA_INET6_CONF is read-only);
    /// none on a kernel without IPv6.
    static func notifyNeighbours(of interface: InterfaceLayout, ipv6: Bool, networkNamespaceFD: Int32) throws(SystemError) {
        guard ipv6, interface.addresses.contains(where: { !$0.address.isIPv4 }) else { return }
        do {
            try Syscall.writeSysctl("net/ipv6/conf/\(interface.interface)/ndisc_notify", "1", networkNamespaceFD: networkNamespaceFD)
        } catch {
            if error.errno != ENOENT { throw error }
        }
    }

    /// The hardware address of a container's interface on a network:
    /// locally administered, unicast, from a hash of the instance (its
    /// cgroup parent), the container and the network, so it is the same
    /// at every start (as systemd-nspawn's, or LXD's kept `hwaddr`): the
    /// host's and the other containers' neighbour entries for its address
    /// stay right across a restart, and its IPv6 link-local address too.
    /// A veth's: the pair of the container's last run is deleted by its
    /// host end's name before the new one is made, so the address is free.
    public static func containerMAC(cgroupParent: String, container: String, network: String) -> [UInt8] {
        let hash = FNV1a.hash64("berth-interface/\(cgroupParent)/\(container)/\(network)")
        return [0x02] + (0..<5).map { UInt8(truncatingIfNeeded: hash >> (8 * $0)) }
    }

    /// A macvlan's mode for a network: private when isolated (the
    /// containers reach the gateway only), else bridge.
    public static func macvlanMode(isolated: Bool) -> UInt32 {
        isolated ? Netlink.MACVLAN_MODE_PRIVATE : Netlink.MACVLAN_MODE_BRIDGE
    }

    /// Whether a link in a container's namespace is one berth attaches
    /// (and so may delete): NetworkDriver.interfaceKinds.
    static func isAttachment(_ link: Link) -> Bool { link.kind.map(NetworkDriver.interfaceKinds.contains) ?? false }

    /// One interface of a start's fresh namespace (only lo in it): the veth
    /// made with its host end a port of the bridge in one request (no
    /// lookup of the host end first: one left by a start that crashed is
    /// found by the create's EEXIST, deleted and the pair made again), IPv6
    /// off on the host end, or the macvlan made on the network's lower end
    /// (nothing on the host); then inside, in one datagram, the addresses,
    /// the interface up and `defaultRoute` (the IPv4 default route, on the
    /// first interface with a gateway). The host end comes up later (converge).
    func attachFresh(
        _ interface: InterfaceLayout, device: AttachedDevice, mtu: UInt32, ipv6: Bool, defaultRoute: IPAddress?, namespaceFD: Int32,
        host: RouteNetlink, inside: RouteNetlink, announce: Bool
    ) throws {
        switch device {
        case .macvlan(let lower, let mode):
            try host.createMacvlan(interface.interface, lower: lower, namespaceFD: namespaceFD, mtu: mtu, mode: mode)
        case .veth(let hostName, let bridge, let isolated, let mac):
            do {
                try host.createVeth(hostName, peer: interface.interface, peerNamespaceFD: namespaceFD, mtu: mtu, master: bridge, peerMAC: mac)
            } catch let error as NetlinkError where error.errno == EEXIST {
                // A host end left by an init that is gone goes with that init's
                // namespace, which the kernel frees asynchronously: it may
                // vanish meanwhile. Set aside, not deleted here (a delete
                // waits ~25 ms in rcu_barrier: each quick restart paid it).
                if !(try setAside(hostName, host: host)) { try host.deleteLinkIfPresent(hostName) }
                try host.createVeth(hostName, peer: interface.interface, peerNamespaceFD: namespaceFD, mtu: mtu, master: bridge, peerMAC: mac)
            }
            try NetworkAttacher.disableIPv6(onPort: hostName)
            if isolated { try host.setPortIsolated(hostName, true) }
        }
        let index = try inside.index(of: interface.interface)
        var requests: [(request: (UInt16, UInt16, [UInt8]), operation: String)] = []
        // Not at a first start: each announcement reaches every container on
        // the lower end (a macvlan broadcast), so a thousand first starts
        // would cost a million deliveries, and no neighbour knew these
        // addresses with other MACs.
        if case .macvlan = device, announce {
            requests.append((RouteNetlink.announceAddresses(named: interface.interface), "set arp_notify on \(interface.interface)"))
            try NetworkAttacher.notifyNeighbours(of: interface, ipv6: ipv6, networkNamespaceFD: namespaceFD)
        }
        for address in interface.addresses where ipv6 || address.address.isIPv4 {
            requests.append((RouteNetlink.newAddress(index: index, address), "add address \(address) to \(interface.interface)"))
        }
        requests.append((RouteNetlink.setLink(named: interface.interface, up: true), "set link \(interface.interface)"))
        if let gateway = defaultRoute {
            requests.append((RouteNetlink.newDefaultRoute(via: gateway, replace: true), "add default route via \(gateway)"))
        }
        try inside.requestInOrder(requests)
    }

    /// The one default route of a family via `gateway` (none when nil).
    static func convergeDefaultRoute(_ inside: RouteNetlink, family: UInt8, gateway: IPAddress?, routes: [Route]) throws {
        let routes = routes.filter { $0.family == family }
        guard routes.compactMap(\.gateway) != (gateway.map { [$0] } ?? []) else { return }
        if let gateway {
            if routes.count > 1 { for _ in routes { try inside.deleteDefaultRoute(family: family) } }
            try inside.addDefaultRoute(via: gateway, replace: true)
        } else {
            for _ in routes { try inside.deleteDefaultRoute(family: family) }
        }
    }

    /// What the kernel has in the container's network namespace, for the
    /// planner: interfaces and their addresses, the default route, and
    /// whether each wanted interface's host end is a port of its bridge.
    /// The host's links come from one dump per pass (`hostLinks`, by name):
    /// a lookup per container cost two gets and a socket each (berth-bench
    /// scale, no-op plan and drift).
    /// `inside`: a client already in the namespace of `pid` (made with
    /// others', NetlinkSocket.inNamespaces), else one is made.
    public static func observe(
        pid: pid_t, container: ContainerObject, networks: [String: NetworkObject], ipv6: Bool, hostLinks: [String: Link],
        inside made: RouteNetlink? = nil
    ) throws -> NetworkObservation {
        let inside = try made ?? RouteNetlink.inNamespace(ofProcess: pid)
        let layout = Dictionary(
            container.interfaceLayout(networks: networks).map { ($0.interface, $0) }, uniquingKeysWith: { first, _ in first })
        let addresses = try inside.addresses()
        var interfaces: [NetworkObservation.Interface] = []
        for link in try inside.links() where link.name != "lo" {
            var interface = NetworkObservation.Interface(
                name: link.name, kind: link.kind, up: link.isUp,
                addresses: addresses.filter { $0.index == link.index && !$0.cidr.isIPv6LinkLocal }.map(\.cidr), mtu: link.mtu.map { Int($0) })
            if let wanted = layout[link.name], let network = networks[wanted.network] {
                switch network.spec.driver {
                case .bridge:
                    let hostLink = hostLinks[hostInterfaceName(container: container.metadata.name, network: wanted.network)]
                    let bridge = hostLinks[network.spec.bridge]
                    interface.hostSideAttached =
                        link.kind == "veth" && hostLink.map { $0.isUp && $0.master != nil && $0.master == bridge?.index } ?? false
                    interface.hostMTU = hostLink?.mtu.map { Int($0) }
                case .macvlan:
                    // On the lower end of the network's own pair: not on one
                    // whose gateway end was renamed behind berth's back (the
                    // lower end keeps its name; it goes when the pair is made
                    // again, and the macvlan with it).
                    if let lower = hostLinks[network.spec.macvlanLower], let gateway = hostLinks[network.spec.bridge] {
                        interface.hostSideAttached = link.kind == "macvlan" && link.parent == lower.index && lower.parent == gateway.index
                    } else {
                        interface.hostSideAttached = false
                    }
                    interface.isolated = link.macvlanMode.map { $0 == Netlink.MACVLAN_MODE_PRIVATE }
                }
            }
            interfaces.append(interface)
        }
        let gateways = try inside.defaultRoutes().compactMap(\.gateway)
        return NetworkObservation(interfaces: interfaces, defaultGateways: gateways, ipv6: ipv6)
    }
}
