import Testing

@testable import Runtime

/// The address berth gives a bridge it creates: the same for the same
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
}
