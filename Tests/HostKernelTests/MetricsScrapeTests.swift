import Engine
import Foundation
import Kernel
import Logging
import Model
import Runtime
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A strict reader of Prometheus' text format (version 0.0.4): HELP and TYPE
/// once per family and before its samples, a family's samples together,
/// label values with only \\, \" and \n escapes, values as floats.
enum PrometheusParser {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct Family {
        var type: String?
        var help: String?
        var samples: [(labels: [String: String], value: Double)] = []
    }

    static func isName(_ text: Substring, colons: Bool) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first == "_" || (colons && first == ":") else { return false }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || (colons && $0 == ":")) }
    }

    static func parse(_ text: String) throws -> [String: Family] {
        guard text.isEmpty || text.hasSuffix("\n") else { throw Failure(description: "no final line feed") }
        var families: [String: Family] = [:]
        var current: String?
        var finished: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count >= 3, isName(parts[2], colons: true) else { throw Failure(description: "bad line \(line)") }
                let name = String(parts[2])
                if name != current {
                    if let current { finished.insert(current) }
                    if finished.contains(name) { throw Failure(description: "\(name) given again") }
                    current = name
                }
                var family = families[name] ?? Family()
                if parts[1] == "TYPE" {
                    guard family.type == nil, family.samples.isEmpty, parts.count == 4, ["counter", "gauge"].contains(parts[3]) else {
                        throw Failure(description: "bad TYPE \(line)")
                    }
                    family.type = String(parts[3])
                } else {
                    guard family.help == nil else { throw Failure(description: "second HELP \(line)") }
                    family.help = parts.count == 4 ? String(parts[3]) : ""
                }
                families[name] = family
                continue
            }
            guard !line.hasPrefix("#") else { continue }
            var rest = line[...]
            let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
            let name = String(rest[..<nameEnd])
            guard isName(rest[..<nameEnd], colons: true), name == current, var family = families[name], family.type != nil else {
                throw Failure(description: "sample outside its family: \(line)")
            }
            rest = rest[nameEnd...]
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    guard let equals = rest.firstIndex(of: "="), isName(rest[..<equals], colons: false) else {
                        throw Failure(description: "bad label in \(line)")
                    }
                    let label = String(rest[..<equals])
                    rest = rest[rest.index(after: equals)...]
                    guard rest.first == "\"" else { throw Failure(description: "unquoted label in \(line)") }
                    rest = rest.dropFirst()
                    var value = ""
                    while true {
                        guard let character = rest.first else { throw Failure(description: "unterminated label in \(line)") }
                        rest = rest.dropFirst()
                        if character == "\"" { break }
                        if character == "\\" {
                            switch rest.first {
                            case "\\": value.append("\\")
                            case "\"": value.append("\"")
                            case "n": value.append("\n")
                            default: throw Failure(description: "bad escape in \(line)")
                            }
                            rest = rest.dropFirst()
                        } else {
                            value.append(character)
                        }
                    }
                    guard labels.updateValue(value, forKey: label) == nil else { throw Failure(description: "label twice in \(line)") }
                    if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" { throw Failure(description: "bad labels \(line)") }
                }
                rest = rest.dropFirst()
            }
            guard rest.first == " ", let value = Double(rest.dropFirst()) ?? (rest.dropFirst() == "+Inf" ? .infinity : nil) else {
                throw Failure(description: "bad value in \(line)")
            }
            guard !family.samples.contains(where: { $0.labels == labels }) else { throw Failure(description: "sample twice: \(line)") }
            family.samples.append((labels, value))
            families[name] = family
        }
        return families
    }
}

