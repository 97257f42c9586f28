import Model

/// Fields that take effect only when the container starts again, and those
/// only berth's record holds. docs/manifests.md ("Field contract") lists
/// every field's class; Tests/schema/test_field_contract.py keeps it whole.
enum RestartFields {
    /// Fields applied at the next start: (field, desired, recorded).
    static func changes(desired: ContainerConfig, recorded: ContainerConfig, networksLive: Bool) -> [FieldChange] {
        var changes: [FieldChange] = []
        // The texts are made only for a field that changed (a no-op plan
        // compares every running container's: berth-bench scale).
        func add(_ field: String, _ changed: Bool, _ wanted: @autoclosure () -> String, _ had: @autoclosure () -> String) {
            if changed { changes.append(FieldChange(field, desired: .text(wanted()), observed: .text(had()), origin: .manifest)) }
        }
        add("spec.hostname", desired.hostname != recorded.hostname, desired.hostname, recorded.hostname)
        add(
            "spec.init.command", desired.command != recorded.command, words(desired.command), words(recorded.command))
        add(
            "spec.init.workingDir", desired.workingDir != recorded.workingDir, desired.workingDir, recorded.workingDir)
        add("spec.env", desired.env != recorded.env, environment(desired.env, before: recorded.env), environment(recorded.env))
        add("spec.mounts", desired.mounts != recorded.mounts, mounts(desired.mounts), mounts(recorded.mounts))
        add(
            "spec.capabilities", desired.capabilities != recorded.capabilities, capabilities(desired.capabilities),
            capabilities(recorded.capabilities))
        add("spec.security", desired.security != recorded.security, security(desired.security), security(recorded.security))
        add("spec.devices", desired.devices != recorded.devices, devices(desired.devices), devices(recorded.devices))
        add(
            "spec.userNamespace", desired.userNamespace != recorded.userNamespace, userNamespace(desired.userNamespace),
            userNamespace(recorded.userNamespace))
        add("spec.logs.driver", desired.logDriver != recorded.logDriver, desired.logDriver.rawValue, recorded.logDriver.rawValue)
        add(
            "spec.networks", !networksLive && desired.networks != recorded.networks, attachments(desired.networks),
            attachments(recorded.networks))
        return changes
    }

    /// Fields that change berth's behaviour and nothing in the kernel.
    static func recordOnly(desired: ContainerConfig, recorded: ContainerConfig) -> [FieldChange] {
        var changes: [FieldChange] = []
        func add(_ field: String, _ wanted: String?, _ had: String?) {
            if wanted != had {
                changes.append(FieldChange(field, desired: .text(wanted ?? "-"), observed: .text(had ?? "-"), origin: .manifest))
            }
        }
        add("spec.restartPolicy", desired.restartPolicy.rawValue, recorded.restartPolicy.rawValue)
        add("spec.stopTimeout", desired.stopTimeout.description, recorded.stopTimeout.description)
        add("spec.rootfs.persistent", "\(desired.persistent)", "\(recorded.persistent)")
        add("spec.policy.drift", desired.drift.rawValue, recorded.drift.rawValue)
        add("spec.placement", desired.placement.map { "\($0)" }, recorded.placement.map { "\($0)" })
        add("spec.profiles", profiles(desired.profiles), profiles(recorded.profiles))
        return changes
    }

    /// The container's /proc for a stopped container's record: true, false
    /// or unset (LXCFS's where it is live). A running one's is observed
    /// (Planner.procChange).
    static func procRecord(desired: ContainerConfig, recorded: ContainerConfig) -> [FieldChange] {
        func text(_ value: Bool?) -> String { value.map(proc) ?? "lxcfs where it runs" }
        guard desired.procVirtualize != recorded.procVirtualize else { return [] }
        return [
            FieldChange(
                "spec.proc.virtualize", desired: .text(text(desired.procVirtualize)), observed: .text(text(recorded.procVirtualize)),
                origin: .manifest)
        ]
    }

    /// How /proc looks: "lxcfs" (the container's) or "host".
    static func proc(_ virtualized: Bool) -> String { virtualized ? "lxcfs" : "host" }

    static func words(_ list: [String]) -> String { list.joined(separator: " ") }

    static func profiles(_ names: [String]) -> String? { names.isEmpty ? nil : names.joined(separator: ",") }

    /// The variables' names, never their values (a plan lands in CI logs;
    /// values may be secrets): one whose value changed says so.
    static func environment(_ env: [String: String], before: [String: String]? = nil) -> String {
        guard !env.isEmpty else { return "none" }
        return env.keys.sorted().map { name in
            guard let before, let old = before[name], old != env[name] else { return name }
            return name + " (value changed)"
        }.joined(separator: ",")
    }

    /// `tmpfs /scratch size=16Mi`, `bind /srv -> /data ro`.
    static func mounts(_ mounts: [ContainerConfig.Mount]) -> String {
        guard !mounts.isEmpty else { return "none" }
        return mounts.map { mount in
            var words = [mount.type.rawValue]
            if let source = mount.source { words.append(source + " ->") }
            words.append(mount.destination)
            if let size = mount.size { words.append("size=\(size)") }
            if mount.readOnly { words.append("ro") }
            return words.joined(separator: " ")
        }.joined(separator: ", ")
    }

    static func capabilities(_ capabilities: ContainerConfig.CapabilityChanges) -> String {
        "add [\(capabilities.add.joined(separator: ","))] drop [\(capabilities.drop.joined(separator: ","))]"
    }

    static func security(_ security: ContainerConfig.Security) -> String {
        "privileged \(security.privileged), noNewPrivileges \(security.noNewPrivileges), "
            + "seccomp \(security.seccomp.rawValue), nestedUserNamespaces \(security.nestedUserNamespaces)"
    }

    static func devices(_ devices: [ContainerConfig.Device]) -> String {
        guard !devices.isEmpty else { return "standard only" }
        return devices.map { "\($0.path) \($0.access)" }.joined(separator: ", ")
    }

    static func userNamespace(_ userNamespace: ContainerConfig.IDMapping?) -> String {
        guard let userNamespace else { return "none" }
        func ranges(_ map: [IDRange]) -> String { map.map { "\($0.containerID):\($0.hostID):\($0.size)" }.joined(separator: ",") }
        return "uid \(ranges(userNamespace.uidMap)) gid \(ranges(userNamespace.gidMap))"
    }

    static func attachments(_ networks: [ContainerConfig.Attachment]) -> String {
        guard !networks.isEmpty else { return "none" }
        return networks.map { "\($0.network) \($0.addresses.map(\.description).joined(separator: ","))" }.joined(separator: "; ")
    }
}
