import FoundationEssentials
import Kernel
import Model
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import Runtime

/// container.json and the init file, without root.
@Suite struct StateStoreTests {
    let base = "/tmp/berth-state-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    var store: StateStore { StateStore.scratch(base) }

    func record(_ name: String, hostname: String) -> ContainerRecord {
        var record = ContainerRecord(
            name: name, pid: nil, startTime: nil, cgroup: "x/" + name, rootfs: "/r", lower: "/l", upper: "/u", work: "/w",
            keepPrivateLayer: false)
        var spec = ContainerSpec()
        spec.hostname = hostname
        record.spec = spec.resolved(name: name, defaultRootfs: .template("busybox"))
        return record
    }

    @Test func theInitGoesToTheRunDirectoryAndEveryChangeIsReadBack() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        var first = record("c1", hostname: "one")
        first.pid = 4242
        first.startTime = 99
        try store.save(first)
        #expect(store.load("c1") == first)
        #expect(!String(decoding: try Syscall.readFile(base + "/state/containers/c1/container.json"), as: UTF8.self).contains("4242"))
        #expect(String(decoding: try Syscall.readFile(base + "/run/containers/c1/init"), as: UTF8.self) == "4242 99\n")

        // A changed definition is read again, not served from what was decoded.
        var second = record("c1", hostname: "two")
        second.pid = 4242
        second.startTime = 99
        try store.save(second)
        #expect(store.load("c1")?.spec?.hostname == "two")
        // Also when another writer replaces the file.
        var third = record("c1", hostname: "three")
        third.pid = nil
        let bytes = Array(try JSONEncoder().encode(third))
        try Syscall.writeAtomically(bytes, to: base + "/state/containers/c1/container.json")
        #expect(store.load("c1")?.spec?.hostname == "three")

