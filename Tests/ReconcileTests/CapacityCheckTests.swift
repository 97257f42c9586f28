import Model
import Testing

@testable import Reconcile

/// vzmemcheck and vzcpucheck for manifests: limits added up against the host.
@Suite struct CapacityCheckTests {
    let planner = PlannerTests()
    let host = HostCapacity(memoryBytes: 1 << 30, cpus: 2)

    func container(_ name: String, memory: UInt64? = nil, swap: UInt64? = nil, cpu: UInt64? = nil, state: DesiredRunState? = nil)
        -> ContainerObject
    {
        planner.container(name) { spec in
            var resources = ResourcesSpec()
            if let memory { resources.memory = MemorySpec(max: ByteSize(bytes: memory), swap: swap.map { ByteSize(bytes: $0) }) }
            if let cpu { resources.cpu = CPUSpec(limit: CPUQuantity(millicores: cpu)) }
            spec.resources = resources
            spec.state = state
        }
    }

    @Test func withinTheRatiosNothingIsSaid() {
        let desired = planner.host([container("a", memory: 512 << 20, cpu: 1000), container("b", memory: 512 << 20, cpu: 1000)])
        #expect(CapacityCheck.warnings(desired, host: host, ratios: OvercommitRatios(memory: 1, cpu: 1)).isEmpty)
    }

    @Test func memoryPastTheRatioNamesTheLargestConsumers() throws {
        let desired = planner.host([
            container("small", memory: 128 << 20), container("big", memory: 768 << 20), container("mid", memory: 256 << 20, swap: 128 << 20),
            container("tiny", memory: 64 << 20), container("free"), container("off", memory: 8 << 30, state: .stopped),
        ])
        let warnings = CapacityCheck.warnings(desired, host: host, ratios: OvercommitRatios(memory: 1, cpu: 4))
        let warning = try #require(warnings.first)
        #expect(warnings.count == 1)
        #expect(warning.resource == .memory)
        #expect(warning.committed == Double((768 + 384 + 128 + 64) << 20))
        #expect(warning.largest.map(\.name) == ["big", "mid", "small"])
        #expect(warning.unlimited == ["free"])
        #expect(
            warning.description
                == "memory overcommitted: the containers' limits add up to 1344Mi, 1.31× the host's 1Gi (allowed: 1×); "
                + "largest: big 768Mi, mid 384Mi, small 128Mi; without a limit (not counted): free")
        // A host's MemTotal is rarely round: to a tenth of a Gi (or Mi).
        var odd = warning
        odd.capacity = Double(24_683_792 << 10)
        #expect(odd.capacityText == "23.5Gi")
        odd.capacity = Double(1536 << 20)
        #expect(odd.capacityText == "1.5Gi")
        odd.capacity = Double(700 << 20)
        #expect(odd.capacityText == "700Mi")
        // A ratio of 1.5 allows it.
        #expect(CapacityCheck.warnings(desired, host: host, ratios: OvercommitRatios(memory: 1.5, cpu: 4)).isEmpty)
    }

    @Test func cpuLimitsPastTheRatio() throws {
        let desired = planner.host([container("a", cpu: 1500), container("b", cpu: 1500), container("c", cpu: 500)])
        let warning = try #require(CapacityCheck.warnings(desired, host: host, ratios: OvercommitRatios(memory: 1, cpu: 1.5)).first)
        #expect(warning.resource == .cpu)
        #expect(warning.description.hasPrefix("CPU overcommitted: the containers' limits add up to 3500m, 1.75× the host's 2 (allowed: 1.5×)"))
        #expect(warning.largest.map(\.name) == ["a", "b", "c"])
    }

    @Test(arguments: [
        ("memory=1.5,cpu=4", OvercommitRatios(memory: 1.5, cpu: 4)), ("cpu=8", OvercommitRatios(memory: 1, cpu: 8)),
        ("memory=0.9", OvercommitRatios(memory: 0.9, cpu: 4)),
    ])
    func ratiosParse(text: String, ratios: OvercommitRatios) throws {
        #expect(try OvercommitRatios(parsing: text) == ratios)
    }

    @Test(arguments: ["memory", "memory=0", "memory=-1", "disk=2", "memory=x", "memory=inf", ""])
    func badRatiosAreRefused(text: String) {
        #expect(throws: ValueError.self) { try OvercommitRatios(parsing: text) }
    }

    /// The agent checks on every pass: one event when the host becomes
    /// overcommitted, one all-clear when it no longer is, none in between.
    @Test func theAgentsAlarmSaysEachChangeOnce() {
        let ratios = OvercommitRatios(memory: 1, cpu: 1)
        let within = planner.host([container("a", memory: 512 << 20, cpu: 1000)])
        let memoryOver = planner.host([container("a", memory: 768 << 20, cpu: 1000), container("b", memory: 512 << 20)])
        let bothOver = planner.host([container("a", memory: 768 << 20, cpu: 2000), container("b", memory: 512 << 20, cpu: 500)])
        var alarm = OvercommitAlarm()
        func pass(_ desired: DesiredHost) -> [OvercommitAlarm.Change] {
            alarm.update(CapacityCheck.warnings(desired, host: host, ratios: ratios), ratios: ratios)
        }
        #expect(pass(within).isEmpty)
        let memory = CapacityCheck.warnings(memoryOver, host: host, ratios: ratios)
        #expect(pass(memoryOver) == memory.map { .overcommitted($0) })
        #expect(pass(memoryOver).isEmpty)
        // Still overcommitted, by more, and now CPU too: only CPU is news.
        let changes = pass(bothOver)
        #expect(changes.count == 1)
        guard case .overcommitted(let warning)? = changes.first else {
            Issue.record("expected CPU overcommitted, got \(changes)")
            return
        }
        #expect(warning.resource == .cpu && warning.largest.map(\.name) == ["a", "b"])
        #expect(pass(bothOver).isEmpty)
        #expect(alarm.reported == [.memory, .cpu])
        #expect(pass(within) == [.cleared(.memory, allowedRatio: 1), .cleared(.cpu, allowedRatio: 1)])
        #expect(pass(within).isEmpty)
        #expect(alarm.reported.isEmpty)
    }
}
