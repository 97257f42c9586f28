import Model

/// Fields that take effect only when the container starts again, and those
/// only berth's record holds. docs/manifests.md ("Field contract") lists
/// every field's class; Tests/schema/test_field_contract.py keeps it whole.
enum RestartFields {
    /// Fields applied at the next start: (field, desired, recorded).
    static func changes(desired: ContainerSpec, recorded: ContainerSpec, networksLive: Bool) -> [FieldChange] {
        var changes: [FieldChange] = []
        func add(_ field: String, _ changed: Bool, _ wanted: String, _ had: String) {
            if changed { changes.append(FieldChange(field, desired: .text(wanted), observed: .text(had), origin: .manifest)) }
        }
        add("spec.hostname", desired.hostname != recorded.hostname, desired.hostname ?? "-", recorded.hostname ?? "-")
        add(
            "spec.init.command", desired.`init`?.command != recorded.`init`?.command, words(desired.`init`?.command),
            words(recorded.`init`?.command))
        add(
            "spec.init.workingDir", desired.`init`?.workingDir != recorded.`init`?.workingDir, desired.`init`?.workingDir ?? "/",
            recorded.`init`?.workingDir ?? "/")
        add("spec.env", desired.env != recorded.env, environment(desired.env), environment(recorded.env))
        add("spec.mounts", desired.mounts != recorded.mounts, mounts(desired.mounts), mounts(recorded.mounts))
        add(
            "spec.capabilities", desired.capabilities != recorded.capabilities, capabilities(desired.capabilities),
            capabilities(recorded.capabilities))
        add("spec.security", desired.security != recorded.security, security(desired.security), security(recorded.security))
        add("spec.devices", desired.devices != recorded.devices, devices(desired.devices), devices(recorded.devices))
        add(
            "spec.userNamespace", desired.userNamespace != recorded.userNamespace, userNamespace(desired.userNamespace),
            userNamespace(recorded.userNamespace))
        add(
            "spec.networks", !networksLive && desired.networks != recorded.networks, attachments(desired.networks),
            attachments(recorded.networks))
        return changes
    }

    /// Fields that change berth's behaviour and nothing in the kernel.
    static func recordOnly(desired: ContainerSpec, recorded: ContainerSpec) -> [FieldChange] {
        var changes: [FieldChange] = []
        func add(_ field: String, _ wanted: String?, _ had: String?) {
            if wanted != had {
                changes.append(FieldChange(field, desired: .text(wanted ?? "-"), observed: .text(had ?? "-"), origin: .manifest))
            }
        }
        add("spec.restartPolicy", desired.restartPolicy?.rawValue, recorded.restartPolicy?.rawValue)
        add("spec.stopTimeout", desired.stopTimeout?.description, recorded.stopTimeout?.description)
        add("spec.rootfs.persistent", desired.rootfs?.persistent.map { "\($0)" }, recorded.rootfs?.persistent.map { "\($0)" })
        add("spec.policy.drift", desired.policy?.drift?.rawValue, recorded.policy?.drift?.rawValue)
        add("spec.placement", desired.placement.map { "\($0)" }, recorded.placement.map { "\($0)" })
        add("spec.profiles", desired.profiles?.joined(separator: ","), recorded.profiles?.joined(separator: ","))
        return changes
    }

    /// The container's /proc for a stopped container's record: true, false
    /// or unset (LXCFS's where it is live). A running one's is observed
    /// (Planner.procChange).
    static func procRecord(desired: ContainerSpec, recorded: ContainerSpec) -> [FieldChange] {
        func text(_ value: Bool?) -> String { value.map(proc) ?? "lxcfs where it runs" }
        guard desired.proc?.virtualize != recorded.proc?.virtualize else { return [] }
        return [
            FieldChange(
                "spec.proc.virtualize", desired: .text(text(desired.proc?.virtualize)), observed: .text(text(recorded.proc?.virtualize)),
                origin: .manifest)
        ]
    }

    /// How /proc looks: "lxcfs" (the container's) or "host".
    static func proc(_ virtualized: Bool) -> String { virtualized ? "lxcfs" : "host" }

    static func words(_ list: [String]?) -> String { list.map { $0.joined(separator: " ") } ?? "-" }

    static func environment(_ env: [String: String]?) -> String {
        guard let env, !env.isEmpty else { return "none" }
        return env.keys.sorted().joined(separator: ",")
    }

    static func mounts(_ mounts: [MountSpec]?) -> String {
        guard let mounts, !mounts.isEmpty else { return "none" }
        return mounts.map { "\($0.type.rawValue) \($0.source ?? "") \($0.destination)\($0.readOnly == true ? " ro" : "")" }
            .joined(separator: ", ")
    }

    static func capabilities(_ capabilities: CapabilitiesSpec?) -> String {
        "add [\((capabilities?.add ?? []).joined(separator: ","))] drop [\((capabilities?.drop ?? []).joined(separator: ","))]"
    }

    static func security(_ security: SecuritySpec?) -> String {
        "privileged \(security?.privileged ?? false), noNewPrivileges \(security?.noNewPrivileges ?? true), "
            + "seccomp \(security?.seccomp?.rawValue ?? "default"), nestedUserNamespaces \(security?.nestedUserNamespaces ?? false)"
    }

    static func devices(_ devices: [DeviceSpec]?) -> String {
        guard let devices, !devices.isEmpty else { return "standard only" }
        return devices.map { "\($0.path) \($0.access ?? "rw")" }.joined(separator: ", ")
    }

    static func userNamespace(_ userNamespace: UserNamespaceSpec?) -> String {
        guard let userNamespace else { return "none" }
        func ranges(_ map: [IDRange]) -> String { map.map { "\($0.containerID):\($0.hostID):\($0.size)" }.joined(separator: ",") }
        return "uid \(ranges(userNamespace.uidMap)) gid \(ranges(userNamespace.gidMap ?? userNamespace.uidMap))"
    }

    static func attachments(_ networks: [NetworkAttachment]?) -> String {
        guard let networks, !networks.isEmpty else { return "none" }
        return networks.map { "\($0.network) \($0.addresses.map(\.description).joined(separator: ","))" }.joined(separator: "; ")
    }
}
