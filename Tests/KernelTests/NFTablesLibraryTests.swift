import Kernel
import Testing

/// libnftables is closed between uses (the agent between passes) and opened
/// again by the next context; never while a context lives. Lane 1 makes no
/// other context in this process; no command is run (that needs root).
@Suite(.serialized)
struct NFTablesLibraryTests {
    @Test func closedOnlyWhenNoContextLivesAndOpenedAgain() throws {
        do {
            let context = try NFTables()
            #expect(NFTables.isOpen)
            #expect(!NFTables.closeIdle(), "a context lives")
            #expect(NFTables.isOpen)
            withExtendedLifetime(context) {}
        }
        #expect(NFTables.closeIdle())
        #expect(!NFTables.isOpen)
        #expect(!NFTables.closeIdle(), "already closed")
        // Opened again, its functions looked up afresh.
        do {
            let context = try NFTables()
            #expect(NFTables.isOpen)
            withExtendedLifetime(context) {}
        }
        #expect(NFTables.closeIdle())
        #expect(!NFTables.isOpen)
    }
}
