import Testing

@testable import Kernel

/// WorkerPool.map: every index's result once, in index order, whatever the
/// width and however the indices are split into runs.
@Suite struct WorkerPoolTests {
    @Test(arguments: [(0, 4), (1, 4), (3, 8), (10, 1), (300, 4), (1001, 3)])
    func mapGivesEachIndexsResultInIndexOrder(_ count: Int, _ width: Int) {
        let results = WorkerPool.map(count, width: width) { $0 * 2 }
        #expect(results == (0..<count).map { $0 * 2 })
    }
}