        // Stopped: the init file goes, the definition stays.
        try store.save(second.stopped)
        #expect(!Syscall.exists(base + "/run/containers/c1/init"))
        #expect(store.load("c1") == second.stopped)
        #expect(store.load("none") == nil)
    }

    /// Loading a record leaves its access time alone: under relatime the
    /// first read after a write would dirty the inode for the next sync.
    @Test func loadingARecordKeepsItsAccessTime() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        try store.save(record("c1", hostname: "one"))
        let file = base + "/state/containers/c1/container.json"
        // An access time before the last change: relatime would update it at a read.
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 2_000_000, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, file, &times, 0) == 0)
        #expect(store.load("c1")?.spec?.hostname == "one")
        var status = stat()
        #expect(stat(file, &status) == 0)
        #expect(status.st_atim.tv_sec == 1_000_000)
    }

    /// A `berth run` container's record is in its run directory: nothing of
    /// it in the state dir, yet listed and loaded like any other, and a
    /// stop (forgetInit) of it keeps it there.
    @Test func aForegroundRecordLivesInTheRunDirectoryAndIsListedAndLoaded() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        var run = record("r1", hostname: "r1")
        run.foregroundOwner = [1, 2]
        run.privateLayerInMemory = true
        run.pid = 4242
        run.startTime = 99
        try store.saveForeground(run)
        #expect(Syscall.exists(base + "/run/containers/r1/container.json"))
        #expect(!Syscall.exists(base + "/state/containers/r1"))
        #expect(!Syscall.exists(base + "/run/containers/r1/init"))
        #expect(store.load("r1") == run)
        // Listed beside the state dir's records; a stopped container's run
        // directory without a record is not.
        try store.save(record("c1", hostname: "c1"))
        try Syscall.makeDirectories(base + "/run/containers/c2/rootfs")
        #expect(store.names() == ["c1", "r1"])
        // Stopped: its record, without the init, stays in the run directory.
        try store.forgetInit("r1")
        #expect(store.load("r1") == run.stopped)
        #expect(!Syscall.exists(base + "/state/containers/r1"))
        #expect(!Syscall.exists(base + "/run/containers/r1/init"))
    }

    /// Observe's load leaves the record's networks out; a full load after
    /// it (teardown) is never served the record without them.
    @Test func aRecordLoadedWithoutItsNetworksIsNotServedToAFullLoad() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        var full = record("c1", hostname: "one")
        let spec = NetworkSpec(subnet: try CIDR(parsing: "10.9.0.0/24"))
        full.networks = [
            NetworkObject(metadata: ObjectMeta(name: "n1"), spec: spec.resolved(name: "n1"), source: SourceLocation(file: "f", line: 1, column: 1))
        ]
        try store.save(full)
        var partial = full
        partial.networks = nil
        #expect(store.load("c1", networks: false) == partial)
        #expect(store.load("c1") == full)
        // A full record kept serves observe as well.
        #expect(store.load("c1", networks: false) == full)
        #expect(store.load("c1") == full)
    }

    @Test func aNetworkRecordKeepsItsSpecAndAnOlderPlainRecordIsStillRead() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        // As berth wrote it before specs were kept: the bridge's name alone.
        try FileManager.default.createDirectory(atPath: store.networksDirectory, withIntermediateDirectories: true)
        try Syscall.writeAtomically(Array("br-front".utf8), to: store.networksDirectory + "/front")
        #expect(store.networkRecord("front") == NetworkRecord(bridge: "br-front"))
        #expect(store.recordedNetworks() == ["front": "br-front"])
        var spec = NetworkSpec(subnet: try CIDR(parsing: "10.88.0.0/24"))
        spec.mtu = 1400
        spec.isolated = true
        let record = NetworkRecord(bridge: "br-new", spec: spec.resolved(name: "front"), oldBridges: ["br-front"])
        try store.saveNetwork("front", record)
        #expect(store.networkRecord("front") == record)
        #expect(store.recordedNetworks() == ["front": "br-new"])
        // The bridges alone (the host check's) are read without the spec.
        #expect(store.networkRecord("front", withSpec: false) == NetworkRecord(bridge: "br-new", oldBridges: ["br-front"]))
        #expect(store.recordedBridges() == ["br-new", "br-front"])
        // recordNetwork (adoption) keeps what else the record holds.
        try store.recordNetwork("front", bridge: "br-new")
        #expect(store.networkRecord("front") == record)
        store.forgetNetwork("front")
        #expect(store.networkRecords().isEmpty)
    }

    /// A temp file a berth killed before its rename left in the networks
    /// directory holds a whole record: it is no network (read as one, a
    /// prune would delete the real network's bridge under its name), and
    /// the next write or removal of a record removes it.
    @Test func aLeftoverTempFileIsNoNetworkAndIsRemoved() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        try store.saveNetwork("kedge", NetworkRecord(bridge: "br-kedge"))
        let dead: pid_t = 4_194_304  // PID_MAX_LIMIT: no process has it
        let leftover = store.networksDirectory + "/kedge.tmp-\(dead)"
        try Syscall.writeAtomically(try RecordJSON.encode(NetworkRecord(bridge: "br-kedge")), to: leftover)
        #expect(store.recordedNetworks() == ["kedge": "br-kedge"])
        #expect(store.recordedBridges() == ["br-kedge"])
        store.forgetNetwork("kedge")
        #expect(store.networkRecords().isEmpty)
        #expect(!Syscall.exists(leftover))
        try Syscall.writeAtomically(try RecordJSON.encode(NetworkRecord(bridge: "br-kedge")), to: leftover)
        try store.saveNetwork("kfront", NetworkRecord(bridge: "br-kfront", oldBridges: ["br-old"]))
        #expect(!Syscall.exists(leftover))
        #expect(store.recordedBridges() == ["br-kfront", "br-old"])
    }

    /// A record written before networks were resolved once holds a spec
    /// with unset fields and no bridge: it reads back as the resolved
    /// manifest, so the planner sees no difference where there is none.
    @Test func anOlderNetworkRecordReadsBackAsTheResolvedManifest() throws {
        defer { try? Syscall.removeTree(base) }
        let store = self.store
        try FileManager.default.createDirectory(atPath: store.networksDirectory, withIntermediateDirectories: true)
        let old = #"{"bridge":"br-front","spec":{"subnet":"10.88.0.0/24","isolated":true}}"#
        try Syscall.writeAtomically(Array(old.utf8), to: store.networksDirectory + "/front")
        var manifest = NetworkSpec(subnet: try CIDR(parsing: "10.88.0.0/24"))
        manifest.isolated = true
        #expect(store.networkRecord("front")?.spec == manifest.resolved(name: "front"))
    }
}

extension StateStore {
    /// A state store under `base` (its state and run dirs), for tests without root.
    static func scratch(_ base: String) -> StateStore {
        StateStore(paths: RuntimePaths(stateDirectory: .init(base + "/state"), runDirectory: .init(base + "/run"), cgroupParent: "x"))
    }
}
