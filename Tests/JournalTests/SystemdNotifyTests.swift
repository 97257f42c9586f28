import Foundation
import Kernel
import Testing

@testable import Journal

/// sd_notify's protocol, spoken without libsystemd: what a supervisor
/// listening on NOTIFY_SOCKET receives.
@Suite struct SystemdNotifyTests {
    @Test func aPathSocketReceivesTheState() throws {
        let directory = NSTemporaryDirectory() + "/berth-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let receiver = try DatagramReceiver(path: directory + "/notify.sock")
        #expect(SystemdNotify.notify("READY=1\nSTATUS=idle", socket: receiver.path))
        let datagram = receiver.receive(timeoutMilliseconds: 2000).map { String(decoding: $0, as: UTF8.self) }
        #expect(datagram == "READY=1\nSTATUS=idle")
    }

    @Test func noSocketOrARelativeOneSendsNothing() {
        #expect(!SystemdNotify.notify("READY=1", socket: nil))
        #expect(!SystemdNotify.notify("READY=1", socket: "relative/notify.sock"))
        #expect(!SystemdNotify.notify("READY=1", socket: "/nonexistent-berth-dir/notify.sock"))
        #expect(SystemdNotify.address("/" + String(repeating: "a", count: 200)) == nil)
    }

    @Test func anAbstractNameStartsWithNulAndHasNoTerminator() throws {
        let (address, length) = try #require(SystemdNotify.address("@/org/freedesktop/systemd1/notify"))
        // "@" becomes the NUL: as many bytes as the name, no terminator.
        #expect(Int(length) == MemoryLayout<sa_family_t>.size + 33)
        let first = withUnsafeBytes(of: address.sun_path) { $0[0] }
        #expect(first == 0)
        let (_, pathLength) = try #require(SystemdNotify.address("/run/systemd/notify"))
        #expect(Int(pathLength) == MemoryLayout<sa_family_t>.size + 20)
    }

    @Test func theWatchdogIsThisProcessesWhenItsPidIsNamed() {
        #expect(SystemdNotify.watchdogMilliseconds(usec: "30000000", pid: nil, ownPid: 42) == 30000)
        #expect(SystemdNotify.watchdogMilliseconds(usec: "30000000", pid: "42", ownPid: 42) == 30000)
        #expect(SystemdNotify.watchdogMilliseconds(usec: "30000000", pid: "43", ownPid: 42) == nil)
        #expect(SystemdNotify.watchdogMilliseconds(usec: "0", pid: nil, ownPid: 42) == nil)
        #expect(SystemdNotify.watchdogMilliseconds(usec: "soon", pid: nil, ownPid: 42) == nil)
        #expect(SystemdNotify.watchdogMilliseconds(usec: nil, pid: nil, ownPid: 42) == nil)
        #expect(SystemdNotify.watchdogMilliseconds(usec: "500", pid: nil, ownPid: 42) == 1)
    }
}
