import Kernel
import Manifest
import Model
import Netlink
import Runtime

/// Load, decode and resolve: the front half of validate, plan, apply and drift.
public enum ManifestPipeline {
    public struct Outcome {
        public var files: [String]
        public var documentCount: Int
        public var errors: [ManifestError]
        /// Nil when a document failed: nothing is planned from a partial set.
        public var desired: DesiredHost?
        /// What the host checks could not look at (a tarball not unpacked yet).
        public var notes: [String] = []
    }

    /// `runtime`: also check each container against the host's files (its
    /// init command and working directory in its root filesystem), as plan
    /// and apply do before anything is created; validate does not look at
    /// the host.
    public static func load(paths: [String], host: HostFacts, runtime: ContainerRuntime? = nil) -> Outcome {
        let loaded = ManifestLoader().load(paths: paths)
        guard loaded.errors.isEmpty else {
            return Outcome(files: loaded.files, documentCount: loaded.documents.count, errors: loaded.errors, desired: nil)
        }
        let (desired, errors) = ManifestSet(documents: loaded.documents).resolve(for: host)
        var outcome = Outcome(
            files: loaded.files, documentCount: loaded.documents.count, errors: errors,
            desired: errors.isEmpty ? desired : nil)
        if let runtime, let resolved = outcome.desired {
            let (hostErrors, notes) = HostCheck.check(resolved, runtime: runtime, locator: FieldLocator(documents: loaded.documents))
            outcome.notes = notes
            if !hostErrors.isEmpty {
                outcome.errors = hostErrors.sorted()
                outcome.desired = nil
            }
        }
        return outcome
    }
}

/// Checks of resolved manifests against the host's files, at the position
/// of the field they concern: what a container needs from its root
/// filesystem to start (InitCheck).
public enum HostCheck {
    public static func check(
        _ desired: DesiredHost, runtime: ContainerRuntime, locator: FieldLocator
    ) -> (errors: [ManifestError], notes: [String]) {
        var errors: [ManifestError] = []
        var notes: [String] = []
        var listening: Bool?
        func journaldListens() -> Bool {
            if let listening { return listening }
            let answer = JournalRelay.journaldListens(runtime.journalSocket)
            listening = answer
            return answer
        }
        let prefixes = hostPrefixes(cgroupParent: runtime.paths.cgroupParent, recordedBridges: runtime.state.recordedBridges())
        for (network, path, message) in subnetProblems(desired, prefixes: prefixes) {
            let location = locator.location(network: network.metadata.name, path) ?? network.source
            errors.append(
                ManifestError(
                    location: location, fieldPath: path.description, message: message,
                    hint: "choose a subnet this host does not use (berth's own bridges aside)"))
        }
        let (procErrors, procNotes) = procProblems(desired, lxcfs: runtime.paths.lxcfs, locator: locator)
        errors += procErrors
        notes += procNotes
        let initChecks = initCheck(desired.containers, runtime: runtime)
        for (container, initCheck) in zip(desired.containers, initChecks) {
            let name = container.metadata.name
            func fail(_ path: FieldPath, _ message: String, hint: String? = nil) {
                let location = locator.location(container: name, path) ?? container.source
                errors.append(ManifestError(location: location, fieldPath: path.description, message: message, hint: hint))
            }
            let spec = container.spec
            if spec.logDriver == .journal && !journaldListens() {
                if runtime.state.load(name)?.spec?.logDriver == .journal, case .running = runtime.status(name) {
                    notes.append("\(name): journald is not running; its journal relay keeps its output until it is back (10 s, then in console.log)")
                } else {
                    fail(
                        .root / "spec" / "logs" / "driver",
                        "journal: journald is not running on this host (nothing is bound to \(runtime.journalSocket))",
                        hint: "start systemd-journald, or use driver: file")
                }
            }
            if spec.resources.disk?.inodes != nil, let problem = runtime.inodeLimitProblem(name) {
                fail(
                    .root / "spec" / "resources" / "disk" / "inodes", problem,
                    hint: "leave it out (the size still holds), or use a state dir on XFS or ext4 with project quotas")
            }
            if spec.resources.disk?.userQuota == true, let problem = runtime.userQuotaProblem(name) {
                fail(.root / "spec" / "resources" / "disk" / "userQuota", problem, hint: "set it to false (the size still holds)")
            }
            let problems: [InitCheck.Problem]
            switch initCheck {
            case .unreadable(let error):
                fail(.root / "spec" / "rootfs", "cannot look at the root filesystem: \(error)")
                continue
            case .runningAsRecorded: continue
            case .unchecked:
                if case .tarball(let tarball) = spec.rootfs {
                    notes.append("\(name): tarball \(tarball) is not unpacked yet; its init command is checked once it is")
                }
                continue
            case .checked(let found): problems = found
            }
            let initPath = FieldPath.root / "spec" / "init"
            for problem in problems {
                switch problem.field {
                case .command: fail(initPath / "command" / 0, problem.message, hint: problem.hint)
                case .workingDir: fail(initPath / "workingDir", problem.message, hint: problem.hint)
                }
            }
        }
        return (errors, notes)
    }
}

