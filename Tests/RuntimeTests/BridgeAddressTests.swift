import Testing

@testable import Runtime

/// The addresses berth gives a bridge it creates and a container's interfaces.
/// A bridge's: the same for the same
/// name (a bridge made again keeps its gateway MAC), locally administered
/// and unicast, and another for another name.
@Suite struct BridgeAddressTests {
    @Test func aBridgeAddressIsStableLocalAndUnicast() {
        let mac = NetworkAttacher.bridgeMAC("br-web")
        #expect(mac.count == 6)
        #expect(mac == NetworkAttacher.bridgeMAC("br-web"))
        #expect(mac[0] & 0x02 != 0)  // locally administered
        #expect(mac[0] & 0x01 == 0)  // unicast
        #expect(mac != NetworkAttacher.bridgeMAC("br-db"))
    }

    /// A container's interface: the same at every start of the container
    /// on that network, another for another container, network or berth
    /// instance (cgroup parent); locally administered and unicast.
    @Test func aContainersInterfaceAddressIsStablePerContainerNetworkAndInstance() {
        let mac = NetworkAttacher.containerMAC(cgroupParent: "berth", container: "web1", network: "front")
        #expect(mac.count == 6)
        #expect(mac == NetworkAttacher.containerMAC(cgroupParent: "berth", container: "web1", network: "front"))
        #expect(mac[0] & 0x02 != 0 && mac[0] & 0x01 == 0)
        #expect(mac != NetworkAttacher.containerMAC(cgroupParent: "berth", container: "web2", network: "front"))
        #expect(mac != NetworkAttacher.containerMAC(cgroupParent: "berth", container: "web1", network: "edge"))
        #expect(mac != NetworkAttacher.containerMAC(cgroupParent: "other", container: "web1", network: "front"))
        #expect(mac != NetworkAttacher.bridgeMAC("front"))
        // 1000 containers on one network: no two alike.
        let macs = Set((0..<1000).map { NetworkAttacher.containerMAC(cgroupParent: "berth", container: "s\($0)", network: "scale") })
        #expect(macs.count == 1000)
    }
}
