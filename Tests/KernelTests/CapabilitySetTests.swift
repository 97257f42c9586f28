import Testing

@testable import Kernel

/// The default set is kept by number (kernel ABI); libcap must agree.
@Suite struct CapabilitySetTests {
    @Test(arguments: CapabilitySet.defaults.map(\.name)) func defaultNumbersAreLibcapsNumbers(_ name: String) throws {
        let number = try #require(CapabilitySet.defaults.first { $0.name == name }?.number)
        #expect(try CapabilitySet.number(of: name) == number)
    }

    @Test func addAndDropApplyToTheDefaults() throws {
        let defaults = try CapabilitySet.resolve(add: [], drop: [], privileged: false)
        #expect(defaults.mask & (1 << 21) == 0)  // CAP_SYS_ADMIN is not in it
        #expect(defaults.mask.nonzeroBitCount == CapabilitySet.defaults.count)
        let changed = try CapabilitySet.resolve(add: ["CAP_NET_ADMIN"], drop: ["CAP_KILL"], privileged: false)
        #expect(changed.mask == (defaults.mask | 1 << 12) & ~(1 << 5))
        #expect(try CapabilitySet.resolve(add: [], drop: ["ALL"], privileged: false).mask == 0)
    }
}