extension HostCheck {
    /// One container's init against its root filesystem.
    enum InitCheckOutcome: Sendable {
        /// Its root filesystem could not be looked at.
        case unreadable(String)
        /// Nothing to check yet (a tarball not unpacked, a template not built).
        case unchecked
        /// Its init runs, started from this very root filesystem, command,
        /// working directory and mounts: what the lookups found missing is
        /// not reported (the plan starts nothing of it; a restart for
        /// another field reports it when the init starts).
        case runningAsRecorded
        case checked([InitCheck.Problem])
    }

    /// Each container's init checked on the worker pool: path lookups in
    /// its layers, a container's independent of the others' (they were a
    /// quarter of a no-op plan's manifest load, one after another:
    /// berth-bench scale 300). What it finds wrong with a container whose
    /// init already runs as the manifest would start it is not reported:
    /// the plan starts nothing of it, and a binary removed in its private
    /// layer must not refuse the whole plan. Asked only then: its record
    /// and its init's /proc entry cost more than the lookups (10 ms of a
    /// no-op plan at 1000).
    static func initCheck(_ containers: [ContainerObject], runtime: ContainerRuntime) -> [InitCheckOutcome] {
        // Each lower layer opened once, for all the containers that share it.
        let shared = InitCheck.Layers()
        return WorkerPool.map(containers.count, width: WorkerPool.defaultWidth) { index in
            let container = containers[index]
            let outcome: InitCheckOutcome
            do {
                guard let root = try runtime.initCheckRoot(container, shared: shared) else { return .unchecked }
                outcome = .checked(InitCheck.problems(container.spec, in: root))
            } catch {
                outcome = .unreadable("\(error)")
            }
            if case .checked(let problems) = outcome, problems.isEmpty { return outcome }
            return runtime.runsAsRecorded(container) ? .runningAsRecorded : outcome
        }
    }

    /// Where LXCFS is not live: `proc.virtualize: true` is refused at its
    /// line (the container's /proc cannot be its own), and containers that
    /// leave it unset get a note that their /proc is the host's.
    public static func procProblems(_ desired: DesiredHost, lxcfs: LXCFS, locator: FieldLocator) -> (errors: [ManifestError], notes: [String]) {
        guard !desired.containers.isEmpty, !lxcfs.isLive() else { return ([], []) }
        var errors: [ManifestError] = []
        var hostProc: [String] = []
        for container in desired.containers {
            switch container.spec.procVirtualize {
            case true?:
                let path = FieldPath.root / "spec" / "proc" / "virtualize"
                errors.append(
                    ManifestError(
                        location: locator.location(container: container.metadata.name, path) ?? container.source,
                        fieldPath: path.description,
                        message: "LXCFS is not mounted at \(lxcfs.directory): /proc cannot show the container's memory and CPUs",
                        hint: "install and start lxcfs.service (Debian's lxcfs), set BERTH_LXCFS_DIR to its mountpoint, or set it false"))
            case nil: hostProc.append(container.metadata.name)
            case false?: continue
            }
        }
        guard !hostProc.isEmpty else { return (errors, []) }
        // A fleet's names would fill the screen: the first few, then a count.
        let shown =
            hostProc.count > 5 ? hostProc.prefix(3).joined(separator: ", ") + " and \(hostProc.count - 3) more" : hostProc.joined(separator: ", ")
        let note =
            "LXCFS is not mounted at \(lxcfs.directory): /proc of \(shown) shows the host's memory, "
            + "CPUs and uptime (start lxcfs.service, or set proc.virtualize: false)"
        return (errors, [note])
    }
}

