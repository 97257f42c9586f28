import Testing

@testable import Kernel

/// Every conversion between the manifest's units and the kernel's has its
/// inverse; these are the round trips the planner relies on.
@Suite struct KernelUnitsTests {
    /// Every weight survives cpu.shares and back: a v1 host never shows a weight as drift.
    @Test func everyWeightSurvivesARoundTripThroughShares() {
        for weight in 1...10_000 {
            #expect(KernelUnits.weight(shares: KernelUnits.shares(weight: weight)) == weight)
        }
    }

    /// Every limit from 1m to 64 cores survives the trip through quota and period,
    /// and the quota and period are what the kernel accepts.
    @Test func everyCPULimitSurvivesARoundTripThroughQuotaAndPeriod() throws {
        for millicores in Array(UInt64(1)...2000) + [2500, 10_000, 64_000] {
            let max = try #require(KernelUnits.cpuMax(millicores: millicores))
            #expect(max.quota >= KernelUnits.minimumQuotaMicros, "\(millicores)m")
            #expect(max.period <= KernelUnits.maximumPeriodMicros && max.period >= 1000, "\(millicores)m")
            #expect(KernelUnits.millicores(quota: max.quota, period: max.period) == millicores, "\(millicores)m")
        }
    }

    @Test(arguments: [(UInt64(5), UInt64(1000), UInt64(200_000)), (1, 1000, 1_000_000), (10, 1000, 100_000), (1500, 150_000, 100_000)])
    func smallLimitsLengthenThePeriod(millicores: UInt64, quota: UInt64, period: UInt64) {
        #expect(KernelUnits.cpuMax(millicores: millicores)?.quota == quota)
        #expect(KernelUnits.cpuMax(millicores: millicores)?.period == period)
    }

    @Test func zeroAndHugeLimitsAreNoLimit() {
        #expect(KernelUnits.cpuMax(millicores: 0) == nil)
        #expect(KernelUnits.cpuMax(millicores: UInt64.max / 10) == nil)
    }

    /// blkio.weight is coarser than io.weight: the round trip is stable after one step.
    @Test func ioWeightThroughBlkioIsStableAfterOneTrip() {
        for weight in 1...10_000 {
            let once = KernelUnits.ioWeight(blkioWeight: KernelUnits.blkioWeight(weight))
            #expect(KernelUnits.ioWeight(blkioWeight: KernelUnits.blkioWeight(once)) == once)
        }
    }

    @Test(arguments: [UInt64(4096), 16384, 65536])
    func memoryRoundsDownToPagesAndPagesBackToBytes(pageSize: UInt64) {
        for bytes: UInt64 in [0, 1, pageSize - 1, pageSize, pageSize + 1, 64 << 20, (64 << 20) + 100] {
            let rounded = KernelUnits.pageRounded(bytes, pageSize: pageSize)
            #expect(rounded <= bytes && bytes - rounded < pageSize)
            #expect(KernelUnits.bytes(pages: KernelUnits.pages(bytes, pageSize: pageSize), pageSize: pageSize) == rounded)
        }
    }

    @Test func swapSurvivesMemswAndBack() {
        let memory: UInt64 = 128 << 20
        for swap: UInt64 in [0, 1 << 20, 1 << 30] {
            #expect(KernelUnits.swap(memsw: KernelUnits.memsw(memory: memory, swap: swap), memory: memory) == swap)
        }
        #expect(KernelUnits.memsw(memory: nil, swap: 1 << 20) == nil)
        #expect(KernelUnits.memsw(memory: UInt64.max, swap: 1) == nil)
    }
}
