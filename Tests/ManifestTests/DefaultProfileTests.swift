import Model
import Testing

@testable import Manifest

/// The host's default limits: a Profile named `default` is merged first into
/// every container, unless the container lists it itself or opts out with
/// `profiles: []`.
@Suite struct DefaultProfileTests {
    static let profiles = """
        apiVersion: berth/v1
        kind: Profile
        metadata: {name: default}
        spec:
          resources: {cpu: {limit: "1"}, memory: {max: 512Mi}, pids: {max: 1024}}
        ---
        apiVersion: berth/v1
        kind: Profile
        metadata: {name: small}
        spec:
          rootfs: {template: busybox}
          resources: {memory: {max: 128Mi}}

        """

    /// A container document on one line; `fields` are more spec fields, each
    /// starting with ", ".
    static func container(_ name: String, _ fields: String) -> String {
        "--- {apiVersion: berth/v1, kind: Container, metadata: {name: \(name)}, spec: {rootfs: {template: busybox}\(fields)}}\n"
    }

    func resolved(_ yaml: String) throws -> [String: ContainerConfig] {
        let decoded = decode(yaml)
        #expect(decoded.errors.isEmpty, "\(rendered(decoded.errors))")
        let (desired, errors) = ManifestSet(documents: decoded.documents).resolve(for: HostFacts(name: "node1"))
        #expect(errors.isEmpty, "\(rendered(errors))")
        return Dictionary(uniqueKeysWithValues: desired.containers.map { ($0.metadata.name, $0.spec) })
    }

    @Test func aContainerWithoutProfilesGetsTheDefaultLimits() throws {
        let specs = try resolved(DefaultProfileTests.profiles + DefaultProfileTests.container("plain", ""))
        let spec = try #require(specs["plain"])
        #expect(spec.profiles == ["default"])
        #expect(spec.resources.cpu?.limit == CPUQuantity(millicores: 1000))
        #expect(spec.resources.memory?.max == ByteSize(bytes: 512 << 20))
        #expect(spec.resources.pids?.max == 1024)
    }

    @Test func listedProfilesAndOwnValuesOverrideTheDefaultFieldByField() throws {
        let yaml =
            DefaultProfileTests.profiles
            + DefaultProfileTests.container("web1", ", profiles: [small], resources: {pids: {max: 50}}")
        let spec = try #require(try resolved(yaml)["web1"])
        #expect(spec.profiles == ["default", "small"])
        #expect(spec.resources.memory?.max == ByteSize(bytes: 128 << 20))
        #expect(spec.resources.pids?.max == 50)
        #expect(spec.resources.cpu?.limit == CPUQuantity(millicores: 1000))
    }

    @Test func anExplicitlyEmptyProfileListOptsOut() throws {
        let spec = try #require(try resolved(DefaultProfileTests.profiles + DefaultProfileTests.container("free", ", profiles: []"))["free"])
        #expect(spec.profiles == [])
        #expect(spec.resources == ResourcesSpec())
    }

    @Test func aListedDefaultIsMergedWhereItIsListedAndOnlyOnce() throws {
        let spec = try #require(
            try resolved(DefaultProfileTests.profiles + DefaultProfileTests.container("big", ", profiles: [small, default]"))["big"])
        #expect(spec.profiles == ["small", "default"])
        #expect(spec.resources.memory?.max == ByteSize(bytes: 512 << 20))
    }

    @Test func withoutADefaultProfileNothingIsAdded() throws {
        let spec = try #require(try resolved(DefaultProfileTests.container("plain", ""))["plain"])
        #expect(spec.profiles.isEmpty)
        #expect(spec.resources == ResourcesSpec())
    }

    @Test func anUnknownListedProfileIsStillReportedAtItsOwnIndex() {
        let errors = check(DefaultProfileTests.profiles + DefaultProfileTests.container("web1", ", profiles: [small, smal]"))
        #expect(rendered(errors).map { $0.contains("spec.profiles[1]: unknown profile 'smal'") } == [true])
    }

    @Test(
        arguments: [
            (nil, false, []), (nil, true, ["default"]), ([], true, []), (["a"], true, ["default", "a"]),
            (["a", "default"], true, ["a", "default"]), (["a"], false, ["a"]),
        ] as [([String]?, Bool, [String])])
    func appliedProfiles(listed: [String]?, hostDefault: Bool, applied: [String]) {
        #expect(ManifestSet.appliedProfiles(listed, hostDefault: hostDefault).map(\.name) == applied)
    }

    @Test func aFieldFromTheDefaultProfileIsLocatedThere() throws {
        let yaml = DefaultProfileTests.profiles + DefaultProfileTests.container("plain", "")
        let locator = FieldLocator(documents: decode(yaml).documents)
        let location = try #require(locator.location(container: "plain", .root / "spec" / "resources" / "pids" / "max"))
        #expect(location.line == 5)
    }
}
