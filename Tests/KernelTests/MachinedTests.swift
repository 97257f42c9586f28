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

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/dbus-daemon"), "needs dbus-daemon and dbus-monitor"))
    func theCallsGoOnTheWireWithTheirArguments() throws {
        let directory = NSTemporaryDirectory() + "berth-machined-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let address = "unix:path=\(directory)/bus"
        let daemon = try Spawn.start(["/usr/bin/dbus-daemon", "--session", "--nofork", "--address=\(address)"])
        defer {
            kill(daemon, SIGTERM)
            _ = Reaper.wait(daemon)
        }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: directory + "/bus") { usleep(10_000) }
        let log = directory + "/monitor.txt"
        let monitor = try Spawn.start(["/usr/bin/dbus-monitor", "--address", address], outputPath: log)
        defer {
            kill(monitor, SIGTERM)
            _ = Reaper.wait(monitor)
        }
        func text() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        for _ in 0..<200 where !text().contains("NameAcquired") && !text().contains("member=BecomeMonitor") { usleep(10_000) }
        usleep(100_000)

        setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1)
        defer { unsetenv("DBUS_SYSTEM_BUS_ADDRESS") }
        let machine = try #require(MachineRegistration(name: "web1", leader: 4242, rootDirectory: "/run/berth/web1/rootfs", interfaces: [7, 9]))
        var failure: Machined.Failure?
        do { try Machined.register(machine) } catch { failure = error }
        #expect(failure?.isAbsent == true, "\(String(describing: failure))")
        #expect(failure?.message.contains("org.freedesktop.DBus.Error.ServiceUnknown") == true)
        #expect(throws: Machined.Failure.self) { try Machined.unregister("web1") }

        var seen = ""
        for _ in 0..<200 {
            seen = text()
            if seen.contains("member=UnregisterMachine") { break }
            usleep(10_000)
        }
        let call = try #require(seen.range(of: "member=RegisterMachineWithNetwork"), "\(seen)")
        let arguments = seen[call.upperBound...].split(separator: "\n").prefix(12).map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(seen.contains("destination=org.freedesktop.machine1"))
        #expect(seen.contains("interface=org.freedesktop.machine1.Manager"))
        // s name, ay id (empty), s service, s class, u leader, s root, ai interfaces.
        #expect(
            Array(arguments.prefix(11)) == [
                "string \"web1\"", "array [", "]", "string \"berth\"", "string \"container\"", "uint32 4242",
                "string \"/run/berth/web1/rootfs\"", "array [", "int32 7", "int32 9", "]",
            ], "\(arguments)")
        let unregister = try #require(seen.range(of: "member=UnregisterMachine"))
        #expect(seen[unregister.upperBound...].split(separator: "\n").first?.trimmingCharacters(in: .whitespaces) == "string \"web1\"")
    }
}
