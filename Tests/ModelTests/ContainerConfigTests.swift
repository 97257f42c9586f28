import Foundation
import Testing

@testable import Model

/// Defaults are applied once, when a container is resolved: what the
/// planner, the runtime and the records see has no unset field.
@Suite struct ContainerConfigTests {
    static func manifest(_ configure: (inout ContainerSpec) -> Void = { _ in }) -> ContainerSpec {
        var spec = ContainerSpec()
        spec.rootfs = RootfsSpec(source: .template("busybox"))
        configure(&spec)
        return spec
    }

    @Test func aSpecWithOnlyItsRootfsGetsEveryDefault() throws {
        let config = try #require(ContainerConfigTests.manifest().resolved(name: "web1"))
        #expect(config.state == Defaults.state)
        #expect(config.hostname == "web1")
        #expect(config.rootfs == .template("busybox"))
        #expect(config.persistent == false)
        #expect(config.command == Defaults.initCommand)
        #expect(config.workingDir == Defaults.workingDir)
        #expect(config.env.isEmpty && config.networks.isEmpty && config.devices.isEmpty && config.mounts.isEmpty)
        #expect(config.resources == ResourcesSpec())
        #expect(config.capabilities == ContainerConfig.CapabilityChanges())
        #expect(
            config.security
                == ContainerConfig.Security(privileged: false, noNewPrivileges: true, seccomp: .default, nestedUserNamespaces: false))
        #expect(config.userNamespace == nil && config.firewall == nil && config.placement == nil)
        #expect(config.restartPolicy == Defaults.restartPolicy)
        #expect(config.stopTimeout == Defaults.stopTimeout)
        #expect(config.drift == Defaults.drift)
        #expect(config == ContainerConfig(name: "web1", rootfs: .template("busybox")))
    }

    @Test func withoutARootfsThereIsNothingToResolve() {
        #expect(ContainerSpec().resolved(name: "web1") == nil)
        #expect(ContainerSpec().resolved(name: "web1", defaultRootfs: .directory("/srv/root")).rootfs == .directory("/srv/root"))
    }

    @Test func nestedDefaultsAreFilledInToo() throws {
        let spec = ContainerConfigTests.manifest { spec in
            spec.networks = [
                NetworkAttachment(network: "front", addresses: []), NetworkAttachment(network: "back", addresses: [], interface: "int0"),
            ]
            spec.devices = [DeviceSpec(path: "/dev/net/tun")]
            spec.mounts = [MountSpec(type: .tmpfs, destination: "/scratch")]
            spec.userNamespace = UserNamespaceSpec(uidMap: [IDRange(containerID: 0, hostID: 100_000, size: 65536)])
            spec.firewall = FirewallSpec()
            spec.`init` = InitSpec(workingDir: "/srv")
        }
        let config = try #require(spec.resolved(name: "web1"))
        #expect(config.networks.map(\.interface) == ["eth0", "int0"])
        #expect(config.networks.map(\.defaultRoute) == [true, false])
        #expect(config.devices == [ContainerConfig.Device(path: "/dev/net/tun", access: "rw")])
        #expect(config.mounts.map(\.readOnly) == [false])
        #expect(config.userNamespace?.gidMap == config.userNamespace?.uidMap)
        #expect(config.firewall == ContainerConfig.Firewall(defaultPolicy: .accept, rules: []))
        #expect(config.command == Defaults.initCommand && config.workingDir == "/srv")
    }

    @Test func theManifestFormResolvesBackToTheSameConfig() throws {
        let address = try CIDR(parsing: "10.88.0.10/24")
        let spec = ContainerConfigTests.manifest { spec in
            spec.state = .frozen
            spec.hostname = "www"
            spec.rootfs?.persistent = true
            spec.env = ["A": "1"]
            spec.networks = [NetworkAttachment(network: "front", addresses: [address], defaultRoute: false)]
            var resources = ResourcesSpec()
            resources.memory = MemorySpec(max: ByteSize(bytes: 64 << 20))
            spec.resources = resources
            spec.capabilities = CapabilitiesSpec(add: ["CAP_NET_ADMIN"])
            var security = SecuritySpec()
            security.seccomp = .unconfined
            spec.security = security
            spec.restartPolicy = .always
            spec.stopTimeout = Interval(milliseconds: 3000)
            spec.policy = ObjectPolicy(drift: .warn)
            spec.profiles = ["default"]
            spec.firewall = FirewallSpec(defaultPolicy: .drop, rules: [FirewallRule(action: .allow, protocol: .tcp, port: 80)])
        }
        let config = try #require(spec.resolved(name: "web1"))
        #expect(ContainerSpec(config).resolved(name: "other") == config)
        let json = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(ContainerConfig.self, from: json) == config)
    }

    /// A record written before this type stored the manifest's spec as it
    /// was, unset fields and all: it reads back as the resolved container.
    @Test func aRecordWrittenWithoutDefaultsReadsBackResolved() throws {
        let old = ContainerConfigTests.manifest { $0.hostname = "web1" }
        let json = try JSONEncoder().encode(old)
        #expect(try JSONDecoder().decode(ContainerConfig.self, from: json) == old.resolved(name: "web1"))
    }
}
