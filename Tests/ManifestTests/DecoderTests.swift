import Model
import Testing

@testable import Manifest

/// One field of a Container spec, set to a bad value: the diagnostic a user sees.
@Suite struct ContainerFieldTests {
    @Test(arguments: [
        (
            "  resources:\n    memroy: {max: 1Gi}\n",
            "test.yaml:8:5: error: spec.resources.memroy: unknown field (did you mean 'memory'?)"
        ),
        (
            "  resources:\n    memory: {max: 2G}\n",
            "test.yaml:8:19: error: spec.resources.memory.max: decimal or ambiguous size suffix 'G' in '2G' (use a binary quantity such as 2Gi: 'G' means 10^9 to Kubernetes and 2^30 to OpenVZ and systemd)"
        ),
        (
            "  resources:\n    memory: {max: -1}\n",
            "test.yaml:8:19: error: spec.resources.memory.max: size -1 is negative or too large (write bytes or a binary quantity such as 512Mi)"
        ),
        (
            "  resources:\n    cpu: {weight: 0}\n",
            "test.yaml:8:19: error: spec.resources.cpu.weight: 0 is out of range (1-10000)"
        ),
        (
            "  resources:\n    cpu: {limit: fast}\n",
            "test.yaml:8:18: error: spec.resources.cpu.limit: invalid CPU quantity 'fast' (write cores (\"1.5\") or millicores (\"500m\"), at most 3 decimals)"
        ),
        (
            "  hostname: 123\n",
            "test.yaml:7:13: error: spec.hostname: expected a string, got an integer (quote it: \"123\")"
        ),
        (
            "  hostname:\n",
            "test.yaml:7:12: error: spec.hostname: expected a string, got null (leave the field out to unset it)"
        ),
        (
            "  state: runing\n",
            "test.yaml:7:10: error: spec.state: 'runing' is not one of running, stopped, frozen (did you mean 'running'?)"
        ),
        (
            "  networks:\n    - network: front\n      interface: eth0-with-a-long-name\n",
            "test.yaml:9:18: error: spec.networks[0].interface: interface name 'eth0-with-a-long-name' is 21 bytes; the kernel allows at most 15 (IFNAMSIZ)"
        ),
        (
            "  mounts:\n    - {source: /srv/../etc, destination: /data}\n",
            "test.yaml:8:16: error: spec.mounts[0].source: path '/srv/../etc' contains '..' (write the resolved path)"
        ),
        (
            "  mounts:\n    - {type: tmpfs, source: /srv, destination: /tmp}\n",
            "test.yaml:8:29: error: spec.mounts[0].source: a tmpfs mount takes no source"
        ),
        (
            "  capabilities: {add: [CAP_FLY]}\n",
            "test.yaml:7:24: error: spec.capabilities.add[0]: unknown capability 'CAP_FLY'"
        ),
        (
            "  capabilities: {add: [ALL]}\n",
            "test.yaml:7:24: error: spec.capabilities.add[0]: 'ALL' can only be dropped, not added (set security.privileged for every capability)"
        ),
        (
            "  proc: {virtualize: 1}\n",
            "test.yaml:7:22: error: spec.proc.virtualize: expected a boolean (true or false), got an integer"
        ),
        (
            "  proc: {virtualise: true}\n",
            "test.yaml:7:10: error: spec.proc.virtualise: unknown field (did you mean 'virtualize'?)"
        ),
        (
            "  security: {privileged: yes}\n",
            "test.yaml:7:26: error: spec.security.privileged: expected a boolean (true or false), got a string (YAML 1.2 booleans are only true and false)"
        ),
        (
            "  firewall:\n    rules: [{action: allow, protocol: icmp, port: 80}]\n",
            "test.yaml:8:51: error: spec.firewall.rules[0].port: a port needs protocol tcp or udp (add 'protocol: tcp')"
        ),
        (
            "  env: {1PATH: x}\n",
            "test.yaml:7:9: error: spec.env.1PATH: '1PATH' is not a valid environment variable name (use letters, digits and '_', not starting with a digit)"
        ),
        (
            "  stopTimeout: 10\n",
            "test.yaml:7:16: error: spec.stopTimeout: expected a string, got an integer (quote it: \"10\")"
        ),
        (
            "  userNamespace: {uidMap: []}\n",
            "test.yaml:7:27: error: spec.userNamespace.uidMap: must not be empty"
        ),
        (
            "  resources: {numtcpsock: 0}\n",
            "test.yaml:7:27: error: spec.resources.numtcpsock: 0 is out of range (1-16777216)"
        ),
        (
            "  resources: {numpty: 2000000}\n",
            "test.yaml:7:23: error: spec.resources.numpty: 2000000 is out of range (1-1048576)"
        ),
        (
            "  devices: [{path: /dev/fuse, access: rwx}]\n",
            "test.yaml:7:39: error: spec.devices[0].access: 'rwx' is not a device access string (use r, w and m, such as \"rw\")"
        ),
    ])
    func badFieldIsReportedAtItsPosition(extra: String, expected: String) {
        let errors = rendered(decode(validContainer + extra).errors)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix(expected) == true, "got \(errors)")
    }

    @Test func everyErrorOfADocumentIsReported() {
        let errors = decode(validContainer + "  hostname: 1\n  state: up\n  resources: {pids: {max: 0}}\n").errors
        #expect(errors.count == 3)
    }

    @Test func rootfsTakesExactlyOneSource() {
        let errors = rendered(
            decode(
                """
                apiVersion: berth/v1
                kind: Container
                metadata: {name: a}
                spec:
                  rootfs: {template: busybox, directory: /srv/root}
                """
            ).errors)
        #expect(errors == ["test.yaml:5:11: error: spec.rootfs: give exactly one of template, directory or tarball, not template and directory"])
    }

    @Test func fullContainerSpecDecodes() throws {
        let yaml = """
            apiVersion: berth/v1
            kind: Container
            metadata: {name: full, labels: {app: web, example.com/tier: front}, annotations: {note: "anything"}}
            spec:
              placement: {hostnames: [node1], hostLabels: {role: web}}
              state: frozen
              hostname: full.example
              rootfs: {tarball: /srv/templates/debian.tar.xz, persistent: true}
              init: {command: [/sbin/init, --verbose], workingDir: /root}
              env: {PATH: /bin, LANG: C.UTF-8}
              networks:
                - {network: front, addresses: [10.88.0.5, "fd00::5"], interface: eth0, defaultRoute: true}
              resources:
                cpu: {weight: 500, limit: 1.5, cpus: "0-1"}
                memory: {max: 1Gi, high: 768Mi, swap: 0}
                pids: {max: 1024}
                io: {weight: 200, limits: [{device: "254:0", readBps: 50Mi, writeIops: 1000}]}
                numpty: 16
                numfile: 4096
              devices: [{path: /dev/net/tun, access: rwm}]
              capabilities: {add: [net_admin], drop: [CAP_MKNOD]}
              security: {privileged: false, noNewPrivileges: true, seccomp: default}
              proc: {virtualize: false}
              mounts:
                - {source: /srv/data, destination: /data, readOnly: true}
                - {type: tmpfs, destination: /run, size: 64Mi}
              userNamespace: {uidMap: [{containerID: 0, hostID: 100000, size: 65536}]}
              restartPolicy: on-failure
              stopTimeout: 1m30s
              firewall: {defaultPolicy: drop, rules: [{action: allow, protocol: tcp, port: 22, from: 10.0.0.0/8}]}
              policy: {drift: warn}
              logs: {driver: journal}
            """
        let result = decode(yaml)
        #expect(result.errors.isEmpty, "\(rendered(result.errors))")
        let document = try #require(result.documents.first)
        guard case .container(let spec) = document.object else {
            Issue.record("not a container")
            return
        }
        #expect(document.metadata.labels["example.com/tier"] == "front")
        #expect(spec.state == .frozen)
        #expect(spec.rootfs?.source == .tarball("/srv/templates/debian.tar.xz"))
        #expect(spec.resources?.cpu?.limit?.millicores == 1500)
        #expect(spec.resources?.memory?.high?.bytes == 768 << 20)
        #expect(spec.resources?.io?.limits?.first?.readBytesPerSecond?.bytes == 50 << 20)
        #expect(spec.resources?.numpty == 16 && spec.resources?.numfile == 4096)
        #expect(spec.capabilities?.add == ["CAP_NET_ADMIN"])
        #expect(spec.networks?.first?.addresses.map(\.address.description) == ["10.88.0.5", "fd00::5"])
        #expect(spec.stopTimeout?.milliseconds == 90_000)
        #expect(spec.mounts?.last?.type == .tmpfs)
        #expect(spec.proc == ProcSpec(virtualize: false))
        #expect(spec.userNamespace?.uidMap.first?.hostID == 100_000)
        #expect(spec.firewall?.rules?.first?.port == 22)
        #expect(spec.policy?.drift == .warn)
        #expect(spec.logs?.driver == .journal)
    }

    @Test func aLogDriverIsFileOrJournalAndAProfileGivesTheDefault() {
        let errors = rendered(decode(validContainer + "  logs: {driver: syslog}\n").errors)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix("test.yaml:7:") == true && errors.first?.contains("error: spec.logs.driver:") == true, "\(errors)")
        #expect(rendered(decode(validContainer + "  logs: {drivr: journal}\n").errors).first?.contains("did you mean 'driver'") == true)
        let profile = ContainerSpec()
        var base = ContainerSpec()
        base.logs = LogsSpec(driver: .journal)
        #expect(profile.merged(over: base).logs?.driver == .journal)
        var own = ContainerSpec()
        own.logs = LogsSpec(driver: .file)
        #expect(own.merged(over: base).logs?.driver == .file)
    }

    @Test func profileRefusesPlacementAndProfiles() {
        let errors = rendered(
            decode(
                """
                apiVersion: berth/v1
                kind: Profile
                metadata: {name: p}
                spec:
                  placement: {hostnames: [a]}
                """
            ).errors)
        #expect(errors.first?.hasPrefix("test.yaml:5:3: error: spec.placement: unknown field") == true)
    }

    @Test(arguments: [
        ("apiVersion: v1", "test.yaml:1:13: error: apiVersion: unsupported apiVersion 'v1' (write 'berth/v1')"),
        ("kind: Containr", "test.yaml:2:7: error: kind: 'Containr' is not one of Container, Network, Profile (did you mean 'Container'?)"),
    ])
    func topLevelFieldsAreChecked(line: String, expected: String) {
        var lines = validContainer.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if line.hasPrefix("apiVersion") { lines[0] = line } else { lines[1] = line }
        let errors = rendered(decode(lines.joined(separator: "\n")).errors)
        #expect(errors == [expected])
    }
}

