import FoundationEssentials
import Kernel
import Model
import Netlink
import Runtime

/// What the agent's last pass did, kept in the run dir for `berth metrics`
/// and the agent's /metrics (the same text either way).
public struct AgentPassRecord: Codable, Sendable, Equatable {
    /// When the pass ended (seconds since the epoch).
    public var finished: Double
    public var durationSeconds: Double
    /// Differences the kernel has behind berth's back (drift), at that pass.
    public var drifts: Int
    public var changes: Int
    public var failures: Int
    public var passes: Int

    public init(finished: Double, durationSeconds: Double, drifts: Int, changes: Int, failures: Int, passes: Int) {
        self.finished = finished
        self.durationSeconds = durationSeconds
        self.drifts = drifts
        self.changes = changes
        self.failures = failures
        self.passes = passes
    }

    static func path(_ paths: RuntimePaths) -> String { paths.runDirectory.string + "/agent-pass.json" }

    /// The last pass's record (nil: no agent has run a pass on this run dir).
    public static func load(_ paths: RuntimePaths) -> AgentPassRecord? {
        guard let bytes = try? Syscall.readFile(path(paths), limit: 64 << 10) else { return nil }
        return try? JSONDecoder().decode(AgentPassRecord.self, from: Data(bytes))
    }

    /// Written whole (temp file, rename): a scrape never reads half of it.
    public func save(_ paths: RuntimePaths) throws {
        let data = try JSONEncoder().encode(self)
        try Syscall.writeAtomically(Array(data), to: AgentPassRecord.path(paths), mode: 0o644, durable: false)
    }
}

/// One container's figures as the kernel has them, read for a scrape.
public struct ContainerSample: Sendable, Equatable {
    public var name: String
    public var running: Bool
    public var usage: CgroupObservation?
    /// Tasks by cadvisor's state names (running, sleeping, stopped, uninterruptible, iowait).
    public var tasks: [String: UInt64] = [:]
    /// Per interface inside its network namespace (lo left out).
    public var interfaces: [(name: String, statistics: LinkStatistics)] = []
    public var diskUsedBytes: UInt64?
    public var diskLimitBytes: UInt64?
    /// Writes its disk quota refused, as the agent counts them from the
    /// kernel's quota warnings (nil: no agent counts them now).
    public var diskRefusals: DiskRefusals?
    public var startSeconds: Double?

    public init(name: String, running: Bool, usage: CgroupObservation? = nil) {
        self.name = name
        self.running = running
        self.usage = usage
    }

    public static func == (lhs: ContainerSample, rhs: ContainerSample) -> Bool {
        lhs.name == rhs.name && lhs.running == rhs.running && lhs.usage == rhs.usage && lhs.tasks == rhs.tasks
            && lhs.interfaces.map(\.name) == rhs.interfaces.map(\.name) && lhs.interfaces.map(\.statistics) == rhs.interfaces.map(\.statistics)
            && lhs.diskUsedBytes == rhs.diskUsedBytes && lhs.diskLimitBytes == rhs.diskLimitBytes && lhs.startSeconds == rhs.startSeconds
            && lhs.diskRefusals == rhs.diskRefusals
    }
}

