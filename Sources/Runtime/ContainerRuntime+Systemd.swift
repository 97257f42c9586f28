import FoundationEssentials
import Kernel
import Logging
import Model
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The systemd manager's own cgroup, asked once per runtime (a bus call).
final class ManagerCgroupCache: Sendable {
    private let value = Mutex<String?>(nil)

    func get(_ ask: () throws -> String) throws -> String {
        if let known = value.withLock({ $0 }) { return known }
        let root = try ask()
        value.withLock { $0 = root }
        return root
    }
}

/// The systemd cgroup driver (`--cgroup-driver systemd`): each container's
/// cgroup is the `payload` sub-cgroup of a delegated transient scope
/// (`<parent>-NAME.scope` in `<parent>.slice`), which systemd makes over the
/// bus with the init in it. berth's limits go in the payload (the tree below a
/// delegated unit is berth's); the cpu and io weights are the scope's
/// CPUWeight= and IOWeight= (systemd owns the scope's own files, and writes
/// them again at every daemon-reload).
extension ContainerRuntime {
    public struct SystemdDriverError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Where this instance's containers' cgroups go; with the systemd driver
    /// under the manager's own cgroup (asked over the bus once).
    public func cgroupLayout() throws -> CgroupLayout {
        guard paths.cgroupManager == .systemd else { return try paths.cgroupLayout() }
        guard cgroups.version == .v2 else {
            throw SystemdDriverError(description: "--cgroup-driver systemd needs the unified hierarchy (cgroup v2); this host has v1")
        }
        let root = try managerCgroup.get {
            do {
                return try SystemdScopes.managerCgroup()
            } catch {
                throw SystemdDriverError(description: "--cgroup-driver systemd: no systemd manager on the system bus (\(error))")
            }
        }
        return try paths.cgroupLayout(root: root)
    }

    /// The limits berth writes into a container's own cgroup: with a scope,
    /// the weights are the scope's (written by systemd), not the payload's.
    static func payloadLimits(_ limits: CgroupLimits, scope: String?) -> CgroupLimits {
        guard scope != nil else { return limits }
        var payload = limits
        payload.cpuWeight = nil
        payload.ioWeight = nil
        return payload
    }

    /// Makes the scope with `pid` in it (the init, not yet released), then the
    /// payload cgroup under it with `pid` moved in; the cgroup's controllers
    /// are enabled once the scope itself holds no process.
    func enterScope(_ record: ContainerRecord, unit: String, pid: pid_t, limits: CgroupLimits) throws {
        let payload = try CgroupPath(record.cgroup)
        let scopeComponents = payload.components.dropLast()
        let scopePath = try CgroupPath(scopeComponents.joined(separator: "/"))
        guard scopeComponents.count >= 2, let slice = scopeComponents.dropLast().last else {
            throw SystemdDriverError(description: "container \(record.name): \(record.cgroup) is not a scope's payload")
        }
        // What an interrupted start left: its processes go, then its scope.
        if cgroups.exists(scopePath) {
            try? cgroups.killAll(scopePath)
            try stopScope(unit, path: scopePath)
        }
        guard
            let scope = TransientScope(
                unit: unit, slice: slice, description: "berth container \(record.name)", pid: pid, cpuWeight: limits.cpuWeight,
                ioWeight: limits.ioWeight)
        else {
            throw SystemdDriverError(description: "container \(record.name): \(unit) in \(slice) is not a scope systemd takes")
        }
        try startScope(scope)
        // systemd moves the init when the scope's start job runs.
        let expected = "0::/" + scopePath.description + "\n"
        var attempts = 0
        while (try? Syscall.readFile("/proc/\(pid)/cgroup")).map({ String(decoding: $0, as: UTF8.self) }) != expected {
            attempts += 1
            guard attempts < 500 else {
                let actual = (try? Syscall.readFile("/proc/\(pid)/cgroup")).map { String(decoding: $0, as: UTF8.self) } ?? "?"
                throw SystemdDriverError(
                    description: "container \(record.name): systemd did not put its init into \(scopePath) (it is in \(actual))")
            }
            usleep(10_000)
        }
        guard let directory = cgroups.directory(of: "memory", payload) else {
            throw SystemdDriverError(description: "container \(record.name): no cgroup directory for \(payload)")
        }
        try Syscall.mkdir(directory, existOK: true)
        try cgroups.addProcess(pid, to: payload)
        try cgroups.create(payload)
    }

    /// StartTransientUnit, again while systemd still holds a unit of that
    /// name from a moment ago (it collects a stopped one at its next turn).
    private func startScope(_ scope: TransientScope) throws {
        var attempts = 0
        while true {
            do {
                return try SystemdScopes.start(scope)
            } catch  where error.message.contains("UnitExists") && attempts < 40 {
                attempts += 1
                usleep(50_000)
            } catch {
                throw SystemdDriverError(description: "\(scope.unit): systemd refused the scope: \(error)")
            }
        }
    }

    /// StopUnit, then waits (2 s at most) for systemd to remove its cgroup.
    func stopScope(_ unit: String, path: CgroupPath) throws {
        do {
            try SystemdScopes.stop(unit)
        } catch {
            throw SystemdDriverError(description: "\(unit): systemd did not stop it: \(error)")
        }
        for _ in 0..<200 where cgroups.exists(path) { usleep(10_000) }
    }

    /// The scope holding a recorded container's payload (nil: cgroupfs).
    func scopePath(_ record: ContainerRecord) -> CgroupPath? {
        guard record.scope != nil, let payload = try? CgroupPath(record.cgroup), payload.components.count > 1 else { return nil }
        return try? CgroupPath(payload.components.dropLast().joined(separator: "/"))
    }

    /// The container's cgroup as the kernel holds it; with a scope, the
    /// weights are read from the scope's own files.
    public func observeCgroup(_ record: ContainerRecord, usage: Bool, parents: CgroupParents? = nil) throws -> CgroupObservation {
        var observed = try cgroups.observe(try CgroupPath(record.cgroup), usage: usage, parents: parents)
        if let scope = scopePath(record), let directory = cgroups.directory(of: "cpu", scope) {
            observed.limits.cpuWeight = (try? Syscall.readFile(directory + "/cpu.weight")).flatMap {
                Int(String(decoding: $0, as: UTF8.self).split(separator: "\n").first ?? "")
            }
            observed.limits.ioWeight = (try? Syscall.readFile(directory + "/io.weight")).flatMap {
                CgroupValues.v2IOWeight(String(decoding: $0, as: UTF8.self))
            }
        }
        return observed
    }

    /// A scope's weights, live (SetUnitProperties).
    func setScopeWeights(_ record: ContainerRecord, _ limits: CgroupLimits) throws {
        guard let unit = record.scope else { return }
        do {
            try SystemdScopes.setWeights(unit, cpu: limits.cpuWeight, io: limits.ioWeight)
        } catch {
            throw SystemdDriverError(description: "container \(record.name): systemd did not take its weights: \(error)")
        }
        // systemd writes them into the scope's files at its next turn: what
        // is read back (confirm, the next plan) must be the new values.
        for _ in 0..<200 {
            guard let observed = try? observeCgroup(record, usage: false) else { return }
            let cpuDone = observed.limits.cpuWeight == nil || observed.limits.cpuWeight == (limits.cpuWeight ?? 100)
            let ioDone = observed.limits.ioWeight == nil || observed.limits.ioWeight == (limits.ioWeight ?? 100)
            if cpuDone && ioDone { return }
            usleep(5_000)
        }
    }
}
