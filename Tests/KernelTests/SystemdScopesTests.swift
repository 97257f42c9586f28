import Foundation
import Testing

@testable import Kernel

/// The systemd cgroup driver's calls on systemd's manager: the scope checked
/// before any bus is opened, and each call as it goes on the wire (a private
/// bus without systemd: ServiceUnknown). In MachinedTests' serialized suite:
/// both point DBUS_SYSTEM_BUS_ADDRESS at their own bus.
extension MachinedTests {
    @Test func aScopeIsDelegatedInItsSliceWithTheWeightsOrSystemdsDefault() throws {
        let scope = try #require(
            TransientScope(unit: "berth-web1.scope", slice: "berth.slice", description: "d", pid: 42, cpuWeight: 300, ioWeight: nil))
        #expect(scope.cpuWeight == 300 && scope.ioWeight == UInt64.max && scope.pid == 42)
        #expect(TransientScope(unit: "berth-web1.service", slice: "berth.slice", description: "", pid: 42, cpuWeight: nil, ioWeight: nil) == nil)
        #expect(TransientScope(unit: "berth-web1.scope", slice: "berth", description: "", pid: 42, cpuWeight: nil, ioWeight: nil) == nil)
        #expect(TransientScope(unit: "a/b.scope", slice: "berth.slice", description: "", pid: 42, cpuWeight: nil, ioWeight: nil) == nil)
        #expect(TransientScope(unit: "berth-web1.scope", slice: "berth.slice", description: "", pid: 0, cpuWeight: nil, ioWeight: nil) == nil)
        #expect(TransientScope(unit: "berth-web1.scope", slice: "berth.slice", description: "", pid: 42, cpuWeight: 0, ioWeight: nil) == nil)
        #expect(TransientScope(unit: "berth-web1.scope", slice: "berth.slice", description: "", pid: 42, cpuWeight: nil, ioWeight: 10001) == nil)
    }

    @Test(.enabled(if: PrivateBus.isAvailable, "needs dbus-daemon and dbus-monitor"))
    func theScopeCallsGoOnTheWireWithTheirProperties() throws {
        let bus = try PrivateBus()
        defer { bus.tearDown() }
        let scope = try #require(
            TransientScope(
                unit: "berth-web1.scope", slice: "berth.slice", description: "berth container web1", pid: 4242, cpuWeight: 300, ioWeight: nil))
        #expect(throws: Machined.Failure.self) { try SystemdScopes.start(scope) }
        #expect(throws: Machined.Failure.self) { try SystemdScopes.setWeights("berth-web1.scope", cpu: 700, io: 50) }
        #expect(throws: Machined.Failure.self) { try SystemdScopes.managerCgroup() }
        // No manager on this bus (the daemon fails to activate one): an error, not NoSuchUnit.
        #expect(throws: Machined.Failure.self) { try SystemdScopes.stop("berth-web1.scope") }
        let seen = bus.seen(until: "member=StopUnit")
        #expect(seen.contains("destination=org.freedesktop.systemd1"))
        #expect(seen.contains("interface=org.freedesktop.systemd1.Manager"))
        let start = try #require(bus.call("StartTransientUnit", in: seen), "\(seen)")
        for property in [
            #"string "berth-web1.scope" string "fail" array ["#, #"string "Description" variant string "berth container web1""#,
            #"string "Slice" variant string "berth.slice""#, #"string "Delegate" variant boolean true"#,
            #"string "TasksMax" variant uint64 18446744073709551615"#, #"string "CollectMode" variant string "inactive-or-failed""#,
            #"string "PIDs" variant array [ uint32 4242 ]"#, #"string "CPUWeight" variant uint64 300"#,
            #"string "IOWeight" variant uint64 18446744073709551615"#,
        ] {
            #expect(start.contains(property), "\(start)")
        }
        #expect(start.hasSuffix("] array [ ]"), "no auxiliary units: \(start)")
        let set = try #require(bus.call("SetUnitProperties", in: seen), "\(seen)")
        #expect(
            set
                == #"string "berth-web1.scope" boolean true array [ struct { string "CPUWeight" variant uint64 700 } struct { string "IOWeight" variant uint64 50 } ]"#,
            "\(set)")
        #expect(bus.call("Get", in: seen) == #"string "org.freedesktop.systemd1.Manager" string "ControlGroup""#)
        #expect(bus.call("StopUnit", in: seen) == #"string "berth-web1.scope" string "replace""#)
    }
}