@Suite struct NetworkFieldTests {
    let base = """
        apiVersion: berth/v1
        kind: Network
        metadata: {name: front}
        spec:

        """

    @Test(arguments: [
        ("  subnet: 10.88.0.1/24\n", "test.yaml:5:11: error: spec.subnet: 10.88.0.1/24 has host bits set (the network address is 10.88.0.0/24)"),
        ("  subnet: 10.88.0.0\n", "test.yaml:5:11: error: spec.subnet: '10.88.0.0' has no prefix length (write it as 10.88.0.0/24)"),
        (
            "  subnet: 10.88.0.0/24\n  gateway: 10.89.0.1\n",
            "test.yaml:6:12: error: spec.gateway: gateway 10.89.0.1 is not inside subnet 10.88.0.0/24"
        ),
        ("  subnet: 10.88.0.0/24\n  mtu: 20\n", "test.yaml:6:8: error: spec.mtu: 20 is out of range (68-65535)"),
        (
            "  subnet: 10.88.0.0/24\n  nat: on\n",
            "test.yaml:6:8: error: spec.nat: expected a boolean (true or false), got a string (YAML 1.2 booleans are only true and false)"
        ),
        (
            "  subnet: 10.88.0.0/24\n  portForwards: [{hostPort: 70000, container: a}]\n",
            "test.yaml:6:29: error: spec.portForwards[0].hostPort: 70000 is out of range (1-65535)"
        ),
        ("  bridge: br0\n", "test.yaml:5:3: error: spec.subnet: required field is missing"),
        ("  subnet: 10.88.0.0/24\n  driver: vlan\n", "test.yaml:6:11: error: spec.driver: 'vlan' is not one of bridge, macvlan"),
    ])
    func badFieldIsReported(extra: String, expected: String) {
        let errors = rendered(decode(base + extra).errors)
        #expect(errors == [expected])
    }
}