/// Metrics of this berth instance in cadvisor's names (labelled
/// name=CONTAINER) and berth_* for the agent.
public enum HostMetrics {
    /// Every container of the instance, read from the kernel now.
    public static func sample(_ runtime: ContainerRuntime) -> [ContainerSample] {
        let now = WallClock.seconds()
        return runtime.list().map { entry in
            let record = entry.record
            var sample = ContainerSample(name: record.name, running: false, usage: entry.usage)
            guard case .running(let pid) = entry.status else { return sample }
            sample.running = true
            if let group = try? CgroupPath(record.cgroup), let pids = try? runtime.cgroups.processes(in: group) {
                for state in taskStates { sample.tasks[state] = 0 }
                for pid in pids {
                    guard let stat = ProcessStat.read(pid), let state = taskState(stat.state) else { continue }
                    sample.tasks[state, default: 0] += 1
                }
            }
            sample.interfaces = interfaces(pid: pid)
            if record.diskImage != nil, let usage = runtime.state.diskImage(record.name).usage() {
                sample.diskUsedBytes = usage.usedBytes
                sample.diskLimitBytes = usage.capacityBytes
            } else if record.diskProject != nil, let quota = runtime.diskQuota(record) {
                sample.diskUsedBytes = quota.usedBytes
                sample.diskLimitBytes = quota.size
            }
            if record.diskImage != nil || record.diskProject != nil, runtime.quotaWarningsCounted {
                sample.diskRefusals = runtime.diskRefusals(record)
            }
            if let start = record.startTime, let running = ProcessStat.secondsRunning(startTime: start) {
                sample.startSeconds = (now - Double(running)).rounded()
            }
            return sample
        }
    }

    static let taskStates = ["running", "sleeping", "stopped", "uninterruptible", "iowait"]

    /// cadvisor's name for a /proc/PID/stat state letter (nil: a zombie or dead task).
    static func taskState(_ letter: Character) -> String? {
        switch letter {
        case "R": return "running"
        case "S", "I": return "sleeping"
        case "D": return "uninterruptible"
        case "T", "t": return "stopped"
        default: return nil
        }
    }

    /// Link counters inside the namespace of `pid` (rtnetlink), lo left out.
    static func interfaces(pid: Int32) -> [(name: String, statistics: LinkStatistics)] {
        guard let links = try? RouteNetlink.inNamespace(ofProcess: pid).links() else { return [] }
        return links.filter { $0.name != "lo" }.compactMap { link in link.statistics.map { (link.name, $0) } }.sorted { $0.name < $1.name }
    }

