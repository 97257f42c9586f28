import CLinux

#if canImport(Glibc)
    import Glibc
#endif

extension Syscall {
    /// Writes `value` to /proc/sys/`key` in the network namespace
    /// `namespaceFD` (a net sysctl is the opening thread's namespace's),
    /// from a C thread that joins it.
    public static func writeSysctl(_ key: String, _ value: String, networkNamespaceFD: Int32) throws(SystemError) {
        guard berth_sysctl_in_netns(networkNamespaceFD, key, value) == 0 else {
            throw SystemError(call: "write", errno: errno, subject: "/proc/sys/" + key + " in the container's network namespace")
        }
    }
}

/// An AF_NETLINK socket (raw datagrams). The protocol logic lives in the
/// Netlink module; this is only the system calls.
public final class NetlinkSocket: @unchecked Sendable {
    public let fd: Int32

    /// socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) and bind(2) to a kernel-chosen port.
    public init(protocol netlinkProtocol: Int32 = 0 /* NETLINK_ROUTE */) throws(SystemError) {
        let fd = berth_netlink_socket(netlinkProtocol)
        if fd < 0 { throw SystemError(call: "socket", errno: errno, subject: "AF_NETLINK") }
        self.fd = fd
    }

    /// A NETLINK_ROUTE socket in another network namespace (the fd of
    /// /proc/PID/ns/net): links, addresses and routes it changes are that
    /// namespace's.
    public init(protocol netlinkProtocol: Int32 = 0, networkNamespaceFD: Int32) throws(SystemError) {
        let fd = berth_netlink_protocol_socket_in_netns(networkNamespaceFD, netlinkProtocol)
        if fd < 0 { throw SystemError(call: "netlink socket in namespace", errno: errno) }
        self.fd = fd
    }

    /// A NETLINK_ROUTE socket in the network namespace of process `pid`,
    /// entered through a pidfd (setns(2) takes one since Linux 5.8): a
    /// pidfd_open is a lookup of the pid, where an open of /proc/PID/ns/net
    /// walks procfs and checks ptrace access (~3.5 against ~8.5 µs, once
    /// per container observed: berth-bench scale, no-op plan and drift).
    /// Through /proc/PID/ns/net where the kernel takes no pidfd.
    public init(networkNamespaceOf pid: pid_t) throws(SystemError) {
        let pidfd = berth_pidfd_open(pid, 0)
        var fd: Int32 = -1
        if pidfd >= 0 {
            fd = berth_netlink_protocol_socket_in_netns(pidfd, 0)
            let code = errno
            Glibc.close(pidfd)
            // EINVAL: a kernel before 5.8 (a namespace's fd only).
            if fd < 0 && code != EINVAL { throw SystemError(call: "netlink socket in namespace", errno: code, subject: "pid \(pid)") }
        }
        if fd < 0 {
            let namespaceFD = try Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)
            fd = berth_netlink_protocol_socket_in_netns(namespaceFD, 0)
            let code = errno
            Syscall.close(namespaceFD)
            if fd < 0 { throw SystemError(call: "netlink socket in namespace", errno: code, subject: "pid \(pid)") }
        }
        self.fd = fd
    }

    /// A NETLINK_ROUTE socket in the network namespace of each of `pids`
    /// (entered through a pidfd, else /proc/PID/ns/net), opened in one ask
    /// of the calling thread's helper (`init(networkNamespaceOf:)` costs a
    /// hand-off to it and back per socket: two thread switches for each
    /// container observed, berth-bench scale). Nil for a process whose
    /// namespace could not be entered (the caller asks for it alone, for
    /// its error).
    public static func inNamespaces(ofProcesses pids: [pid_t]) -> [NetlinkSocket?] {
        var namespaces: [Int32] = []
        var asked: [Int] = []
        defer { for fd in namespaces { Glibc.close(fd) } }
        for (position, pid) in pids.enumerated() {
            var fd = berth_pidfd_open(pid, 0)
            if fd < 0 && errno != ESRCH { fd = (try? Syscall.open("/proc/\(pid)/ns/net", O_RDONLY)) ?? -1 }
            guard fd >= 0 else { continue }
            namespaces.append(fd)
            asked.append(position)
        }
        var sockets = [NetlinkSocket?](repeating: nil, count: pids.count)
        guard !namespaces.isEmpty else { return sockets }
        var fds = [Int32](repeating: -1, count: namespaces.count)
        var errors = [Int32](repeating: 0, count: namespaces.count)
        guard berth_netlink_sockets_in_netns(namespaces, &fds, &errors, Int32(namespaces.count)) == 0 else { return sockets }
        for (index, position) in asked.enumerated() where fds[index] >= 0 {
            sockets[position] = NetlinkSocket(adopting: fds[index])
        }
        return sockets
    }

    /// A netlink socket opened elsewhere (a child's, received over a
    /// socket), owned from now on.
    init(adopting fd: Int32) { self.fd = fd }

    deinit { Glibc.close(fd) }

    /// send(2) of one datagram to the kernel.
    public func sendDatagram(_ bytes: [UInt8]) throws(SystemError) {
        while true {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            if sent >= 0 { return }
            if errno == EINTR { continue }
            throw SystemError(call: "send", errno: errno, subject: "netlink")
        }
    }

    /// recv(2) of one datagram (up to 64 KiB; dumps arrive in several).
    public func receiveDatagram() throws(SystemError) -> [UInt8] {
        // Not zero-filled first (recv(2) writes what is kept): six receives
        // per container observed, 64 KiB each (berth-bench scale).
        var buffer = [UInt8](unsafeUninitializedCapacity: 65536) { _, initialized in initialized = 65536 }
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count >= 0 { return Array(buffer[0..<count]) }
            if errno == EINTR { continue }
            throw SystemError(call: "recv", errno: errno, subject: "netlink")
        }
    }

    /// setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP): receive the
    /// multicast group `group` (a generic netlink family's group id).
    /// Idempotent.
    public func joinGroup(_ group: UInt32) throws(SystemError) {
        var value = group
        let result = setsockopt(fd, 270 /* SOL_NETLINK */, 1 /* NETLINK_ADD_MEMBERSHIP */, &value, socklen_t(MemoryLayout<UInt32>.size))
        if result != 0 { throw SystemError(call: "setsockopt", errno: errno, subject: "NETLINK_ADD_MEMBERSHIP \(group)") }
    }

    /// recv(2) with MSG_DONTWAIT of one datagram; nil when none is queued.
    public func receiveDatagramNow() throws(SystemError) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count >= 0 { return Array(buffer[0..<count]) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            throw SystemError(call: "recv", errno: errno, subject: "netlink")
        }
    }
}
