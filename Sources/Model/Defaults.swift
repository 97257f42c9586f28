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
    /// A device's access when the manifest gives none.
    public static let deviceAccess = "rw"
    public static let logDriver = LogDriver.file
    /// The Profile merged first into every container that does not opt out
    /// (`spec.profiles: []`), when the manifests define one: the host's
    /// default limits, as OpenVZ's default container config gives them.
    public static let profileName = "default"
}