/// The agent's /metrics as Prometheus scrapes it, inside the sandbox's
/// network namespace (127.0.0.1 there is the sandbox's own).
@Suite(.serialized, .enabled(if: Sandbox.isActive, "lane 2: run through scripts/sandbox-run.sh as root"))
struct MetricsScrapeTests {
    /// One request over a fresh connection; the whole answer.
    static func exchange(port: UInt16, _ request: [UInt8]) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SystemError(call: "socket", errno: errno) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SystemError(call: "connect", errno: errno) }
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test func scrapeOfARunningContainerParsesStrictlyWithCadvisorNames() throws {
        let host = try TestHost()
        defer { #expect(host.tearDown() == []) }
        var resources = ResourcesSpec()
        resources.memory = MemorySpec(max: ByteSize(bytes: 64 << 20))
        _ = try host.runtime.start(host.container("m1", command: ["/bin/sleep", "300"]) { $0.resources = resources })
        // The sandbox's own loopback (a new network namespace starts with lo down).
        _ = try Spawn.run(["/usr/sbin/ip", "link", "set", "lo", "up"])
        let responder = try HTTPResponder(address: "127.0.0.1:0")
        let runtime = host.runtime
        try responder.serve { target in
            target == "/metrics" ? (200, PrometheusText.contentType, HostMetrics.text(runtime)) : (404, "text/plain", "no\n")
        }
        let answer = try MetricsScrapeTests.exchange(port: responder.port, Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let parts = answer.components(separatedBy: "\r\n\r\n")
        #expect(parts.first?.hasPrefix("HTTP/1.1 200 OK") == true, "\(answer.prefix(200))")
        #expect(parts.first?.contains("Content-Type: text/plain; version=0.0.4") == true)
        let body = parts.dropFirst().joined(separator: "\r\n\r\n")
        let families = try PrometheusParser.parse(body)
        #expect(families["container_spec_memory_limit_bytes"]?.samples.first { $0.labels["name"] == "m1" }?.value == Double(64 << 20))
        #expect((families["container_memory_usage_bytes"]?.samples.first { $0.labels["name"] == "m1" }?.value ?? 0) > 0)
        #expect(families["container_cpu_usage_seconds_total"]?.type == "counter")
        let sleeping = families["container_tasks_state"]?.samples.first { $0.labels == ["name": "m1", "state": "sleeping"] }
        #expect(sleeping?.value == 1)
        #expect(families["berth_container_running"]?.samples.first?.value == 1)
        #expect(families["berth_failcnt"]?.samples.contains { $0.labels["resource"] == "physpages" } == true)

        // The same text as `berth metrics` prints.
        let printed = try Spawn.run([
            ContainerCLITests.binary, "metrics", "--state-dir", host.root + "/state", "--run-dir", host.root + "/run", "--cgroup-parent",
            host.parent,
        ])
        let cli = try PrometheusParser.parse(String(decoding: printed.output, as: UTF8.self))
        #expect(Set(cli.keys) == Set(families.keys))

        // Bounded: another path, another method, a head past the cap.
        #expect(try MetricsScrapeTests.exchange(port: responder.port, Array("GET / HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 404"))
        #expect(try MetricsScrapeTests.exchange(port: responder.port, Array("POST /metrics HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 405"))
        let huge = "GET /metrics HTTP/1.1\r\nX: " + String(repeating: "a", count: 20000) + "\r\n\r\n"
        #expect(try MetricsScrapeTests.exchange(port: responder.port, Array(huge.utf8)).hasPrefix("HTTP/1.1 431"))
        #expect(try MetricsScrapeTests.exchange(port: responder.port, Array("nonsense\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400"))
    }

    /// `berth agent --metrics`: its last pass and its drift count, scraped.
    @Test func agentServesMetricsWithItsLastPassAndDriftCount() throws {
        let host = try TestHost()
        let manifests = host.root + "/manifests"
        try FileManager.default.createDirectory(atPath: manifests, withIntermediateDirectories: true)
        try AgentTests.save(AgentTests.manifest("c1"), to: manifests + "/c1.yaml")
        _ = try Spawn.run(["/usr/sbin/ip", "link", "set", "lo", "up"])
        let port = UInt16.random(in: 20000...60000)
        let agent = try AgentTests.AgentProcess(host, ["--manifests", manifests, "--interval", "1h", "--metrics", "127.0.0.1:\(port)"])
        defer {
            agent.kill()
            #expect(host.tearDown() == [])
        }
        #expect(agent.waitFor(seconds: 90) { $0.contains("READY=1") } != nil, "\(agent.output)")
        func scrape() throws -> [String: PrometheusParser.Family] {
            let answer = try MetricsScrapeTests.exchange(port: port, Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(answer.hasPrefix("HTTP/1.1 200 OK"), "\(answer.prefix(200))")
            return try PrometheusParser.parse(answer.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n"))
        }
        var families = try scrape()
        #expect(families["berth_agent_passes_total"]?.samples.first?.value == 1)
        #expect(families["berth_drift_fields"]?.samples.first?.value == 0)
        #expect((families["berth_last_pass_timestamp_seconds"]?.samples.first?.value ?? 0) > 1_700_000_000)
        #expect(families["container_spec_memory_limit_bytes"]?.samples.first { $0.labels["name"] == "c1" }?.value == Double(64 << 20))

        // Drift behind berth's back, then a pass (SIGHUP): counted, and repaired.
        let record = try #require(host.runtime.state.load("c1"))
        var lowered = CgroupLimits()
        lowered.memoryMax = 32 << 20
        _ = try host.runtime.cgroups.apply(lowered, to: try CgroupPath(record.cgroup))
        agent.signal(SIGHUP)
        #expect(eventually { ((try? scrape())?["berth_agent_passes_total"]?.samples.first?.value ?? 0) >= 2 }, "\(agent.output)")
        families = try scrape()
        // One per drifted field (memory.max, and what follows it on this hierarchy).
        #expect((families["berth_drift_fields"]?.samples.first?.value ?? 0) >= 1)
        #expect(families["container_spec_memory_limit_bytes"]?.samples.first { $0.labels["name"] == "c1" }?.value == Double(64 << 20))
    }
}
