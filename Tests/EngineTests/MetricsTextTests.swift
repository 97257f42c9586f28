import Kernel
import Netlink
import Runtime
import Testing

@testable import Engine

/// Prometheus' text format as berth writes it, read back by a strict parser.
@Suite struct MetricsTextTests {
    @Test func familiesRenderHelpTypeAndEscapedLabels() {
        let family = MetricFamily(
            "container_memory_usage_bytes", .gauge, help: "Memory \\ in\nbytes.",
            samples: [MetricSample([("name", "we\"b\\1\n")], .integer(UInt64.max)), MetricSample([("name", "b")], .real(0.5))])
        #expect(
            PrometheusText.render([family, MetricFamily("empty_total", .counter, help: "left out")])
                == """
                # HELP container_memory_usage_bytes Memory \\\\ in\\nbytes.
                # TYPE container_memory_usage_bytes gauge
                container_memory_usage_bytes{name="we\\"b\\\\1\\n"} 18446744073709551615
                container_memory_usage_bytes{name="b"} 0.5

                """)
    }

    @Test(arguments: [
        (MetricValue.real(3), "3"), (.real(-0.25), "-0.25"), (.real(.nan), "NaN"), (.real(.infinity), "+Inf"), (.real(-.infinity), "-Inf"),
        (.integer(0), "0"),
    ])
    func valuesAreWrittenAsPrometheusReadsThem(value: MetricValue, text: String) {
        #expect(value.description == text)
    }

    @Test func containersGiveCadvisorNamesAndBerthFailcnt() throws {
        var usage = CgroupObservation()
        usage.memoryCurrent = 64 << 20
        usage.memoryFailures = 3
        usage.pidsFailures = 1
        usage.oomKills = 0
        usage.cpuUsageNanos = 1_500_000_000
        usage.limits.memoryMax = 128 << 20
        usage.pidsCurrent = 2
        var web = ContainerSample(name: "web", running: true, usage: usage)
        web.tasks = ["running": 1, "sleeping": 1, "stopped": 0, "uninterruptible": 0, "iowait": 0]
        let stats = try #require(LinkStatistics(stats64: (1...8).flatMap { value in withUnsafeBytes(of: UInt64(value).littleEndian, Array.init) }))
        web.interfaces = [("eth0", stats)]
        web.diskRefusals = DiskRefusals(space: 2, inodes: 0)
        let stopped = ContainerSample(name: "db", running: false)
        let text = PrometheusText.render(
            HostMetrics.families(
                [web, stopped],
                agent: AgentPassRecord(finished: 1_700_000_000.4, durationSeconds: 0.25, drifts: 2, changes: 1, failures: 0, passes: 7)))
        for line in [
            "container_cpu_usage_seconds_total{name=\"web\",cpu=\"total\"} 1.5",
            "container_memory_usage_bytes{name=\"web\"} 67108864",
            "container_memory_failcnt{name=\"web\"} 3",
            "container_spec_memory_limit_bytes{name=\"web\"} 134217728",
            "container_tasks_state{name=\"web\",state=\"sleeping\"} 1",
            "container_network_receive_bytes_total{name=\"web\",interface=\"eth0\"} 3",
            "container_network_transmit_bytes_total{name=\"web\",interface=\"eth0\"} 4",
            "berth_container_running{name=\"db\"} 0",
            "berth_failcnt{name=\"web\",resource=\"numproc\"} 1",
            "berth_failcnt{name=\"web\",resource=\"diskspace\"} 2",
            "berth_failcnt{name=\"web\",resource=\"diskinodes\"} 0",
            "berth_drift_fields 2",
            "berth_last_pass_timestamp_seconds 1700000000",
            "berth_last_pass_duration_seconds 0.25",
            "# TYPE container_cpu_usage_seconds_total counter",
        ] {
            #expect(text.split(separator: "\n").contains(Substring(line)), "missing \(line) in\n\(text)")
        }
        #expect(!text.contains("name=\"db\",cpu"))
    }

    @Test func agentFiguresOnlyWhenAnAgentRan() {
        let text = PrometheusText.render(HostMetrics.families([], agent: nil))
        #expect(text.isEmpty)
    }

    @Test(arguments: [
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", HTTPRequestHead.Parsed.request(HTTPRequestHead(method: "GET", target: "/metrics"))),
        ("GET /metrics HTTP/1.0\r\n\r\n", .request(HTTPRequestHead(method: "GET", target: "/metrics"))),
        ("GET metrics HTTP/1.1\r\n\r\n", .bad(status: 400, reason: "Bad Request")),
        ("GET /metrics HTTP/2\r\n\r\n", .bad(status: 400, reason: "Bad Request")),
        ("GET  /metrics HTTP/1.1\r\n\r\n", .bad(status: 400, reason: "Bad Request")),
        ("\r\n\r\n", .bad(status: 400, reason: "Bad Request")),
        ("GET /metrics HTTP/1.1", .bad(status: 400, reason: "Bad Request")),
    ])
    func requestLinesAreParsedStrictly(request: String, parsed: HTTPRequestHead.Parsed) {
        #expect(HTTPRequestHead.parse(Array(request.utf8)) == parsed)
    }

    @Test(arguments: [
        ("127.0.0.1:9464", "127.0.0.1", UInt16(9464)), ("[::1]:80", "::1", 80), ("0.0.0.0:0", "0.0.0.0", 0),
    ])
    func addressesSplit(address: String, host: String, port: UInt16) {
        #expect(HTTPResponder.split(address).map { [$0.0, "\($0.1)"] } == [host, "\(port)"])
    }

    @Test(arguments: ["9464", ":9464", "localhost", "127.0.0.1:99999", "127.0.0.1:"])
    func badAddressesAreRefused(address: String) {
        #expect(HTTPResponder.split(address) == nil)
    }
}
