import Testing

@testable import Kernel

/// Which tables of a restored namespace are CRIU's network lock (left by
/// the dump: CRIU before 4.1 removes only the restore's own).
@Suite struct CRIUNetworkLockTests {
    @Test func findsCRIUsLockTablesInAListing() {
        let listing = "table inet berth\ntable inet CRIU-1234\ntable ip nat\ntable inet CRIU-5f3a9c\n"
        #expect(CRIUNetworkLock.lockTables(listing: listing) == ["inet CRIU-1234", "inet CRIU-5f3a9c"])
        #expect(
            CRIUNetworkLock.deleteCommands(CRIUNetworkLock.lockTables(listing: listing))
                == "delete table inet CRIU-1234\ndelete table inet CRIU-5f3a9c\n")
    }

    @Test(arguments: [
        "", "table inet berth\n", "table ip CRIU-12\n", "table inet CRIU-\n", "table inet CRIUX-1\n",
        "table inet CRIU-1;flush ruleset\n", "chain inet CRIU-1 input\n",
    ])
    func leavesEverythingElse(_ listing: String) {
        #expect(CRIUNetworkLock.lockTables(listing: listing).isEmpty)
        #expect(CRIUNetworkLock.deleteCommands([]) == "")
    }
}
