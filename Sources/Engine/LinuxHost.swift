import Kernel
import Logging
import Model
import Netlink
import Reconcile
import Runtime
import Synchronization

/// The Linux host as the engine sees it: observation through the runtime's
/// drivers (cgroupfs, netlink, nftables, the state dir), and each planned
/// operation carried out through the runtime.
public struct LinuxHost: HostRuntime {
    public let runtime: ContainerRuntime
    let logger: Logger

    /// Container creates and deletes carried out at once (Executor); the
    /// runtime's launch path is thread-safe (the clone and the child's
    /// set-up are in the C shim, the records per container).
    public var parallelActions: Int
    /// The plan's inventories, written while its containers are made.
    let inventoriesAhead = InventoryWriteAhead()
    /// The host ends of a batch of deletes, deleted beside it.
    let hostEnds = HostEndsDelete()
    /// What observe reads without the manifests, read while they load.
    let ahead = ObservationAhead()
    /// The network tables the last observe listed and found as recorded:
    /// recorded at their listings' generation when the pass applies (prepare).
    let confirmations = RulesetConfirmations()

    public init(runtime: ContainerRuntime, logger: Logger, parallelActions: Int = WorkerPool.defaultWidth) {
        self.runtime = runtime
        self.logger = logger
        self.parallelActions = parallelActions
    }

    public func concurrently(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
        WorkerPool.run(count, width: width, body)
    }

    /// A batch of deletes: every init is sent SIGKILL first (`delete` stops
    /// with no grace period), so the exits overlap while the deletes run
    /// one worker at a time (berth-bench scale, teardown). Before the kills
    /// the running containers' veths are put in a group of their own, and
    /// deleted in one kernel batch on a thread beside the deletes
    /// (NetworkAttacher.groupHostEnds), waited for by endBatch; one not
    /// deleted there goes with its container's network namespace, as it
    /// would anyway.
    public func beginBatch(_ actions: [Action]) {
        let names = actions.compactMap { action -> String? in
            guard case .deleteContainer = action.operation, case .container(let name) = action.object else { return nil }
            return name
        }
        guard !names.isEmpty else { return }
        let runtime = runtime
        // Each record loaded once, for its veths and its kill.
        let running = WorkerPool.map(names.count, width: parallelActions) { runtime.runningRecord(names[$0]) }.compactMap { $0 }
        let ends = running.flatMap { ContainerRuntime.hostEnds($0) }
        if !ends.isEmpty {
            do {
                let netlink = try RouteNetlink()
                if let group = try NetworkAttacher.groupHostEnds(Set(ends), netlink: netlink)?.group {
                    hostEnds.start { try RouteNetlink().deleteLinks(group: group) }
                }
            } catch {
                logger.debug("veths of the deleted containers left to their namespaces", metadata: ["error": "\(error)"])
            }
            PhaseTimes.mark("veths grouped")
        }
        WorkerPool.run(running.count, width: parallelActions) { runtime.killAhead(running[$0]) }
        PhaseTimes.mark("kill ahead")
    }

    /// The host ends a quick restart set aside (NetworkAttacher.setAside)
    /// and their old namespaces have not taken yet: deleted in one request.
    public func finish(_ plan: [Action]) {
        NetworkAttacher.deleteSetAside(cgroupParent: runtime.paths.cgroupParent)
    }

    public func endBatch(_ actions: [Action]) {
        // Against "veths deleted": which of the two ends the batch (the
        // deletes, bound by the cgroup lock, or the veths, by RTNL).
        PhaseTimes.mark("batch carried out")
        do {
            try hostEnds.wait()
        } catch {
            logger.debug("veths of the deleted containers left to their namespaces", metadata: ["error": "\(error)"])
        }
    }

    /// Before apply's first action (and in an agent's pass, even an empty
    /// one): the tables observe listed and found as recorded are recorded
    /// at their listings' generation. A commit of someone else's (another
    /// program's table on the host) then costs one listing, not one at
    /// every observe until berth next applies the table. Plan and drift
    /// observe only.
    public func prepare(_ plan: [Action]) {
        for confirmation in confirmations.take() {
            NetworkRuleset.confirm(confirmation, state: runtime.state)
        }
        inventoriesAhead.start(plan, state: runtime.state)
    }