/// An address or route of one of the host's own interfaces.
public struct HostPrefix: Sendable, Equatable {
    public var prefix: CIDR
    public var interface: String
    public var isRoute: Bool

    public init(_ prefix: CIDR, interface: String, isRoute: Bool) {
        self.prefix = prefix
        self.interface = interface
        self.isRoute = isRoute
    }
}

extension HostCheck {
    /// Each network subnet (IPv4, and IPv6 when it has one) that overlaps
    /// an address or a route of the host's own interfaces: a bridge given
    /// it would answer for the host's LAN (ARP for its gateway) or take its
    /// routes.
    public static func subnetProblems(_ desired: DesiredHost, prefixes: [HostPrefix]) -> [(NetworkObject, FieldPath, String)] {
        var problems: [(NetworkObject, FieldPath, String)] = []
        for network in desired.networks {
            let subnets =
                [(network.spec.subnet, FieldPath.root / "spec" / "subnet")]
                + (network.spec.ipv6.map { [($0.subnet, FieldPath.root / "spec" / "ipv6" / "subnet")] } ?? [])
            for (subnet, path) in subnets {
                guard let clash = prefixes.first(where: { $0.prefix.overlaps(subnet) }) else { continue }
                let what = clash.isRoute ? "a route to \(clash.prefix)" : "address \(clash.prefix)"
                problems.append((network, path, "subnet \(subnet) overlaps \(what) of the host's interface \(clash.interface)"))
            }
        }
        return problems
    }

    /// The host's addresses and main-table routes (default routes aside),
    /// read with rtnetlink, without those of the bridges this instance made
    /// (`ownBridges`). Empty when netlink cannot be read.
    public static func hostPrefixes(cgroupParent: String, recordedBridges: Set<String> = []) -> [HostPrefix] {
        guard let netlink = try? RouteNetlink() else { return [] }
        let addresses = (try? netlink.addresses()) ?? []
        let routes = (try? netlink.mainRoutes()) ?? []
        // Only the links an address or a route names, each asked for by
        // index: a dump of every link was a second walk over the host's
        // veths (one per container; observe makes its own dump), 3% of a
        // no-op plan at 1000 containers (berth-bench scale).
        var links: [Link] = []
        var asked: Set<Int32> = []
        for index in addresses.map(\.index) + routes.compactMap(\.outputIndex) where asked.insert(index).inserted {
            switch Result(catching: { try netlink.link(index: index) }) {
            case .success(let link): if let link { links.append(link) }
            case .failure: return []
            }
        }
        let ours = ownBridges(links, cgroupParent: cgroupParent, recordedBridges: recordedBridges)
        let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
        var prefixes: [HostPrefix] = []
        for (index, cidr) in addresses where !ours.contains(index) {
            prefixes.append(HostPrefix(cidr, interface: names[index] ?? "#\(index)", isRoute: false))
        }
        for route in routes {
            guard route.destinationLength > 0, let destination = route.destination else { continue }
            if let index = route.outputIndex, ours.contains(index) { continue }
            let interface = route.outputIndex.map { names[$0] ?? "#\($0)" } ?? "none"
            prefixes.append(HostPrefix(CIDR(address: destination, prefixLength: Int(route.destinationLength)), interface: interface, isRoute: true))
        }
        return prefixes
    }

    /// The indexes of the links among `links` that are bridges this
    /// instance made: marked with its alias, or named by a network record
    /// of its state dir. Either is enough: the record is written before the
    /// bridge is created and the alias is set in a second request after it,
    /// so a berth killed in between leaves a recorded bridge without its
    /// alias (until the next apply marks it); one whose state dir was lost
    /// still has the alias.
    public static func ownBridges(_ links: [Link], cgroupParent: String, recordedBridges: Set<String>) -> Set<Int32> {
        let owner = NetworkAttacher.ownerAlias(cgroupParent: cgroupParent, network: "")
        return Set(
            links.filter { link in
                link.alias?.hasPrefix(owner) == true
                    || (NetworkDriver(deviceKind: link.kind) != nil && recordedBridges.contains(link.name))
            }.map(\.index))
    }
}