    /// The families for these containers and the agent's last pass.
    public static func families(_ containers: [ContainerSample], agent: AgentPassRecord?) -> [MetricFamily] {
        func family(_ name: String, _ type: MetricType, _ help: String, _ value: (ContainerSample) -> [MetricSample]) -> MetricFamily {
            MetricFamily(name, type, help: help, samples: containers.flatMap(value))
        }
        func one(_ sample: ContainerSample, _ value: UInt64?) -> [MetricSample] {
            value.map { [MetricSample([("name", sample.name)], .integer($0))] } ?? []
        }
        var families = [
            family("container_cpu_usage_seconds_total", .counter, "Cumulative CPU time consumed, in seconds.") { sample in
                sample.usage?.cpuUsageNanos.map { [MetricSample([("name", sample.name), ("cpu", "total")], .real(Double($0) / 1e9))] } ?? []
            },
            family("container_memory_usage_bytes", .gauge, "Current memory usage, in bytes (memory.current, v1 memory.usage_in_bytes).") {
                one($0, $0.usage?.memoryCurrent)
            },
            family("container_memory_max_usage_bytes", .gauge, "Maximum memory usage recorded, in bytes.") { one($0, $0.usage?.memoryPeak) },
            family("container_memory_failcnt", .counter, "Number of times the memory limit was hit.") { one($0, $0.usage?.memoryFailures) },
            family("container_oom_events_total", .counter, "Number of OOM kills in the container.") { one($0, $0.usage?.oomKills) },
            family("container_spec_memory_limit_bytes", .gauge, "Memory limit of the container, in bytes (0: none).") { sample in
                sample.usage.map { [MetricSample([("name", sample.name)], .integer($0.limits.memoryMax ?? 0))] } ?? []
            },
            family("container_processes", .gauge, "Number of processes running inside the container.") { sample in
                one(sample, sample.usage?.pidsCurrent.map { UInt64(max(0, $0)) })
            },
            family("container_tasks_state", .gauge, "Number of tasks in the given state.") { sample in
                taskStates.compactMap { state in
                    sample.tasks[state].map { MetricSample([("name", sample.name), ("state", state)], .integer($0)) }
                }
            },
            family("container_fs_usage_bytes", .gauge, "Bytes used by the container's disk quota (image or project).") { one($0, $0.diskUsedBytes) },
            family("container_fs_limit_bytes", .gauge, "Bytes the container's disk quota allows (image or project).") { one($0, $0.diskLimitBytes) },
            family("container_network_receive_bytes_total", .counter, "Cumulative count of bytes received.") { sample in
                sample.interfaces.map { MetricSample([("name", sample.name), ("interface", $0.name)], .integer($0.statistics.receiveBytes)) }
            },
            family("container_network_transmit_bytes_total", .counter, "Cumulative count of bytes transmitted.") { sample in
                sample.interfaces.map { MetricSample([("name", sample.name), ("interface", $0.name)], .integer($0.statistics.transmitBytes)) }
            },
            family("container_network_receive_packets_total", .counter, "Cumulative count of packets received.") { sample in
                sample.interfaces.map { MetricSample([("name", sample.name), ("interface", $0.name)], .integer($0.statistics.receivePackets)) }
            },
            family("container_network_transmit_packets_total", .counter, "Cumulative count of packets transmitted.") { sample in
                sample.interfaces.map {
                    MetricSample([("name", sample.name), ("interface", $0.name)], .integer($0.statistics.transmitPackets))
                }
            },
            family("container_start_time_seconds", .gauge, "Start time of the container since the Unix epoch, in seconds.") { sample in
                sample.startSeconds.map { [MetricSample([("name", sample.name)], .real($0))] } ?? []
            },
            family("berth_container_running", .gauge, "Whether the container's init runs (1) or not (0).") { sample in
                [MetricSample([("name", sample.name)], .integer(sample.running ? 1 : 0))]
            },
            family("berth_failcnt", .counter, "How often a limit refused something, by beancounter resource.") { sample in
                [
                    ("physpages", sample.usage?.memoryFailures), ("numproc", sample.usage?.pidsFailures), ("oomguarpages", sample.usage?.oomKills),
                    ("diskspace", sample.diskRefusals?.space), ("diskinodes", sample.diskRefusals?.inodes),
                ]
                .compactMap { resource, count in
                    count.map { MetricSample([("name", sample.name), ("resource", resource)], .integer($0)) }
                }
            },
        ]
        if let agent {
            families += [
                MetricFamily(
                    "berth_drift_fields", .gauge, help: "Fields that differed from the manifests behind berth's back at the last pass.",
                    samples: [MetricSample([], .integer(UInt64(max(0, agent.drifts))))]),
                MetricFamily(
                    "berth_last_pass_timestamp_seconds", .gauge, help: "When the agent's last pass ended, since the Unix epoch.",
                    samples: [MetricSample([], .real(agent.finished.rounded()))]),
                MetricFamily(
                    "berth_last_pass_duration_seconds", .gauge, help: "How long the agent's last pass took.",
                    samples: [MetricSample([], .real(agent.durationSeconds))]),
                MetricFamily(
                    "berth_last_pass_changes", .gauge, help: "Actions the agent's last pass carried out.",
                    samples: [MetricSample([], .integer(UInt64(max(0, agent.changes))))]),
                MetricFamily(
                    "berth_last_pass_failures", .gauge, help: "Actions of the agent's last pass that failed.",
                    samples: [MetricSample([], .integer(UInt64(max(0, agent.failures))))]),
                MetricFamily(
                    "berth_agent_passes_total", .counter, help: "Passes the agent ran since it started.",
                    samples: [MetricSample([], .integer(UInt64(max(0, agent.passes))))]),
            ]
        }
        return families
    }

    /// The whole text, as `berth metrics` prints it and /metrics serves it.
    public static func text(_ runtime: ContainerRuntime) -> String {
        PrometheusText.render(families(sample(runtime), agent: AgentPassRecord.load(runtime.paths)))
    }
}
