import Synchronization
import Testing

@testable import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// A job on a thread of its own (a new container's record synced while it
/// starts): `wait` returns once it ran, on another thread, and rethrows.
@Suite struct BackgroundThreadTests {
    struct Failed: Error, Equatable {}

    @Test func runsTheJobOnAnotherThreadAndWaitsForIt() throws {
        let ran = Mutex<pthread_t?>(nil)
        let job = BackgroundThread { ran.withLock { $0 = pthread_self() } }
        try job.wait()
        let thread = try #require(ran.withLock { $0 })
        #expect(pthread_equal(thread, pthread_self()) == 0)
        try job.wait()  // a second wait returns at once
    }

    @Test func waitThrowsWhatTheJobThrew() {
        let job = BackgroundThread { throw Failed() }
        #expect(throws: Failed.self) { try job.wait() }
        #expect(throws: Failed.self) { try job.wait() }
    }
}
