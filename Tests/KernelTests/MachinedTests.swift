import Foundation
import Testing

@testable import Kernel

/// systemd-machined registration: the registration checked before any bus
/// is opened, and the call as it goes on the wire, seen by dbus-monitor on a
/// private dbus-daemon of the test's own (no root; no machined: the bus
/// answers ServiceUnknown, which berth takes as "no machined here").
@Suite(.serialized) struct MachinedTests {
    @Test func aRegistrationNamesAContainerWithItsLeaderRootAndInterfaces() throws {
        let machine = try #require(MachineRegistration(name: "web1", leader: 4242, rootDirectory: "/run/berth/web1/rootfs", interfaces: [7]))
        #expect(machine.service == "berth")
        #expect(machine.machineClass == "container")
        #expect(machine.leader == 4242)
        #expect(machine.id.isEmpty)
        #expect(MachineRegistration.signature == "sayssusai")
    }

    @Test(arguments: [
        ("", 1, "/r"), ("Web1", 1, "/r"), ("-web", 1, "/r"), (String(repeating: "a", count: 65), 1, "/r"), ("web1", 0, "/r"),
        ("web1", 1, "relative"),
    ])
    func whatMachinedWouldRefuseIsNotSent(name: String, leader: Int32, root: String) {
        #expect(MachineRegistration(name: name, leader: leader, rootDirectory: root, interfaces: []) == nil)
    }

    @Test func withoutABusRegistrationIsSkippedAsAbsent() {
        setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/berth-test/bus", 1)
        defer { unsetenv("DBUS_SYSTEM_BUS_ADDRESS") }
        guard let machine = MachineRegistration(name: "web1", leader: 1, rootDirectory: "/", interfaces: []) else { return }
        #expect(throws: Machined.Failure.self) { try Machined.register(machine) }
        do {
            try Machined.register(machine)
        } catch {
            #expect(error.isAbsent, "\(error)")
        }
    }

    @Test(.enabled(if: access("/run/dbus/system_bus_socket", F_OK) != 0, "a host without a system bus socket"))
    func withoutABusSocketRegistrationIsAbsentBeforeLibsystemd() {
        let saved = getenv("DBUS_SYSTEM_BUS_ADDRESS").map { String(cString: $0) }
        unsetenv("DBUS_SYSTEM_BUS_ADDRESS")
        defer { if let saved { setenv("DBUS_SYSTEM_BUS_ADDRESS", saved, 1) } }
        guard let machine = MachineRegistration(name: "web1", leader: 1, rootDirectory: "/", interfaces: []) else { return }
        #expect(Machined.systemBusIsAbsent)
        do {
            try Machined.register(machine)
            Issue.record("registered without a bus")
        } catch {
            #expect(error.isAbsent && error.message.contains("no system bus"), "\(error)")
        }
    }

    @Test(.enabled(if: PrivateBus.isAvailable, "needs dbus-daemon and dbus-monitor"))
    func theCallsGoOnTheWireWithTheirArguments() throws {
        let bus = try PrivateBus()
        defer { bus.tearDown() }
        let machine = try #require(MachineRegistration(name: "web1", leader: 4242, rootDirectory: "/run/berth/web1/rootfs", interfaces: [7, 9]))
        var failure: Machined.Failure?
        do { try Machined.register(machine) } catch { failure = error }
        #expect(failure?.isAbsent == true, "\(String(describing: failure))")
        #expect(failure?.message.contains("org.freedesktop.DBus.Error.ServiceUnknown") == true)
        #expect(throws: Machined.Failure.self) { try Machined.unregister("web1") }

        let seen = bus.seen(until: "member=UnregisterMachine")
        let arguments = try #require(bus.arguments(of: "RegisterMachineWithNetwork", in: seen, count: 12), "\(seen)")
        #expect(seen.contains("destination=org.freedesktop.machine1"))
        #expect(seen.contains("interface=org.freedesktop.machine1.Manager"))
        // s name, ay id (empty), s service, s class, u leader, s root, ai interfaces.
        #expect(
            Array(arguments.prefix(11)) == [
                "string \"web1\"", "array [", "]", "string \"berth\"", "string \"container\"", "uint32 4242",
                "string \"/run/berth/web1/rootfs\"", "array [", "int32 7", "int32 9", "]",
            ], "\(arguments)")
        #expect(bus.arguments(of: "UnregisterMachine", in: seen, count: 1) == ["string \"web1\""])
    }
}

/// A dbus-daemon of the test's own as the system bus (DBUS_SYSTEM_BUS_ADDRESS,
/// set until tearDown), with dbus-monitor writing every message down. It has
/// no services: every call is answered ServiceUnknown, and is seen on the wire.
final class PrivateBus {
    static let isAvailable =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/dbus-daemon") && FileManager.default.isExecutableFile(atPath: "/usr/bin/dbus-monitor")
    let directory = NSTemporaryDirectory() + "berth-bus-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let daemon: pid_t
    let monitor: pid_t
    var log: String { directory + "/monitor.txt" }

    init() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let address = "unix:path=\(directory)/bus"
        daemon = try Spawn.start(["/usr/bin/dbus-daemon", "--session", "--nofork", "--address=\(address)"])
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: directory + "/bus") { usleep(10_000) }
        monitor = try Spawn.start(["/usr/bin/dbus-monitor", "--address", address], outputPath: directory + "/monitor.txt")
        for _ in 0..<200 where !text().contains("NameAcquired") && !text().contains("member=BecomeMonitor") { usleep(10_000) }
        usleep(100_000)
        setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1)
    }

    func text() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// What the monitor wrote, once it holds `marker` (2 s at most).
    func seen(until marker: String) -> String {
        var seen = ""
        for _ in 0..<200 {
            seen = text()
            if seen.contains(marker) { break }
            usleep(10_000)
        }
        return seen
    }

    /// The lines after the first call of `member`, trimmed.
    func arguments(of member: String, in seen: String, count: Int) -> [String]? {
        guard let call = seen.range(of: "member=" + member) else { return nil }
        return seen[call.upperBound...].split(separator: "\n").prefix(count).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The arguments of the first call of `member` as one line (words
    /// separated by single spaces), up to the next message.
    func call(_ member: String, in seen: String) -> String? {
        guard let call = seen.range(of: "member=" + member) else { return nil }
        let lines = seen[call.upperBound...].split(separator: "\n").prefix {
            !$0.hasPrefix("method call") && !$0.hasPrefix("error") && !$0.hasPrefix("signal") && !$0.hasPrefix("method return")
        }
        return lines.flatMap { $0.split(whereSeparator: \.isWhitespace) }.joined(separator: " ")
    }

    func tearDown() {
        unsetenv("DBUS_SYSTEM_BUS_ADDRESS")
        for pid in [monitor, daemon] {
            kill(pid, SIGTERM)
            _ = Reaper.wait(pid)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
