import FoundationEssentials
import Manifest
import Model
import Testing

@testable import Runtime

/// container.json's encoder: whatever it writes, JSONDecoder reads back as
/// the same record, and it reads as JSONEncoder's output does.
@Suite struct RecordJSONTests {
    /// A record holding every field of every kind (the manifest corpus's
    /// every-field.yaml, resolved), as a started container's would.
    static func fullRecord() throws -> ContainerRecord {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ManifestTests/Corpus/valid/every-field.yaml")
        let decoded = ManifestLoader.decode(try Data(contentsOf: file), file: "every-field.yaml")
        #expect(decoded.errors.isEmpty)
        let host = HostFacts(name: "node1", labels: ["role": "web"])
        let (desired, errors) = ManifestSet(documents: decoded.documents).resolve(for: host)
        #expect(errors.isEmpty)
        let container = try #require(desired.containers.first)
        var record = ContainerRecord(
            name: container.metadata.name, pid: 4242, startTime: 1_234_567, cgroup: "berth/full", rootfs: "/run/berth/full/rootfs",
            lower: "/var/lib/berth/templates/busybox", upper: "/u", work: "/w", keepPrivateLayer: true)
        record.privateLayerInMemory = false
        record.capabilities = 0xa80_425fb
        record.noNewPrivileges = true
        record.seccomp = true
        record.environment = ["PATH=/bin", "QUOTE=\"x\" \\ tab\there\nnew line", "UNICODE=été 🚢", "CONTROL=\u{01}\u{1f}"]
        record.ipv6 = true
        record.firewallFingerprint = "table inet berth {\n\tchain input { }\n}"
        record.firewallGeneration = "5448d7ba-d3bd-4482-b669-4522437cf47e 835293 3"
        record.connectionLimitGeneration = "5448d7ba-d3bd-4482-b669-4522437cf47e 835293 2"
        record.spec = container.spec
        record.networks = desired.networks
        record.foregroundOwner = [UInt64.max, 0]
        record.scope = "berth-full.scope"
        return record
    }

    @Test func everyFieldReadsBackAsItWasAndAsJSONEncodersOutputDoes() throws {
        let record = try RecordJSONTests.fullRecord()
        #expect(record.spec?.resources != nil && record.spec?.firewall != nil && record.networks?.isEmpty == false)
        let bytes = try RecordJSON.encode(record)
        let ours = try JSONDecoder().decode(ContainerRecord.self, from: Data(bytes))
        #expect(ours == record)
        let foundation = try JSONDecoder().decode(ContainerRecord.self, from: JSONEncoder().encode(record))
        #expect(ours == foundation)
        // Deterministic (container.json is compared before it is rewritten).
        #expect(try RecordJSON.encode(record) == bytes)
    }

