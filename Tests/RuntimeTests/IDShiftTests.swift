import Model
import Testing

@testable import Runtime

@Suite struct IDShiftTests {
    let map = [IDRange(containerID: 0, hostID: 100_000, size: 1000), IDRange(containerID: 65534, hostID: 165_534, size: 1)]

    @Test func idsInsideARangeAreShifted() {
        #expect(IDShift.host(0, in: map) == 100_000)
        #expect(IDShift.host(999, in: map) == 100_999)
        #expect(IDShift.host(65534, in: map) == 165_534)
    }

    @Test func idsOutsideEveryRangeAreNotMapped() {
        #expect(IDShift.host(1000, in: map) == nil)
        #expect(IDShift.host(65535, in: map) == nil)
        #expect(IDShift.host(0, in: []) == nil)
    }

    @Test func unmappedOwnersBecomeTheMapsNobody() {
        let shift = IDShift(uidMap: map, gidMap: map)
        #expect(shift.uid(5000) == 165_534)
        #expect(IDShift(uidMap: [IDRange(containerID: 0, hostID: 100_000, size: 10)], gidMap: []).uid(50) == 65534)
    }

    @Test func aRangeEndingAtTheTopOfTheIDSpaceDoesNotOverflow() {
        let top = [IDRange(containerID: UInt32.max - 1, hostID: 10, size: 2)]
        #expect(IDShift.host(UInt32.max, in: top) == 11)
    }
}
