import ArgumentParser
import Engine
import Kernel

/// `berth metrics`: the Prometheus text the agent's /metrics serves, for
/// node_exporter's textfile collector or a look by hand.
struct Metrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print container and agent metrics in Prometheus' text format.",
        discussion: """
            cadvisor's names (container_cpu_usage_seconds_total, container_memory_usage_bytes, \
            container_memory_failcnt, container_network_receive_bytes_total, container_tasks_state, ...) \
            labelled name=CONTAINER, and berth_* for failcnt by beancounter resource and the agent's last \
            pass (drift count, timestamp, duration) when an agent runs on this run dir. `berth agent \
            --metrics ADDR` serves the same text at /metrics.
            """)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        print(HostMetrics.text(try RuntimeContext.runtime(global)), terminator: "")
    }
}