    @Test func layoutIsSortedIndentedAndEscaped() throws {
        struct Sample: Encodable {
            var zeta = 1
            var alpha: [String] = ["a\"b", "c\\d", "\u{7}"]
            var empty: [Int] = []
            var none: Int? = nil
            var nested = ["k": -2.5]
            var flag = false
        }
        let text = String(decoding: try RecordJSON.encode(Sample()), as: UTF8.self)
        #expect(
            text == """
                {
                  "alpha" : [
                    "a\\"b",
                    "c\\\\d",
                    "\\u0007"
                  ],
                  "empty" : [],
                  "flag" : false,
                  "nested" : {
                    "k" : -2.5
                  },
                  "zeta" : 1
                }

                """)
    }

    /// The field-by-field writer (StateStore's) writes the Codable path's
    /// bytes: for a record with every field set (a field added to the
    /// record and not to the writer fails here), with none of the optional
    /// ones, and with empty lists.
    @Test func theRecordWriterWritesTheCodableBytes() throws {
        var full = try RecordReaderTests.everyMember()
        // Labels whose text the writer escapes.
        full.labels = ["role": "web", "tier\"q": "été"]
        full.spec?.procVirtualize = true
        // The resources every-field.yaml leaves out (a host-dependent disk,
        // the beancounters), and every member of each io limit.
        full.spec?.resources.disk = DiskSpec(size: ByteSize(bytes: 1 << 30), inodes: 100_000, userQuota: true)
        full.spec?.resources.numtcpsock = 64
        full.spec?.resources.numpty = 8
        full.spec?.resources.numfile = 4096
        var limit = IODeviceLimit(device: "8:0")
        limit.readBytesPerSecond = ByteSize(bytes: 1_048_576)
        limit.writeBytesPerSecond = ByteSize(bytes: 2_097_152)
        limit.readIOPS = UInt64.max
        limit.writeIOPS = 1
        full.spec?.resources.io?.limits?.append(limit)
        full.spec?.resources.io?.limits?.removeAll { $0.readBytesPerSecond == nil || $0.writeIOPS == nil }
        // Every field set, and every member of the spec and of those of
        // its members the writer writes itself.
        func unset(_ value: Any) -> [String] {
            Mirror(reflecting: value).children.compactMap { child in
                (child.value as? any OptionalValue)?.isNone == true ? (child.label ?? "?") : nil
            }
        }
        let spec = ContainerSpec(try #require(full.spec))
        let resources = try #require(spec.resources)
        let io = try #require(resources.io)
        var written: [Any] = [
            full, spec, try #require(spec.rootfs), try #require(spec.`init`), try #require(spec.security),
            try #require(spec.policy), try #require(spec.logs), resources, try #require(resources.cpu),
            try #require(resources.memory), try #require(resources.pids), io, try #require(resources.disk),
        ]
        let limits: [IODeviceLimit] = try #require(io.limits)
        let attachments: [NetworkAttachment] = try #require(spec.networks)
        written += limits as [Any]
        written += attachments as [Any]
        for network in try #require(full.networks) {
            let networkSpec = NetworkSpec(network.spec)
            written.append(networkSpec)
            written.append(try #require(networkSpec.placement))
            written.append(try #require(networkSpec.ipv6))
            written.append(try #require(networkSpec.policy))
            let forwards: [PortForward] = try #require(networkSpec.portForwards)
            written += forwards as [Any]
        }
        for value in written { #expect(unset(value).isEmpty, "\(type(of: value)): fields the test leaves unset: \(unset(value))") }
        var empty = ContainerRecord(
            name: "bare", pid: nil, startTime: nil, cgroup: "berth/bare", rootfs: "/r", lower: "/l", upper: "/u", work: "/w",
            keepPrivateLayer: false)
        #expect(try RecordJSON.encode(record: empty) == RecordJSON.encode(empty))
        empty.environment = []
        empty.networks = []
        empty.foregroundOwner = []
        empty.labels = [:]
        // A `berth run` container's spec: the defaults resolved.
        var run = empty
        var flags = ContainerSpec()
        flags.rootfs = RootfsSpec(source: .directory("/srv/root"))
        flags.`init` = InitSpec(command: ["/bin/true"], workingDir: nil)
        run.spec = try #require(flags.resolved(name: "run-1"))
        run.foregroundOwner = [1, 2]
        for record in [full, full.stopped, empty, run] {
            let direct = try RecordJSON.encode(record: record)
            #expect(direct == (try RecordJSON.encode(record)), "\(String(decoding: direct, as: UTF8.self))")
            #expect(try RecordJSON.decode(ContainerRecord.self, from: direct) == record)
        }
    }

    @Test func aNumberJSONCannotHoldIsAnError() {
        struct Sample: Encodable { var value = Double.nan }
        #expect(throws: EncodingError.self) { try RecordJSON.encode(Sample()) }
    }
}

/// container.json's decoder: every record JSONDecoder reads, it reads the
/// same (records written by older berths, by Foundation's JSONEncoder, by hand).
@Suite struct RecordJSONDecoderTests {
    @Test func everyFieldReadsAsJSONDecoderReadsIt() throws {
        let record = try RecordJSONTests.fullRecord()
        for bytes in [try RecordJSON.encode(record), Array(try JSONEncoder().encode(record))] {
            let ours = try RecordJSON.decode(ContainerRecord.self, from: bytes)
            #expect(ours == record)
            #expect(ours == (try JSONDecoder().decode(ContainerRecord.self, from: Data(bytes))))
        }
    }

    @Test func escapesAndNumbersReadAsJSONDecoderReadsThem() throws {
        struct Sample: Codable, Equatable {
            var text: String
            var numbers: [Double]
            var small: Int8
            var big: UInt64
            var negative: Int64
            var flag: Bool
            var none: Int?
            var map: [String: [Int]]
        }
        let text = #"""
             { "text" : "q\"b\\s\/ \b\f\n\r\t \u00e9\u0001 \ud83d\udea2 plain é",
              "numbers": [0, -1.5, 2e3, 1E-2], "small": -128, "big": 18446744073709551615,
              "negative": -9223372036854775808, "flag": true, "none": null, "map": {"a": [], "": [1,2]} }
            """#
        let bytes = Array(text.utf8)
        let ours = try RecordJSON.decode(Sample.self, from: bytes)
        #expect(ours == (try JSONDecoder().decode(Sample.self, from: Data(bytes))))
        #expect(ours.text == "q\"b\\s/ \u{8}\u{c}\n\r\t é\u{1} 🚢 plain é")
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "\"open", "[1] 2", "tru", "{\"a\":\"\u{1}\"}", "\"\\x\"", "\"\\u12\"",
        "{\"small\": 300}", "{\"small\": \"1\"}", "{\"small\": 1.5}",
    ])
    func malformedOrMistypedJSONIsAnError(text: String) {
        struct Sample: Decodable { var small: UInt8? }
        #expect(throws: (any Error).self) { try RecordJSON.decode(Sample.self, from: Array(text.utf8)) }
    }

    /// Paths are made only for errors: they still name where the value is.
    @Test func aMistypedValueIsNamedByItsPath() {
        struct Inner: Decodable { var list: [Int]?, name: String? }
        struct Outer: Decodable { var outer: Inner }
        for (text, path) in [
            (#"{"outer": {"list": [1, "x"]}}"#, "outer.list.1"), (#"{"outer": {"name": 5}}"#, "outer.name"),
            (#"{"outer": {"list": [1], "name": null}, "x": 1}"#, nil),
        ] {
            do {
                _ = try RecordJSON.decode(Outer.self, from: Array(text.utf8))
                #expect(path == nil, "\(text) decoded")
            } catch let DecodingError.typeMismatch(_, context) {
                let named = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
                #expect(named == path, "\(text)")
            } catch {
                Issue.record("\(text): \(error)")
            }
        }
    }

    /// A member left out (observe: a record's networks) reads as absent;
    /// every other member reads as before, and the skipped value is still
    /// checked as JSON (the same documents are refused).
    @Test func anOmittedMemberReadsAsAbsentAndIsStillChecked() throws {
        var record = try RecordJSONTests.fullRecord()
        let bytes = try RecordJSON.encode(record)
        let partial = try RecordJSON.decode(ContainerRecord.self, from: bytes, omitting: ["networks"])
        #expect(partial.networks == nil)
        record.networks = nil
        #expect(partial == record)
        // Only the top level's member: spec.networks is kept.
        #expect(partial.spec?.networks.isEmpty == false)
        struct Sample: Decodable, Equatable { var keep: Int, skip: [String: [Int]]? }
        let nested = #"{"skip": {"a": [1, {"b": "\u00e9"}], "c": {}, "d": []}, "keep": 1}"#
        #expect(try RecordJSON.decode(Sample.self, from: Array(nested.utf8), omitting: ["skip"]) == Sample(keep: 1, skip: nil))
        for text in [
            #"{"skip": [1,], "keep": 1}"#, #"{"skip": {"a" 1}, "keep": 1}"#, #"{"skip": {"a": 1,}, "keep": 1}"#,
            #"{"skip": ["\x"], "keep": 1}"#, #"{"skip": [1 "keep": 1}"#, #"{"skip": tru, "keep": 1}"#,
            #"{"skip": {"a": [}], "keep": 1}"#, #"{"skip": "#,
        ] {
            #expect(throws: (any Error).self, "\(text)") { try RecordJSON.decode(Sample.self, from: Array(text.utf8), omitting: ["skip"]) }
            #expect(throws: (any Error).self, "\(text)") { try RecordJSON.decode(Sample.self, from: Array(text.utf8)) }
        }
        let deep = #"{"skip": "# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        #expect(throws: (any Error).self) { try RecordJSON.decode(Sample.self, from: Array(deep.utf8), omitting: ["skip"]) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let text = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: (any Error).self) { try RecordJSON.decode([Int].self, from: Array(text.utf8)) }
    }
}

/// container.json's purpose-built reader (RecordReader): what it reads,
/// it reads as Codable does; what it does not, Codable reads.
@Suite struct RecordReaderTests {
    /// The full record with every optional member of its own set too.
    static func everyMember() throws -> ContainerRecord {
        var record = try RecordJSONTests.fullRecord()
        record.privateLayerInMemory = true
        record.nestedUserNamespaces = true
        record.sysinfoVirtualized = false
        record.exitCode = -3
        record.restarts = 2
        record.diskImage = "/var/lib/berth/containers/full/disk.img"
        record.diskProject = 4_000_000_000
        record.labels = ["tier": "web", "": "empty key"]
        record.checkpoint = CheckpointMark(directory: "/srv/images/full", time: -86_401)
        return record
    }

    static func tree(_ bytes: [UInt8]) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.document()
    }

    @Test func everyMemberIsReadWithoutCodableAndAsCodableReadsIt() throws {
        let record = try RecordReaderTests.everyMember()
        for bytes in [try RecordJSON.encode(record), Array(try JSONEncoder().encode(record))] {
            // Not handed to Codable: the reader takes the whole record.
            let read = try RecordReader.record(try RecordReaderTests.tree(bytes))
            #expect(read == record)
            #expect(try RecordJSON.decodeRecord(from: bytes) == record)
            var withoutNetworks = record
            withoutNetworks.networks = nil
            #expect(try RecordJSON.decodeRecord(from: bytes, omitting: ["networks"]) == withoutNetworks)
        }
        // Sizes written as text, as Codable reads them too.
        var text = String(decoding: try RecordJSON.encode(record), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"high\" : 1073741824", with: "\"high\" : \"1Gi\"")
        #expect(text.contains("\"high\" : \"1Gi\""))
        let bytes = Array(text.utf8)
        #expect(try RecordReader.record(try RecordReaderTests.tree(bytes)) == (try JSONDecoder().decode(ContainerRecord.self, from: Data(bytes))))
    }

    /// Every member of the record removed, nulled, mistyped or joined by
    /// an unknown one, at every depth: where the reader takes the tree,
    /// Codable reads it and reads the same record.
    @Test func whatTheReaderTakesCodableReadsTheSame() throws {
        let tree = try RecordReaderTests.tree(try RecordJSON.encode(try RecordReaderTests.everyMember()))
        var taken = 0
        var handedOn = 0
        for mutated in RecordReaderTests.mutations(tree) {
            guard let read = try? RecordReader.record(mutated) else {
                handedOn += 1
                continue
            }
            taken += 1
            let codable = try? ContainerRecord(from: TreeDecoder(value: mutated, codingPath: []))
            #expect(codable == read)
        }
        #expect(taken > 100 && handedOn > 100, "\(taken) taken, \(handedOn) handed to Codable")
    }

    static func mutations(_ value: JSONValue) -> [JSONValue] {
        let replacements: [JSONValue] = [
            .null, .string("x"), .string("1"), .number("1"), .number("-1"), .number("1.5"), .number("70000"), .bool(true), .array([]),
            .array([.string("x")]), .object([:]),
        ]
        var result: [JSONValue] = []
        switch value {
        case .object(let members):
            var extended = members
            extended["unknownMember"] = .number("1")
            result.append(.object(extended))
            for (key, member) in members {
                var without = members
                without[key] = nil
                result.append(.object(without))
                for replacement in replacements + mutations(member) {
                    var changed = members
                    changed[key] = replacement
                    result.append(.object(changed))
                }
            }
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                for replacement in replacements + mutations(element) {
                    var changed = elements
                    changed[index] = replacement
                    result.append(.array(changed))
                }
            }
        default: break
        }
        return result
    }

    /// A bad record fails as it did: Codable's error, naming the member.
    @Test func aBadRecordFailsWithCodablesErrorAtItsPath() {
        let base = #""cgroup": "c", "rootfs": "r", "lower": "l", "upper": "u", "work": "w", "keepPrivateLayer": false"#
        let spec = #""spec": {"rootfs": {"source": {"template": {"_0": "b"}}}, "resources": {"memory": {"max": true}}}"#
        for (text, path) in [
            (#"{"name": 5, "# + base + "}", "name"), (#"{"name": "n", "# + spec + ", " + base + "}", "spec.resources.memory.max"),
        ] {
            do {
                _ = try RecordJSON.decodeRecord(from: Array(text.utf8))
                Issue.record("\(text) decoded")
            } catch let error as DecodingError {
                let context: DecodingError.Context? =
                    switch error {
                    case .typeMismatch(_, let context), .dataCorrupted(let context): context
                    default: nil
                    }
                let named = context?.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
                #expect(named == path, "\(text): \(error)")
            } catch {
                Issue.record("\(text): \(error)")
            }
        }
        // Without the members Codable requires: its keyNotFound.
        #expect(throws: DecodingError.self) { try RecordJSON.decodeRecord(from: Array(#"{"name": "n"}"#.utf8)) }
    }
}

/// Whether a value seen through Mirror is an Optional that holds nothing.
private protocol OptionalValue { var isNone: Bool { get } }
extension Optional: OptionalValue {
    var isNone: Bool { self == nil }
}

/// A network's record, its ruleset's and an inventory, read member by
/// member (RecordJSON+SmallRecords) as their Codable reads them.
@Suite struct SmallRecordReaderTests {
    static func networkRecord() throws -> NetworkRecord {
        var spec = NetworkSpec(subnet: try CIDR(parsing: "10.88.0.0/24"))
        spec.driver = .macvlan
        spec.gateway = try IPAddress(parsing: "10.88.0.254")
        spec.ipv6 = IPv6Subnet(subnet: try CIDR(parsing: "fd00:88::/64"))
        spec.nat = true
        spec.isolated = true
        spec.mtu = 1400
        spec.portForwards = [PortForward(protocol: .udp, hostPort: 5353, hostAddress: try IPAddress(parsing: "10.0.0.1"), container: "dns")]
        spec.reach = ["back"]
        return NetworkRecord(bridge: "br-new", spec: spec.resolved(name: "front"), oldBridges: ["br-front", "br-older"])
    }

    static let ruleset = NetworkRuleset.Record(
        table: "berth_front", fingerprint: "f00d", chains: ["forward": "rule 1\nrule 2", "postrouting": ""],
        fields: ["spec.nat": "true", "ünïcode \"quoted\"": "\\"], generation: "41")

    static let inventory: Inventory = {
        var inventory = Inventory(source: "/srv/manifests one")
        // As stored, not sorted again (Codable's reading).
        inventory.containers = ["web", "db", "web"]
        inventory.networks = ["front"]
        return inventory
    }()

    @Test func eachIsReadWithoutCodableAndAsCodableReadsIt() throws {
        let network = try SmallRecordReaderTests.networkRecord()
        for bytes in [try RecordJSON.encode(network), Array(try JSONEncoder().encode(network))] {
            let tree = try RecordReaderTests.tree(bytes)
            #expect(try RecordReader.networkRecord(tree) == network)
            #expect(try RecordJSON.decodeNetworkRecord(from: bytes) == network)
            #expect(
                try RecordJSON.decodeNetworkRecord(from: bytes, omitting: ["spec"]) == NetworkRecord(bridge: "br-new", oldBridges: network.oldBridges)
            )
        }
        // A record without a spec or old bridges, and one whose spec names no
        // bridge (written before specs were resolved): it gets the record's.
        let plain = Array(#"{"bridge": "br-plain"}"#.utf8)
        #expect(try RecordReader.networkRecord(try RecordReaderTests.tree(plain)) == NetworkRecord(bridge: "br-plain"))
        let unnamed = Array(#"{"bridge": "br-x", "spec": {"subnet": "10.89.0.0/24"}, "oldBridges": null}"#.utf8)
        #expect(
            try RecordReader.networkRecord(try RecordReaderTests.tree(unnamed))
                == (try JSONDecoder().decode(NetworkRecord.self, from: Data(unnamed))))
        var rulesets = [SmallRecordReaderTests.ruleset]
        rulesets.append(NetworkRuleset.Record(table: "t", fingerprint: "", chains: [:], fields: [:], generation: nil))
        for ruleset in rulesets {
            for bytes in [try RecordJSON.encode(ruleset), Array(try JSONEncoder().encode(ruleset))] {
                #expect(try RecordReader.rulesetRecord(try RecordReaderTests.tree(bytes)) == ruleset)
                #expect(try RecordJSON.decodeRulesetRecord(from: bytes) == ruleset)
            }
        }
        let inventory = SmallRecordReaderTests.inventory
        for bytes in [try RecordJSON.encode(inventory), Array(try JSONEncoder().encode(inventory))] {
            #expect(try RecordReader.inventory(try RecordReaderTests.tree(bytes)) == inventory)
            #expect(try RecordJSON.decodeInventory(from: bytes) == inventory)
        }
    }

    /// Every member removed, nulled, mistyped or joined by an unknown one,
    /// at every depth: where the reader takes the tree, Codable reads the
    /// same value; where it does not, decoding the bytes is Codable's.
    @Test func whatTheReadersTakeCodableReadsTheSame() throws {
        func check<T: Codable & Equatable>(_ value: T, _ read: (JSONValue) throws -> T) throws -> (taken: Int, handedOn: Int) {
            var counts = (taken: 0, handedOn: 0)
            for mutated in RecordReaderTests.mutations(try RecordReaderTests.tree(try RecordJSON.encode(value))) {
                guard let read = try? read(mutated) else {
                    counts.handedOn += 1
                    continue
                }
                counts.taken += 1
                #expect((try? T(from: TreeDecoder(value: mutated, codingPath: []))) == read)
            }
            return counts
        }
        let network = try check(try SmallRecordReaderTests.networkRecord(), RecordReader.networkRecord)
        let ruleset = try check(SmallRecordReaderTests.ruleset, RecordReader.rulesetRecord)
        let inventory = try check(SmallRecordReaderTests.inventory, RecordReader.inventory)
        #expect(network.taken > 20 && network.handedOn > 20, "\(network)")
        #expect(ruleset.taken > 3 && ruleset.handedOn > 20, "\(ruleset)")
        #expect(inventory.taken > 0 && inventory.handedOn > 10, "\(inventory)")
    }

    /// A bad record fails as before: with Codable's error (the network
    /// record's spec names its member).
    @Test func aBadRecordFailsAsCodableFailsIt() {
        for text in [#"{"bridge": 5}"#, #"{"bridge": "b", "spec": {"subnet": "not a subnet"}}"#, #"{"source": "s"}"#] {
            let bytes = Array(text.utf8)
            #expect(throws: DecodingError.self) { try RecordJSON.decodeNetworkRecord(from: bytes) }
            #expect(throws: DecodingError.self) { try RecordJSON.decodeRulesetRecord(from: bytes) }
            #expect(throws: DecodingError.self) { try RecordJSON.decodeInventory(from: bytes) }
        }
    }
}