    /// A network's nftables table, with the networks it reaches and the
    /// containers its forwards name.
    public func ruleset(_ network: NetworkObject, reached: [NetworkObject], containers: [ContainerObject]) -> NetworkRuleset {
        NetworkRuleset(
            table: NetworkRuleset.tableName(cgroupParent: runtime.paths.cgroupParent, network: network.metadata.name), network: network,
            reached: reached, containers: containers)
    }

    /// What this host has: berth's records checked against the kernel.
    /// Starts reading what the next `observe` needs and the manifests do not
    /// say, on a thread of its own, while the caller loads the manifests
    /// (plan and drift: the load is one thread's work, the other core was
    /// idle): the host's links (bridge ports with their flags among them),
    /// and each container's record decoded (StateStore keeps it for the
    /// file's version: observe opens the file again and uses it only while
    /// the file is unchanged). The kernel's state is read in the same pass
    /// as before, a few milliseconds earlier, never kept for another
    /// command.
    public func observeAhead() {
        let runtime = runtime
        ahead.start(
            dump: {
                guard let netlink = try? RouteNetlink() else { return nil }
                return try? netlink.links()
            },
            names: { runtime.state.names() },
            // Decoded into the records' cache; observe reads the init files.
            record: { _ = runtime.state.load($0, networks: false, initFile: false) })
    }

    /// Ends `observeAhead`'s thread when no observe follows (invalid
    /// manifests): nothing runs beside the command's exit.
    public func stopObservingAhead() { _ = ahead.finish() }

