import Kernel
import Manifest
import Model
import Testing

@testable import Engine
@testable import Netlink

/// A network's subnet against the host's own addresses and routes (berth's
/// bridges already left out by `hostPrefixes`).
@Suite struct HostSubnetTests {
    func network(_ name: String, _ subnet: String, ipv6: String? = nil) throws -> NetworkObject {
        var spec = NetworkSpec(subnet: try CIDR(parsing: subnet))
        spec.ipv6 = try ipv6.map { IPv6Subnet(subnet: try CIDR(parsing: $0)) }
        return NetworkObject(metadata: ObjectMeta(name: name), spec: spec.resolved(name: name), source: SourceLocation(file: "t", line: 1, column: 1))
    }

    @Test func subnetOverlappingAHostAddressOrRouteIsNamedWithTheInterface() throws {
        let prefixes = [
            HostPrefix(try CIDR(parsing: "192.168.1.20/24"), interface: "eth0", isRoute: false),
            HostPrefix(try CIDR(parsing: "10.0.0.0/8"), interface: "wg0", isRoute: true),
            HostPrefix(try CIDR(parsing: "fd00:1::5/64"), interface: "eth0", isRoute: false),
        ]
        let desired = DesiredHost(
            host: HostFacts(name: "h"),
            networks: [
                try network("lan", "192.168.1.0/25"), try network("vpn", "10.88.0.0/24"),
                try network("free", "172.20.0.0/24", ipv6: "fd00:1::/48"), try network("ok", "172.21.0.0/24", ipv6: "fd00:2::/64"),
            ], containers: [])
        let problems = HostCheck.subnetProblems(desired, prefixes: prefixes).map { "\($0.0.metadata.name) \($0.1) \($0.2)" }
        #expect(
            problems == [
                "lan spec.subnet subnet 192.168.1.0/25 overlaps address 192.168.1.20/24 of the host's interface eth0",
                "vpn spec.subnet subnet 10.88.0.0/24 overlaps a route to 10.0.0.0/8 of the host's interface wg0",
                "free spec.ipv6.subnet subnet fd00:1::/48 overlaps address fd00:1::5/64 of the host's interface eth0",
            ])
    }
}

/// Which of the host's links are berth's own bridges, left out of the
/// host-subnet check: marked with this instance's alias, or recorded in its
/// state dir (a berth killed between the create and the alias leaves a
/// recorded bridge without it).
@Suite struct OwnBridgeTests {
    @Test func aBridgeIsOursByItsAliasOrByItsRecord() {
        func link(_ index: Int32, _ name: String, kind: String?, alias: String? = nil) -> Link {
            Link(index: index, name: name, flags: 0, kind: kind, alias: alias)
        }
        let links = [
            link(1, "eth0", kind: nil),
            link(2, "br-kfront", kind: "bridge"),  // recorded, not marked yet
            link(3, "br-marked", kind: "bridge", alias: "berth:berth.slice:kedge"),  // record lost
            link(4, "br-other", kind: "bridge", alias: "berth:other.slice:kedge"),  // another instance's
            link(5, "br-foreign", kind: "bridge"),
            link(6, "br-mv", kind: "veth"),  // a macvlan network's gateway end, recorded
            link(7, "br-old", kind: "dummy"),  // a record's name, but neither
        ]
        let ours = HostCheck.ownBridges(links, cgroupParent: "berth.slice", recordedBridges: ["br-kfront", "br-mv", "br-old"])
        #expect(ours == [2, 3, 6])
    }
}

/// Without LXCFS, the note names the containers whose /proc is the host's:
/// a few, then how many more (a fleet's thousand names would fill a screen).
@Suite struct ProcNoteTests {
    func containers(_ count: Int) -> DesiredHost {
        let objects = (1...count).map { index in
            let name = "c\(index)"
            var spec = ContainerSpec()
            spec.rootfs = RootfsSpec(source: .template("busybox"))
            return ContainerObject(
                metadata: ObjectMeta(name: name), spec: spec.resolved(name: name, defaultRootfs: .template("busybox")),
                source: SourceLocation(file: "t", line: 1, column: 1))
        }
        return DesiredHost(host: HostFacts(name: "h"), networks: [], containers: objects)
    }

    @Test func theNoteNamesAFewContainersAndCountsTheRest() {
        let lxcfs = LXCFS(directory: "/nonexistent/lxcfs")
        let few = HostCheck.procProblems(containers(2), lxcfs: lxcfs, locator: FieldLocator(documents: [])).notes
        #expect(few.count == 1 && few[0].contains("/proc of c1, c2 shows the host's memory"), "\(few)")
        let fleet = HostCheck.procProblems(containers(1000), lxcfs: lxcfs, locator: FieldLocator(documents: [])).notes
        #expect(fleet.count == 1 && fleet[0].contains("/proc of c1, c2, c3 and 997 more shows the host's memory"), "\(fleet)")
    }
}
