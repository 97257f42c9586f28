import CLinux
import Foundation
import Kernel
import Model
import Netlink
import Runtime
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A network's table is listed (libnftables) only when the kernel's ruleset
/// moved on since berth listed it at apply: any committed change to any
/// table does, so a change behind berth's back is still seen, and an
/// unrelated one is listed and found no drift. Each test's kernel work runs
/// on a thread of its own in a network namespace of its own, where no other
/// suite's commits move the generation.
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct RulesetGenerationTests {
    /// What a step saw: the differences, and how many listings it took.
    struct Step: Sendable {
        var differences: [NetworkRuleset.Difference]
        var listings: Int
        /// A listing found as recorded, for apply to record.
        var confirmation: NetworkRuleset.Confirmation?
    }

    /// `body` on a thread of its own in a network namespace of the test's
    /// own (`ip netns add`, deleted after; the thread joins it through the
    /// shim's berth_in_netns); its steps, for the test's thread to check.
    func inOwnNetworkNamespace(state: StateStore, _ body: @escaping @Sendable (_ step: (NetworkRuleset) -> Step) throws -> Void) throws
        -> [Step]
    {
        let name = "berth-generation-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = try Spawn.run(["/usr/sbin/ip", "netns", "add", name])
        defer { _ = try? Spawn.run(["/usr/sbin/ip", "netns", "del", name]) }
        let namespace = try Syscall.open("/run/netns/" + name, O_RDONLY)
        defer { Syscall.close(namespace) }
        let steps = Mutex<[Step]>([])
        let failure = Mutex<String?>(nil)
        final class Job: Sendable {
            let run: @Sendable () -> Void
            init(_ run: @escaping @Sendable () -> Void) { self.run = run }
        }
        let job = Job {
            do {
                try body { ruleset in
                    var listings = 0
                    let observation = ruleset.observe(state: state) {
                        listings += 1
                        return try NFTables()
                    }
                    let step = Step(differences: observation.differences, listings: listings, confirmation: observation.confirmation)
                    steps.withLock { $0.append(step) }
                    return step
                }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
        }
        let joined = withExtendedLifetime(job) {
            berth_in_netns(
                namespace,
                { argument in
                    guard let argument else { return }
                    Unmanaged<Job>.fromOpaque(argument).takeUnretainedValue().run()
                }, Unmanaged.passUnretained(job).toOpaque())
        }
        #expect(joined == 0, "joined the namespace")
        if let failure = failure.withLock({ $0 }) { Issue.record(Comment(rawValue: failure)) }
        return steps.withLock { $0 }
    }

    static func ruleset(_ name: String, _ subnet: String) throws -> NetworkRuleset {
        var spec = NetworkSpec(subnet: try CIDR(parsing: subnet))
        spec.bridge = "br-" + name
        let network = NetworkObject(
            metadata: ObjectMeta(name: name), spec: spec.resolved(name: name), source: SourceLocation(file: "t", line: 1, column: 1))
        return NetworkRuleset(table: "berth_test-" + name, network: network, reached: [], containers: [])
    }

    @Test func anUnchangedRulesetIsNotListedAgainAndEveryChangeIsSeen() throws {
        let ruleset = try RulesetGenerationTests.ruleset("gen", "10.93.0.0/24")
        let recorded = Mutex<String?>(nil)
        let bootID = HostIdentity.bootID
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let state = host.runtime.state
        let recordFile = host.root + "/state/rulesets/gen"
        let steps = try inOwnNetworkNamespace(state: state) { step in
            try ruleset.apply(state: state)
            // The record holds where the ruleset stood when its chains were listed: now.
            let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: recordFile)))
            recorded.withLock { $0 = (record as? [String: Any])?["generation"] as? String }
            _ = step(ruleset)  // nothing changed
            try NFTables().run("add table inet berth_gen_other\ndelete table inet berth_gen_other\n")
            _ = step(ruleset)  // another table made and deleted
            try NFTables().run("add chain inet \(ruleset.table) extra { type filter hook forward priority -5; policy accept; }\n")
            _ = step(ruleset)  // a chain added behind berth's back
            try ruleset.apply(state: state)
            _ = step(ruleset)  // applied again
        }
        let generation = try #require(recorded.withLock { $0 })
        #expect(generation.split(separator: " ").count == 3, "\(generation)")
        #expect(generation.hasPrefix(try #require(bootID)))
        try #require(steps.count == 4)
        // Nothing changed: no listing, no difference.
        #expect(steps[0].differences == [] && steps[0].listings == 0)
        // The ruleset moved on: listed, and no drift.
        #expect(steps[1].differences == [] && steps[1].listings == 1)
        // A chain added: listed, and drift.
        #expect(steps[2].listings == 1)
        #expect(steps[2].differences.contains { $0.drift && $0.observed == "chain extra added" }, "\(steps[2].differences)")
        // Applied again: recorded at the new generation, and not listed again.
        #expect(steps[3].differences == [] && steps[3].listings == 0)
    }

    /// Two networks applied one after the other (the example's): the second
    /// one's commit, the only one since the first was listed, carries the
    /// first's record over; any other commit between leaves it to be listed.
    @Test func aNetworkAppliedJustAfterAnotherCarriesItsRecordOver() throws {
        let first = try RulesetGenerationTests.ruleset("gena", "10.94.0.0/24")
        let second = try RulesetGenerationTests.ruleset("genb", "10.95.0.0/24")
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let state = host.runtime.state
        let steps = try inOwnNetworkNamespace(state: state) { step in
            try first.apply(state: state)
            try second.apply(state: state)
            _ = step(first)
            _ = step(second)
            // A commit of someone else's between the two.
            try first.apply(state: state)
            try NFTables().run("add table inet berth_gen_other\ndelete table inet berth_gen_other\n")
            try second.apply(state: state)
            _ = step(second)
            _ = step(first)
        }
        try #require(steps.count == 4)
        #expect(steps.allSatisfy { $0.differences == [] }, "\(steps.map(\.differences))")
        #expect(steps[0].listings == 0, "the first network's record was carried over")
        #expect(steps[1].listings == 0 && steps[2].listings == 0)
        #expect(steps[3].listings == 1, "the first network's record was not carried over a commit berth did not make")
    }

    /// A commit of someone else's (another program's table) moves the
    /// generation on: the next observe lists the table and finds it as
    /// recorded. Once apply records that listing's generation, the observe
    /// after it lists nothing; until then (plan, drift) every observe lists
    /// it. A record rewritten since the listing is left as it is.
    @Test func aListingFoundUnchangedIsRecordedAtItsGenerationAndNotMadeAgain() throws {
        let ruleset = try RulesetGenerationTests.ruleset("genc", "10.96.0.0/24")
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        let state = host.runtime.state
        let steps = try inOwnNetworkNamespace(state: state) { step in
            try ruleset.apply(state: state)
            try NFTables().run("add table inet berth_gen_other\ndelete table inet berth_gen_other\n")
            _ = step(ruleset)  // listed, found as recorded
            let listed = step(ruleset)  // nothing recorded it: listed again
            if let confirmation = listed.confirmation { NetworkRuleset.confirm(confirmation, state: state) }
            _ = step(ruleset)  // recorded: not listed
            try NFTables().run("add table inet berth_gen_other\ndelete table inet berth_gen_other\n")
            let stale = step(ruleset)
            try ruleset.apply(state: state)  // the record is rewritten after that listing
            if let confirmation = stale.confirmation { NetworkRuleset.confirm(confirmation, state: state) }
            _ = step(ruleset)  // the apply's own record stands: not listed
        }
        try #require(steps.count == 5)
        #expect(steps.allSatisfy { $0.differences == [] }, "\(steps.map(\.differences))")
        #expect(steps[0].listings == 1 && steps[0].confirmation != nil)
        #expect(steps[1].listings == 1 && steps[1].confirmation != nil)
        #expect(steps[2].listings == 0 && steps[2].confirmation == nil)
        #expect(steps[3].listings == 1 && steps[3].confirmation != nil)
        #expect(steps[4].listings == 0, "a confirmation older than the record was not written over it")
    }

    /// The same through the CLI, as a user meets it on a host where another
    /// program commits a table: `plan` and `drift` leave the network's
    /// record as it is; `apply`, with nothing to change, records where the
    /// ruleset stands (the namespace's current generation), so that the
    /// next command lists nothing.
    @Test func applyWithNothingToChangeRecordsWhereTheRulesetStands() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        try FileManager.default.createDirectory(atPath: host.root, withIntermediateDirectories: true)
        let manifest = host.root + "/net.yaml"
        try """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: gend}
        spec: {subnet: 10.98.0.0/24, bridge: br-gend}

        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        let recordFile = host.root + "/state/rulesets/gend"
        let global = ReconcileCLITests.global(host)
        @Sendable func recorded() -> String? {
            let record = (try? Data(contentsOf: URL(fileURLWithPath: recordFile))).flatMap { try? JSONSerialization.jsonObject(with: $0) }
            return (record as? [String: Any])?["generation"] as? String
        }
        let seen = Mutex<[String?]>([])
        let outputs = Mutex<[String]>([])
        _ = try inOwnNetworkNamespace(state: host.runtime.state) { _ in
            // Spawned from this thread: in its namespace.
            func berth(_ command: String) throws {
                let result = try Spawn.run(
                    [ContainerCLITests.binary, command] + global + [manifest], mergingStandardError: true)
                outputs.withLock { $0.append("\(command): \(result.status) \(String(decoding: result.output, as: UTF8.self))") }
            }
            func current() -> String? { RulesetGenerationTests.currentGeneration() }
            try berth("apply")
            let applied = recorded()
            try NFTables().run("add table inet berth_gen_other\ndelete table inet berth_gen_other\n")
            let moved = current()
            try berth("plan")
            try berth("drift")
            let afterReads = recorded()
            try berth("apply")
            seen.withLock { $0 = [applied, moved, afterReads, recorded(), current()] }
        }
        let values = seen.withLock { $0 }
        try #require(values.count == 5, "\(outputs.withLock { $0 })")
        let (applied, moved, afterReads, afterApply, now) = (values[0], values[1], values[2], values[3], values[4])
        #expect(applied != nil && moved != nil && applied != moved, "\(values)")
        #expect(afterReads == applied, "plan and drift wrote nothing")
        #expect(afterApply == moved && afterApply == now, "\(values) \(outputs.withLock { $0 })")
        #expect(outputs.withLock { $0 }.last?.contains("No changes") == true, "\(outputs.withLock { $0 })")
    }

    /// The generation of the calling thread's network namespace, as a record keeps it.
    static func currentGeneration() -> String? {
        guard let boot = HostIdentity.bootID, let current = NFTablesNetlink.generation(networkNamespaceFD: nil) else { return nil }
        return "\(boot) \(current.namespaceCookie) \(current.id)"
    }
}
