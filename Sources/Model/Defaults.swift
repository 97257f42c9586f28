/// Defaults, set once when manifests are resolved (as Kubernetes'
/// SetDefaults_PodSpec): the planner, the runtime and the records then see
/// the values that apply, never "unset", and a record written with one
/// version of berth compares equal to the manifest that made it.
public enum Defaults {
    public static let state = DesiredRunState.running
    public static let restartPolicy = RestartPolicy.never
    public static let stopTimeout = Interval(milliseconds: 10_000)
    public static let drift = DriftPolicy.enforce
    public static let cpuWeight = 100
    public static let ioWeight = 100
    /// A bridge's MTU when the manifest gives none (the kernel's for Ethernet).
    public static let bridgeMTU = 1500
    public static let initCommand = ["/sbin/init"]
    public static let workingDir = "/"
    public static let logDriver = LogDriver.file
    /// The Profile merged first into every container that does not opt out
    /// (`spec.profiles: []`), when the manifests define one: the host's
    /// default limits, as OpenVZ's default container config gives them.
    public static let profileName = "default"
}

extension ContainerObject {
    /// This container with every defaulted field filled in.
    public func defaulted() -> ContainerObject {
        var copy = self
        copy.spec = spec.defaulted(name: metadata.name)
        return copy
    }
}

extension ContainerSpec {
    /// The spec with its defaults: state, restart policy, stop timeout, drift
    /// policy, hostname (the container's name), init, rootfs persistence and
    /// the security flags. Resource fields left out stay nil: nil is a value
    /// there ("no limit"), and the kernel's default weight is 100.
    public func defaulted(name: String) -> ContainerSpec {
        var spec = self
        spec.state = state ?? Defaults.state
        spec.logs = LogsSpec(driver: logs?.driver ?? Defaults.logDriver)
        spec.restartPolicy = restartPolicy ?? Defaults.restartPolicy
        spec.stopTimeout = stopTimeout ?? Defaults.stopTimeout
        spec.policy = ObjectPolicy(drift: policy?.drift ?? Defaults.drift)
        spec.hostname = hostname ?? name
        spec.`init` = InitSpec(command: `init`?.command ?? Defaults.initCommand, workingDir: `init`?.workingDir ?? Defaults.workingDir)
        if let rootfs { spec.rootfs = RootfsSpec(source: rootfs.source, persistent: rootfs.persistent ?? false) }
        var security = self.security ?? SecuritySpec()
        security.privileged = security.privileged ?? false
        security.noNewPrivileges = security.noNewPrivileges ?? true
        security.seccomp = security.seccomp ?? .default
        spec.security = security
        return spec
    }

    /// The state it should be in (the default once defaults are set).
    public var desiredState: DesiredRunState { state ?? Defaults.state }
    public var effectiveRestartPolicy: RestartPolicy { restartPolicy ?? Defaults.restartPolicy }
    public var effectiveStopTimeout: Interval { stopTimeout ?? Defaults.stopTimeout }
    public var driftPolicy: DriftPolicy { policy?.drift ?? Defaults.drift }
    /// Where the init's output goes (file for a record written before berth had logs).
    public var logDriver: LogDriver { logs?.driver ?? Defaults.logDriver }
}

extension NetworkObject {
    public func defaulted() -> NetworkObject {
        var copy = self
        copy.spec.policy = ObjectPolicy(drift: spec.policy?.drift ?? Defaults.drift)
        return copy
    }
}

extension DesiredHost {
    /// Every object with its defaults.
    public func defaulted() -> DesiredHost {
        DesiredHost(host: host, networks: networks.map { $0.defaulted() }, containers: containers.map { $0.defaulted() })
    }
}
