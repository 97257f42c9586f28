import CLibraries

#if canImport(Glibc)
    import Glibc
#endif

/// A container as systemd-machined registers it (org.freedesktop.machine1,
/// RegisterMachineWithNetwork `sayssusai`), so `machinectl list` and
/// `systemd-cgls` show it as they show nspawn's. Pure: built from what berth
/// knows, checked before any bus is opened.
public struct MachineRegistration: Equatable, Sendable {
    /// The D-Bus signature of RegisterMachineWithNetwork's arguments.
    public static let signature = "sayssusai"
    public var name: String
    /// Empty: machined records no machine id (berth gives its containers none).
    public var id: [UInt8] = []
    public var service = "berth"
    public var machineClass = "container"
    public var leader: UInt32
    public var rootDirectory: String
    /// Host-side interfaces (the containers' veths), by index.
    public var interfaces: [Int32]

    /// Nil when machined would refuse the name: its machine names are
    /// hostnames of at most 64 bytes (a berth container name, a DNS label,
    /// always is one).
    public init?(name: String, leader: Int32, rootDirectory: String, interfaces: [Int32]) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 64, leader > 0, rootDirectory.hasPrefix("/"),
            bytes.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x2e }),
            bytes.first != 0x2d, bytes.first != 0x2e
        else { return nil }
        self.name = name
        self.leader = UInt32(leader)
        self.rootDirectory = rootDirectory
        self.interfaces = interfaces
    }
}

/// systemd-machined, over the system bus with libsystemd's sd-bus (the
/// calls are in CLibraries: sd_bus_message_append is variadic).
public enum Machined {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var code: Int32
        public var message: String
        public var description: String { message }
        /// No bus, or no machined on it: a host without them, skipped quietly.
        public var isAbsent: Bool {
            [ENOENT, ECONNREFUSED, ELIBACC, EACCES].contains(-code) || message.contains("org.freedesktop.DBus.Error.ServiceUnknown")
                || message.contains("org.freedesktop.DBus.Error.NameHasNoOwner")
        }
    }

    /// No system bus to reach (no DBUS_SYSTEM_BUS_ADDRESS and no socket at
    /// its default path): known without loading libsystemd, whose dlopen
    /// alone was 1 ms of a container start (berth-bench network: "create:
    /// machined registration").
    static var systemBusIsAbsent: Bool {
        getenv("DBUS_SYSTEM_BUS_ADDRESS") == nil && access("/run/dbus/system_bus_socket", F_OK) != 0
    }

    public static func register(_ machine: MachineRegistration) throws(Failure) {
        if systemBusIsAbsent { throw Failure(code: -ENOENT, message: "sd_bus_open_system: no system bus (/run/dbus/system_bus_socket)") }
        var error = [CChar](repeating: 0, count: 512)
        let result = machine.interfaces.withUnsafeBufferPointer { interfaces in
            berth_machine_register(
                machine.name, machine.service, machine.machineClass, machine.leader, machine.rootDirectory, interfaces.baseAddress,
                interfaces.count, &error, error.count)
        }
        if result < 0 { throw Failure(code: result, message: text(error)) }
    }

    public static func unregister(_ name: String) throws(Failure) {
        if systemBusIsAbsent { throw Failure(code: -ENOENT, message: "sd_bus_open_system: no system bus (/run/dbus/system_bus_socket)") }
        var error = [CChar](repeating: 0, count: 512)
        let result = berth_machine_unregister(name, &error, error.count)
        if result < 0 { throw Failure(code: result, message: text(error)) }
    }

    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