    public func observe(_ desired: DesiredHost) -> ObservedHost {
        var observed = ObservedHost()
        let early = ahead.finish()
        observed.lxcfsLive = runtime.paths.lxcfs.isLive()
        let parent = try? runtime.cgroupLayout().containersParent()
        let netlink = try? RouteNetlink()
        // The host's links, one dump per pass: the containers' host ends and
        // the bridges (berth-bench scale: no-op plan and drift).
        let hostLinks = early ?? netlink.flatMap { try? $0.links() } ?? []
        NetworkAttacher.noteSetAside(in: hostLinks, cgroupParent: runtime.paths.cgroupParent)
        let context = ContainerContext(
            containers: Dictionary(desired.containers.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first }),
            networks: Dictionary(desired.networks.map { ($0.metadata.name, $0) }, uniquingKeysWith: { first, _ in first }),
            // The CPUs a container without a set of its own gets: read once.
            inheritedCPUs: parent.flatMap { try? $0.appending("x") }.flatMap { runtime.cgroups.inheritedCPUs($0) },
            hostLinks: Dictionary(hostLinks.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first }),
            cgroupParents: CgroupParents())
        var known: Set<String> = []
        for slot in observeContainers(context) {
            switch slot {
            case .absent: break
            case .known(let name): known.insert(name)
            case .observed(let container):
                known.insert(container.name)
                observed.containers.append(container)
            }
        }
        let records = runtime.state.networkRecords()
        observed.recordedNetworks = records.mapValues(\.bridge)
        observed.networkSpecs = records.compactMapValues(\.spec)
        if let netlink {
            // The bridge ports, and their isolation flags, from the host's
            // link dump (IFLA_INFO_SLAVE_DATA): no second, AF_BRIDGE dump
            // of every port (within the noise of berth-bench scale's plan,
            // drift and teardown at 1000 ports; one request fewer).
            let ports = desired.networks.isEmpty ? [] : BridgePort.ports(of: hostLinks)
            for network in desired.networks {
                guard let bridge = try? NetworkAttacher.observeBridge(network, netlink: netlink, ports: ports) else { continue }
                observed.networks.insert(network.metadata.name)
                observed.bridges[network.metadata.name] = BridgeObservation(
                    up: bridge.up, mtu: bridge.mtu, group: bridge.group, addresses: bridge.addresses, ports: bridge.ports, lower: bridge.lower,
                    driver: bridge.driver)
                // A device made again for another driver starts with forwarding off.
                if network.spec.needsForwarding && bridge.driver == network.spec.driver {
                    observed.forwarding[network.metadata.name] = NetworkRuleset.forwarding(network.spec.bridge)
                }
            }
            // Bridges marked as this instance's whose record was lost: still ours to prune.
            let owner = NetworkAttacher.ownerAlias(cgroupParent: runtime.paths.cgroupParent, network: "")
            // Bridges, and the gateway ends of macvlan networks' veth pairs.
            let bridges = hostLinks.filter { link in NetworkDriver(deviceKind: link.kind).map { $0 == .bridge || link.alias != nil } ?? false }
            var aliased: [String: [String]] = [:]
            for link in bridges {
                guard let alias = link.alias, alias.hasPrefix(owner) else { continue }
                let network = String(alias.dropFirst(owner.count))
                aliased[network, default: []].append(link.name)
                if observed.recordedNetworks[network] == nil { observed.recordedNetworks[network] = link.name }
            }
            // Bridges berth made for a desired network under another name.
            let existing = Set(hostLinks.filter { NetworkDriver(deviceKind: $0.kind) != nil }.map(\.name))
            for network in desired.networks {
                let name = network.metadata.name
                let record = records[name]
                let candidates = (record?.oldBridges ?? []) + (record.map { [$0.bridge] } ?? []) + (aliased[name] ?? [])
                let old = Set(candidates).subtracting([network.spec.bridge]).intersection(existing)
                if !old.isEmpty { observed.oldBridges[name] = old.sorted() }
            }
        }
        // Each network's table, as the plan would build it, against berth's
        // record and the kernel; libnftables' context is made for the first
        // table listed (none is while the ruleset stands at the generation
        // recorded).
        var listingContext: NFTables?
        func nft() throws -> NFTables {
            if let listingContext { return listingContext }
            let made = try NFTables()
            listingContext = made
            return made
        }
        var confirmed: [NetworkRuleset.Confirmation] = []
        defer { confirmations.keep(confirmed) }
        for (network, reached, containers) in Planner.rulesetInputs(desired) {
            let observation = ruleset(network, reached: reached, containers: containers).observe(state: runtime.state, nft: nft)
            if let confirmation = observation.confirmation { confirmed.append(confirmation) }
            observed.rulesets[network.metadata.name] = observation.differences
                .map {
                    FieldChange(
                        $0.field, desired: .text($0.desired), observed: $0.observed.map { .text($0) } ?? .absent,
                        origin: $0.drift ? .drift : .manifest)
                }
        }
        let legacy = String(NetworkRuleset.tablePrefix(cgroupParent: runtime.paths.cgroupParent).dropLast())
        if (try? NFTablesNetlink.tableExists(family: NFTablesNetlink.familyIP, name: legacy)) == true {
            observed.legacyNATTable = legacy
            observed.networksWithTables = Set(
                observed.recordedNetworks.keys.filter { network in
                    let table = NetworkRuleset.tableName(cgroupParent: runtime.paths.cgroupParent, network: network)
                    return (try? NFTablesNetlink.tableExists(family: NFTablesNetlink.familyINET, name: table)) == true
                })
        }
        observed.unrecorded = runtime.unrecorded(known: known)
        observed.inventories = runtime.state.inventories()
        observed.diskGrowsLive = DiskImage.growsOnline
        return observed
    }

    /// Every recorded container observed, on the worker pool (most of it
    /// waits in the kernel: a netlink socket in its namespace, cgroupfs
    /// reads, its record decoded), in the order of the records.
    ///
    /// In runs of a few containers: the sockets in the namespaces of a
    /// run's running inits are opened in one ask of the worker's helper
    /// thread (NetlinkSocket.inNamespaces), which goes from one namespace to
    /// the next and home once, where an ask per container cost two thread
    /// switches and a setns more each (berth-bench scale, no-op plan and
    /// drift).
    func observeContainers(_ context: ContainerContext) -> [ObservedSlot] {
        let names = runtime.state.names()
        let slots = Slots(count: names.count)
        let runtime = runtime
        // Runs short enough that every worker gets several (a few
        // containers: one each, as before).
        let run = max(1, min(LinuxHost.observedTogether, names.count / (max(1, parallelActions) * 4)))
        WorkerPool.run((names.count + run - 1) / run, width: parallelActions) { part in
            let range = part * run..<min(names.count, (part + 1) * run)
            let loaded = range.map { index -> (record: ContainerRecord, running: Bool)? in
                // Without its networks (for its teardown): nothing here reads them.
                guard let record = runtime.state.load(names[index], networks: false) else { return nil }
                return (record, runtime.isRunning(record))
            }
            var asked: [(position: Int, pid: Int32)] = []
            for (position, entry) in loaded.enumerated() {
                guard let entry, entry.running, let pid = entry.record.pid, LinuxHost.readsNetwork(entry.record, context) else { continue }
                asked.append((position, pid))
            }
            var clients = [RouteNetlink?](repeating: nil, count: loaded.count)
            for (ask, socket) in zip(asked, NetlinkSocket.inNamespaces(ofProcesses: asked.map(\.pid))) {
                clients[ask.position] = socket.map { RouteNetlink(transport: $0) }
            }
            for (position, index) in range.enumerated() {
                var slot = ObservedSlot.absent
                if let entry = loaded[position] {
                    slot = LinuxHost.observeContainer(
                        entry.record, running: entry.running, runtime: runtime, context: context, inside: clients[position])
                }
                // Its socket closed once it is read.
                clients[position] = nil
                slots.state.withLock { $0[index] = slot }
            }
        }
        return slots.state.withLock { $0 }
    }

    /// How many containers a worker observes together at most (their
    /// namespaces' sockets opened in one ask).
    static let observedTogether = 16

    /// Whether observe reads the container's network namespace (a running
    /// init's, named by a manifest): a namespace that has and should have
    /// only lo is not read.
    static func readsNetwork(_ record: ContainerRecord, _ context: ContainerContext) -> Bool {
        guard let container = context.containers[record.name] else { return false }
        return !container.spec.networks.isEmpty || !(record.spec?.networks ?? []).isEmpty
    }

    /// The pool's results by position, under one lock.
    final class Slots: Sendable {
        let state: Mutex<[ObservedSlot]>
        init(count: Int) { state = Mutex(Array(repeating: .absent, count: count)) }
    }

    /// What observing one container needs from the pass, read once.
    struct ContainerContext: Sendable {
        var containers: [String: ContainerObject]
        var networks: [String: NetworkObject]
        var inheritedCPUs: String?
        var hostLinks: [String: Link]
        /// The containers' cgroups' parents, opened once for the pass.
        var cgroupParents: CgroupParents
    }

    /// One container's observation: nothing (no record), only its name (a
    /// `berth run` container its berth still waits for), or what it is.
    enum ObservedSlot: Sendable {
        case absent
        case known(String)
        case observed(ObservedContainer)
    }

    /// One record checked against the kernel: run on the worker pool, so it
    /// touches only this container's record, cgroup and namespaces.
    /// `running`: whether its init runs (ContainerRuntime.isRunning);
    /// `inside`: a client in its network namespace, made ahead (else made
    /// here when needed).
    static func observeContainer(
        _ record: ContainerRecord, running: Bool, runtime: ContainerRuntime, context: ContainerContext, inside: RouteNetlink?
    ) -> ObservedSlot {
        // A container no manifest names is only pruned or reported as an
        // orphan: its run state is all the planner reads of it, so its
        // limits, mounts and disk are not read (berth-bench scale, teardown).
        let manifest = context.containers[record.name]
        let named = manifest != nil
        var usage: CgroupObservation?
        var frozen = false
        if running && named {
            usage = try? runtime.observeCgroup(record, usage: false, parents: context.cgroupParents)
            frozen = usage?.frozen == true
        } else if running, let group = try? CgroupPath(record.cgroup) {
            frozen = runtime.cgroups.isFrozen(group)
        }
        // A `berth run` container belongs to the berth that waits for it
        // (once that berth is gone, it is an unmanaged container like any).
        if record.hasLiveForegroundOwner && !named { return .known(record.name) }
        var network: NetworkObservation?
        var firewallCurrent: Bool?
        // Unreadable (the init just died): nil, and network changes wait for a restart.
        if running, let pid = record.pid, let container = manifest {
            if LinuxHost.readsNetwork(record, context) {
                network = try? NetworkAttacher.observe(
                    pid: pid, container: container, networks: context.networks, ipv6: record.ipv6 ?? record.spec?.usesIPv6 ?? false,
                    hostLinks: context.hostLinks, inside: inside)
            }
            if record.spec?.firewall != nil || record.firewallFingerprint != nil {
                do {
                    firewallCurrent =
                        try ContainerFirewall.observe(pid: pid, recorded: (record.firewallFingerprint, record.firewallGeneration))
                        == record.firewallFingerprint
                } catch {
                    firewallCurrent = nil
                }
            }
        }
        // One read of the init's mounts serves numpty (its devpts) and
        // proc.virtualize (LXCFS's files over /proc): /proc/PID/mounts, which
        // costs the kernel less than mountinfo (MountInfo.init(mounts:)).
        let mountTable = running && named ? record.pid.flatMap { try? Syscall.readFile("/proc/\($0)/mounts", limit: 4 << 20) } : nil
        let mounts = mountTable.map { MountInfo(mounts: $0) }
        var resources: ObservedResources?
        if let usage {
            let inheritedCPUs = context.inheritedCPUs
            var kernel = ResourceObservation.values(usage.limits, inheritedCPUs: inheritedCPUs)
            let disk = runtime.diskQuota(record)
            kernel.diskSize = disk?.size
            kernel.diskInodes = disk?.inodes
            kernel.diskUserQuota = disk?.userQuota
            let spec = manifest?.spec.resources ?? record.spec?.resources
            // Its connection limit is read only when the manifest or the
            // record has one: one nft listing in its namespace, unless its
            // ruleset still stands where berth set the limit.
            if spec?.numtcpsock != nil || record.spec?.resources.numtcpsock != nil {
                let recorded = (limit: record.spec?.resources.numtcpsock, generation: record.connectionLimitGeneration)
                kernel.numtcpsock = record.pid.flatMap { try? ConnectionLimit.limit(pid: $0, recorded: recorded) }
            }
            kernel.numpty = mounts.flatMap { ContainerLaunch.pseudoTerminalLimit($0) }
            var openFilesLimitLive = true
            if spec?.numfile != nil || record.spec?.resources.numfile != nil, let pid = record.pid {
                kernel.numfile = OpenFilesLimit.observe(pid: pid)
                if kernel.numfile != spec?.numfile { openFilesLimitLive = OpenFilesLimit.changesLive(to: spec?.numfile, pid: pid) }
            }
            let expected = ResourceObservation.expected(
                spec, version: runtime.cgroups.version, observed: kernel, inheritedCPUs: inheritedCPUs)
            resources = ObservedResources(
                kernel: kernel, expected: expected,
                disk: DiskQuotaChanges(
                    shrinksLive: disk?.backend == .projectQuota, inodeLimitLive: disk?.inodeLimitLive ?? true,
                    spaceLimitMissing: disk?.spaceLimitMissing ?? false),
                openFilesLimitLive: openFilesLimitLive)
        }
        let state: ObservedRunState
        if running {
            state = frozen ? .frozen : .running
        } else if let mark = record.checkpoint {
            state = .checkpointed(mark)
        } else if let pid = record.pid {
            // The init ended by itself (berth's stop forgets the init file).
            var code = record.exitCode
            if code == nil, let status = Reaper.poll(pid) {
                // Our child (the agent started it): its code is kept for list and restartPolicy.
                code = Reaper.exitCode(status)
                try? runtime.recordExit(record.name, code: Reaper.exitCode(status))
            }
            state = .exited(code: code)
        } else {
            state = .stopped
        }
        var container = ObservedContainer(
            name: record.name, state: state, recordedSpec: record.spec, resources: resources, network: network,
            firewallCurrent: firewallCurrent)
        container.recordedLabels = record.labels ?? [:]
        if let mounts { container.procVirtualized = LXCFS.virtualizes(mounts) }
        return .observed(container)
    }

    /// A write the kernel took but holds differently (a value it clamps, a
    /// controller that ignores it) is an error, not silence: the limits are
    /// read back and compared as the planner compares them.
    public struct ReadBackMismatch: Error, CustomStringConvertible {
        public var container: String
        public var fields: [(field: String, wanted: String, held: String)]
        public var description: String {
            "\(container): the kernel holds "
                + fields.map { "\($0.field) = \($0.held) (wrote \($0.wanted))" }.joined(separator: ", ")
        }
    }

    func confirm(_ name: String, _ resources: ResourcesSpec?) throws {
        guard let record = runtime.state.load(name), let group = try? CgroupPath(record.cgroup) else { return }
        let held = try runtime.observeCgroup(record, usage: false)
        let inherited = runtime.cgroups.inheritedCPUs(group)
        var kernel = ResourceObservation.values(held.limits, inheritedCPUs: inherited)
        let disk = runtime.diskQuota(record)
        kernel.diskSize = disk?.size
        kernel.diskInodes = disk?.inodes
        kernel.numtcpsock = record.pid.flatMap { try? ConnectionLimit.observe(pid: $0)?.limit }
        kernel.numpty = record.pid.flatMap { PseudoTerminalLimit.observe(pid: $0) }
        // Without numfile the init has berth's own limit: nothing to compare.
        // A raise left for the next start (no CAP_SYS_RESOURCE) is not read back.
        if resources?.numfile != nil, let pid = record.pid {
            kernel.numfile = OpenFilesLimit.changesLive(to: resources?.numfile, pid: pid) ? OpenFilesLimit.observe(pid: pid) : resources?.numfile
        }
        let expected = ResourceObservation.expected(resources, version: runtime.cgroups.version, observed: kernel, inheritedCPUs: inherited)
        let differences = ResourceDiff.differences(desired: expected, observed: kernel)
        if !differences.isEmpty {
            throw ReadBackMismatch(container: name, fields: differences.map { ($0.0, $0.1.description, $0.2.description) })
        }
    }

    /// Carries out one operation, exactly as planned.
    public func perform(_ action: Action) throws {
        let name = action.object.name
        switch action.operation {
        case .createNetwork(let network), .moveBridge(let network, _):
            // The bridge under the network's name; one made under an older
            // name stays recorded until deleteOldBridge.
            _ = try NetworkAttacher(logger: logger, state: runtime.state).ensureBridge(network, netlink: try RouteNetlink())
        case .repairBridge(let network):
            try NetworkAttacher(logger: logger, state: runtime.state).repairBridge(network, netlink: try RouteNetlink())
        case .deleteNetwork(let bridge):
            PhaseTimes.mark("actions before the network's delete")
            // Its table first: the only time a network's rules are removed.
            try NetworkRuleset.delete(
                table: NetworkRuleset.tableName(cgroupParent: runtime.paths.cgroupParent, network: name), network: name, state: runtime.state)
            PhaseTimes.mark("ruleset delete")
            try NetworkAttacher(logger: logger, state: runtime.state).deleteBridge(network: name, bridge: bridge, netlink: try RouteNetlink())
            PhaseTimes.mark("bridge delete")
        case .deleteOldBridge(let bridge, _):
            try NetworkAttacher(logger: logger, state: runtime.state).deleteOldBridge(
                network: name, bridge: bridge, netlink: try RouteNetlink())
        case .createContainer(let container, let networks):
            _ = try runtime.start(container, networks: networks)
        case .startContainer(let container, let networks):
            // Started again after its init ended by itself: counted.
            var restarts = 0
            if case .exited = action.reason { restarts = (runtime.state.load(name)?.restarts ?? 0) + 1 }
            _ = try runtime.start(container, networks: networks, restarts: restarts)
        case .adoptContainer(let container, let pid, let networks):
            try runtime.adopt(container, pid: pid, networks: networks)
        case .stopContainer(let timeout):
            try runtime.stop(name, timeout: timeout)
        case .freezeContainer:
            try runtime.setFrozen(name, true, recordState: true)
        case .thawContainer:
            try runtime.setFrozen(name, false, recordState: true)
        case .updateResources(let resources):
            try runtime.updateResources(name, resources)
            try confirm(name, resources)
        case .updateNetworks(let container, let networks):
            try runtime.updateNetworks(container, networks: networks)
        case .updateFirewall(let firewall):
            try runtime.updateFirewall(name, firewall)
        case .updateRecord(let spec, let labels):
            try runtime.updateRecord(name, spec, labels: labels)
        case .restartContainer(let container, let networks):
            // A smaller disk image is made at the start: refused first, with
            // the container left running, when its files would not fit.
            try runtime.checkDiskShrink(name, to: container.spec.resources.disk?.size)
            try runtime.checkUserQuota(name, container.spec.resources.disk)
            try runtime.stop(name, timeout: container.spec.stopTimeout)
            _ = try runtime.start(container, networks: networks)
        case .replaceContainer(let container, let networks):
            // Another root filesystem: the container is made again (its
            // private layer kept only when the manifest says persistent).
            try runtime.stop(name, timeout: container.spec.stopTimeout)
            try runtime.delete(name, trash: true)
            _ = try runtime.start(container, networks: networks, ranBefore: true)
        case .deleteContainer:
            // Its files go to the trash: apply and the agent start an
            // emptier once they are done (Trash).
            try runtime.delete(name, trash: true)
        case .applyRuleset(let network, let reached, let containers):
            try ruleset(network, reached: reached, containers: containers).apply(state: runtime.state)
        case .deleteLegacyNAT(let table):
            try NetworkRuleset.deleteLegacy(table: table, state: runtime.state)
        case .enableForwarding(let bridge):
            try Syscall.writeValue("1", to: "/proc/sys/net/ipv4/conf/\(bridge)/forwarding", allowingSpaces: false)
        case .recordInventory(let inventory, _):
            if try inventoriesAhead.wait(for: inventory) { return }
            try runtime.state.saveInventory(inventory)
        case .leaveOrphan, .leaveCheckpointed:
            // Shown by plan; apply leaves it alone (the executor never gets here).
            break
        }
    }
}

