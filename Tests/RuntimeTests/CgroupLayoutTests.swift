import FoundationEssentials
import Kernel
import Testing

@testable import Runtime

/// Where each cgroup manager puts a container's cgroup, and records written
/// before the systemd driver.
@Suite struct CgroupLayoutTests {
    @Test func cgroupfsKeepsTheParentAndName() throws {
        let layout = try CgroupLayout(manager: .cgroupfs, parent: "berth")
        #expect(try layout.group("web1").description == "berth/web1")
        #expect(try layout.containersParent().description == "berth")
        #expect(layout.scope("web1") == nil && layout.slice == nil)
        #expect(layout.containerName(child: "web1") == "web1")
        // A deleted container's cgroup set aside (CgroupTrash) is no container.
        #expect(layout.containerName(child: CgroupTrash.entryName(container: "web1", unique: "1-2a-3")) == nil)
        // A nested parent, as tests and several instances use.
        #expect(try CgroupLayout(manager: .cgroupfs, parent: "berth-test/run1").group("a").description == "berth-test/run1/a")
    }

    @Test func systemdPutsThePayloadInAScopeOfTheParentsSlice() throws {
        let layout = try CgroupLayout(manager: .systemd, parent: "berth")
        #expect(layout.slice == "berth.slice")
        #expect(layout.scope("web1") == "berth-web1.scope")
        #expect(try layout.group("web1").description == "berth.slice/berth-web1.scope/payload")
        #expect(try layout.containersParent().description == "berth.slice")
        // A dashed container name is one scope (scopes do not nest).
        #expect(try layout.group("web-1").description == "berth.slice/berth-web-1.scope/payload")
        #expect(layout.containerName(child: "berth-web-1.scope") == "web-1")
        #expect(layout.containerName(child: "other-web1.scope") == nil)
        #expect(layout.containerName(child: "berth-.scope") == nil)
        #expect(layout.containerName(child: "berth-web1.service") == nil)
    }

    @Test func aDashedParentIsANestedSliceAsSystemdMakesIt() throws {
        let layout = try CgroupLayout(manager: .systemd, parent: "berth-test_2")
        #expect(layout.slice == "berth-test_2.slice")
        #expect(try layout.group("c").description == "berth.slice/berth-test_2.slice/berth-test_2-c.scope/payload")
        #expect(layout.containerName(child: "berth-test_2-c.scope") == "c")
    }

    @Test func aUserManagersSlicesAreInItsOwnCgroup() throws {
        let layout = try CgroupLayout(manager: .systemd, parent: "berth", root: "berth-test-1.slice")
        #expect(try layout.group("c").description == "berth-test-1.slice/berth.slice/berth-c.scope/payload")
        #expect(try layout.containersParent().description == "berth-test-1.slice/berth.slice")
    }

    @Test(arguments: ["berth/x", "-berth", "berth-", "a--b", "", "a.b", "a b"])
    func aParentThatNamesNoSliceIsRefusedNamingTheFlag(_ parent: String) {
        #expect(throws: CgroupLayout.LayoutError.self) { try CgroupLayout(manager: .systemd, parent: parent) }
        do {
            _ = try CgroupLayout(manager: .systemd, parent: parent)
        } catch {
            #expect(error.description.contains("--cgroup-parent") && error.description.contains("--cgroup-driver systemd"))
        }
        // The same parent is fine with cgroupfs where it is a cgroup path.
        if parent == "berth/x" { #expect(throws: Never.self) { try CgroupLayout(manager: .cgroupfs, parent: parent) } }
    }

    @Test func aRecordFromBeforeTheDriverReadsAsCgroupfs() throws {
        // container.json as berth wrote it before records had a scope.
        let old = """
            {"cgroup": "berth/web1", "keepPrivateLayer": false, "lower": "/l", "name": "web1", "rootfs": "/r", "upper": "/u", "work": "/w"}
            """
        let record = try JSONDecoder().decode(ContainerRecord.self, from: Data(old.utf8))
        #expect(record.cgroup == "berth/web1" && record.scope == nil)
        var scoped = record
        scoped.cgroup = "berth.slice/berth-web1.scope/payload"
        scoped.scope = "berth-web1.scope"
        let again = try JSONDecoder().decode(ContainerRecord.self, from: Data(try RecordJSON.encode(scoped)))
        #expect(again == scoped)
    }

    @Test func theManagerIsTheRuntimePathsAndDefaultsToCgroupfs() throws {
        var paths = RuntimePaths(cgroupParent: "berth")
        #expect(try paths.cgroupLayout().group("a").description == "berth/a")
        paths.cgroupManager = .systemd
        #expect(try paths.cgroupLayout().group("a").description == "berth.slice/berth-a.scope/payload")
    }
}
