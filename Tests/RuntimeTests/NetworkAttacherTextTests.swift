@testable import Runtime
import Model
import Testing

/// The "networks attached" event lists the networks as printing the array
/// of their names did, without reflecting over the array.
@Suite struct NetworkAttacherTextTests {
    @Test(arguments: [[String](), ["one"], ["front", "back-2"]])
    func networksAreListedAsTheirArrayPrints(names: [String]) throws {
        let address = try CIDR(parsing: "10.0.0.2/24")
        let attachments = names.map { ContainerConfig.Attachment(network: $0, addresses: [address], interface: "eth0", defaultRoute: true) }
        #expect(NetworkAttacher.listed(attachments) == "\(names)")
    }
}