/// The host ends of a batch delete's veths, deleted on a thread of their own
/// (beginBatch) and waited for once the batch is done (endBatch).
final class HostEndsDelete: Sendable {
    private let thread = Mutex<BackgroundThread?>(nil)

    func start(_ job: @escaping @Sendable () throws -> Void) {
        let started = BackgroundThread {
            try job()
            PhaseTimes.mark("veths deleted")
        }
        let previous = thread.withLock { thread in
            defer { thread = started }
            return thread
        }
        try? previous?.wait()
    }

    func wait() throws {
        try thread.withLock { thread in
            defer { thread = nil }
            return thread
        }?.wait()
    }
}

/// `LinuxHost.observeAhead`'s thread: the host's links dumped first, then
/// the records decoded until `finish` (observe's start) stops it, so a
/// record is never decoded twice over; the rest are decoded by observe's
/// workers as before.
final class ObservationAhead: Sendable {
    private let thread = Mutex<BackgroundThread?>(nil)
    private let links = Mutex<[Link]?>(nil)
    private let stopped = Atomic<Bool>(false)

    /// `dump`: the host's links (nil: none); then `record` for each of
    /// `names` until `finish`.
    func start(
        dump: @escaping @Sendable () -> [Link]?, names: @escaping @Sendable () -> [String], record: @escaping @Sendable (String) -> Void
    ) {
        _ = finish()
        stopped.store(false, ordering: .relaxed)
        let started = BackgroundThread { [self] in
            let dumped = dump()
            links.withLock { $0 = dumped }
            for name in names() {
                if stopped.load(ordering: .relaxed) { return }
                record(name)
            }
        }
        thread.withLock { $0 = started }
    }

    /// Stops the thread (it ends after the record it is decoding) and
    /// returns what it dumped; nil when it was not started or dumped
    /// nothing. Taken once: a later observe dumps again.
    func finish() -> [Link]? {
        stopped.store(true, ordering: .relaxed)
        let started = thread.withLock { thread in
            defer { thread = nil }
            return thread
        }
        guard let started else { return nil }
        try? started.wait()
        return links.withLock { links in
            defer { links = nil }
            return links
        }
    }
}

/// The network tables an observe listed and found as recorded, kept for
/// the apply that follows it (LinuxHost.prepare).
final class RulesetConfirmations: Sendable {
    private let pending = Mutex<[NetworkRuleset.Confirmation]>([])

    /// What the last observe found (replacing what an earlier one did).
    func keep(_ confirmations: [NetworkRuleset.Confirmation]) { pending.withLock { $0 = confirmations } }

    /// What is kept, once.
    func take() -> [NetworkRuleset.Confirmation] {
        pending.withLock { pending in
            defer { pending = [] }
            return pending
        }
    }
}
