import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A checkpoint/restore request CRIU refused or could not carry out, or a
/// CRIU that is missing or cannot work on this kernel.
public struct CRIUError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One `criu swrk` child driven through its RPC protocol: protobuf messages
/// over a SOCK_SEQPACKET socketpair (CRIU's images/rpc.proto). criu is
/// started with posix_spawn (no Swift code runs in the child) and serves
/// one request; descriptors berth hands it (`inherited`) are at fixed
/// numbers in the child, for inherit_fd.
public final class CRIUSession {
    /// Where Debian installs criu; BERTH_CRIU names another.
    public static var program: String? {
        if let named = getenv("BERTH_CRIU").map({ String(cString: $0) }), !named.isEmpty { return named }
        return ["/usr/sbin/criu", "/usr/local/sbin/criu", "/usr/bin/criu"].first { access($0, X_OK) == 0 }
    }

    /// The number the first inherited descriptor has in the criu child.
    public static let firstInheritedFD: Int32 = 10

    private let socket: Int32
    private let pid: pid_t
    private var finished = false

    /// Starts `criu swrk`. Its standard output and error are appended to
    /// `outputPath` (CRIU logs to its own log file; this catches what it
    /// says before that is open).
    public init(inherited: [Int32] = [], outputPath: String = "/dev/null") throws {
        guard let program = CRIUSession.program else {
            throw CRIUError("criu is not installed (Debian: apt-get install criu; or set BERTH_CRIU)")
        }
        var pair: [Int32] = [-1, -1]
        if socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) != 0 {
            throw SystemError(call: "socketpair", errno: errno, subject: "criu swrk")
        }
        // Every source above the targets' range first, so that no dup2 in
        // the child overwrites a descriptor a later one reads.
        var sources: [Int32] = []
        defer { for fd in sources { Syscall.close(fd) } }
        for fd in [pair[1]] + inherited {
            let high = fcntl(fd, F_DUPFD_CLOEXEC, 100)
            guard high >= 0 else {
                let error = errno
                Syscall.close(pair[0])
                Syscall.close(pair[1])
                throw SystemError(call: "fcntl(F_DUPFD_CLOEXEC)", errno: error, subject: "criu swrk")
            }
            sources.append(high)
        }
        Syscall.close(pair[1])
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, sources[0], 3)
        for (index, fd) in sources.dropFirst().enumerated() {
            posix_spawn_file_actions_adddup2(&actions, fd, CRIUSession.firstInheritedFD + Int32(index))
        }
        var attributes = Spawn.cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        var arena = CStringArena()
        defer { arena.free() }
        let arguments = [program, "swrk", "3"]
        let argv = arena.array(arguments)
        var child: pid_t = 0
        let result = argv.withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: arguments.count + 1) { pointer in
            posix_spawn(&child, program, &actions, &attributes, pointer, environ)
        }
        guard result == 0 else {
            Syscall.close(pair[0])
            throw SystemError(call: "posix_spawn", errno: result, subject: program)
        }
        socket = pair[0]
        pid = child
    }

    deinit { finish() }

    /// Sends `request` and returns CRIU's answer. Notifications on the way
    /// (action scripts: setup-namespaces, post-restore, ...) go to `notify`,
    /// which may throw to make CRIU fail the request; each is answered.
    public func call(_ request: CRIURequest, notify: (String, Int32?) throws -> Void = { _, _ in }) throws -> CRIUResponse {
        try send(request)
        while true {
            let response = try receive(for: request.type)
            guard response.type == .notify else { return response }
            var carryOn = true
            var failure: Error?
            do { try notify(response.notifyScript ?? "", response.notifyPID) } catch {
                carryOn = false
                failure = error
            }
            try send(CRIURequest(type: .notify, notifySuccess: carryOn))
            if let failure { throw failure }
        }
    }

    private func send(_ request: CRIURequest) throws {
        let bytes = request.encoded
        let sent = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else {
            throw CRIUError("criu \(request.type): send request: \(String(cString: strerror(errno))) (criu exited?)")
        }
    }

    private func receive(for type: CRIURequestType) throws -> CRIUResponse {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            // MSG_PEEK | MSG_TRUNC: the whole datagram's length.
            var probe: UInt8 = 0
            let length = recv(socket, &probe, 1, Int32(MSG_PEEK | MSG_TRUNC))
            if length < 0 && errno == EINTR { continue }
            guard length > 0 else {
                let reason = length == 0 ? "criu closed the connection without an answer" : String(cString: strerror(errno))
                throw CRIUError("criu \(type): \(reason)")
            }
            if length > buffer.count { buffer = [UInt8](repeating: 0, count: length) }
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw CRIUError("criu \(type): \(String(cString: strerror(errno)))") }
            do {
                return try CRIUResponse.decode(Array(buffer[0..<count]))
            } catch {
                throw CRIUError("criu \(type): \(error)")
            }
        }
    }

    /// Closes the connection and reaps criu (it exits once its request is
    /// served and the socket is closed). Idempotent.
    public func finish() {
        guard !finished else { return }
        finished = true
        Syscall.close(socket)
        Reaper.wait(pid)
    }
}
