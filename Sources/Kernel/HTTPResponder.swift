#if canImport(Glibc)
    import Glibc
#endif

/// A request line of HTTP/1.x, read from the head of a request.
public struct HTTPRequestHead: Equatable, Sendable {
    public var method: String
    public var target: String

    public init(method: String, target: String) {
        self.method = method
        self.target = target
    }

    /// The answer to a request head (`bytes` up to and including the blank
    /// line): the status and why, or the parsed head.
    public enum Parsed: Equatable, Sendable {
        case request(HTTPRequestHead)
        case bad(status: Int, reason: String)
    }

    public static func parse(_ bytes: [UInt8]) -> Parsed {
        guard let end = bytes.firstIndex(of: UInt8(ascii: "\r")), end + 1 < bytes.count, bytes[end + 1] == UInt8(ascii: "\n") else {
            return .bad(status: 400, reason: "Bad Request")
        }
        let parts = bytes[..<end].split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, let version = String(validating: parts[2], as: UTF8.self), version == "HTTP/1.1" || version == "HTTP/1.0",
            let method = String(validating: parts[0], as: UTF8.self), !method.isEmpty,
            let target = String(validating: parts[1], as: UTF8.self), target.hasPrefix("/")
        else { return .bad(status: 400, reason: "Bad Request") }
        return .request(HTTPRequestHead(method: method, target: target))
    }
}

/// A tiny HTTP/1.1 responder for Prometheus' scrapes (GET /metrics) on one
/// thread of its own: one connection at a time, each closed after its
/// answer; a request head larger than `maxRequestBytes` gets 431, one not
/// sent whole within `timeoutSeconds` is dropped, so a slow or hostile
/// client holds it for that long at most.
public final class HTTPResponder: @unchecked Sendable {
    public static let maxRequestBytes = 8192
    public static let timeoutSeconds = 5

    let fd: Int32
    /// The port it listens on (the kernel's choice for port 0).
    public let port: UInt16

    /// Binds and listens on `address`: "127.0.0.1:9464", "0.0.0.0:9464",
    /// "[::1]:9464".
    public init(address: String) throws(SystemError) {
        guard let (host, portNumber) = HTTPResponder.split(address) else {
            throw SystemError(call: "bind", errno: EINVAL, subject: address)
        }
        // sockaddr_in and sockaddr_in6 alike: the family, then the port
        // (big-endian) at offset 2, the address at 4 (IPv4) or 8 (IPv6).
        let family = host.contains(":") ? AF_INET6 : AF_INET
        let (offset, size) = family == AF_INET6 ? (8, 16) : (4, 4)
        var raw = [UInt8](repeating: 0, count: 16)
        guard inet_pton(family, host, &raw) == 1 else { throw SystemError(call: "inet_pton", errno: EINVAL, subject: address) }
        var storage = sockaddr_storage()
        storage.ss_family = sa_family_t(family)
        withUnsafeMutableBytes(of: &storage) { bytes in
            bytes[2] = UInt8(portNumber >> 8)
            bytes[3] = UInt8(portNumber & 0xff)
            for index in 0..<size { bytes[offset + index] = raw[index] }
        }
        let length = socklen_t(family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let socketFD = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else { throw SystemError(call: "socket", errno: errno, subject: address) }
        var one: Int32 = 1
        _ = setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) } }
        guard bound == 0, listen(socketFD, 16) == 0 else {
            let code = errno
            Glibc.close(socketFD)
            throw SystemError(call: "bind", errno: code, subject: address)
        }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &actualLength) }
        }
        // sin_port and sin6_port are at the same offset (2), big-endian.
        let port = withUnsafeBytes(of: actual) { UInt16($0[2]) << 8 | UInt16($0[3]) }
        fd = socketFD
        self.port = port
    }

    /// "HOST:PORT" or "[V6]:PORT" split (nil: no port, or one out of range).
    public static func split(_ address: String) -> (String, UInt16)? {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// Answers on a thread of its own, for the life of the process:
    /// `respond(target)` gives a GET's status, content type and body.
    public func serve(_ respond: @escaping @Sendable (String) -> (status: Int, contentType: String, body: String)) throws(SystemError) {
        let loop = Loop(fd: fd, respond: respond)
        pthread_detach(try Threads.start { loop.run() })
    }

    final class Loop: Sendable {
        let fd: Int32
        let respond: @Sendable (String) -> (status: Int, contentType: String, body: String)
        init(fd: Int32, respond: @escaping @Sendable (String) -> (status: Int, contentType: String, body: String)) {
            self.fd = fd
            self.respond = respond
        }

        func run() {
            while true {
                // accept4 is not in Glibc's module map; a container's child
                // closes every descriptor past stdio before exec anyway.
                let client = accept(fd, nil, nil)
                if client < 0 {
                    if errno == EMFILE || errno == ENFILE { usleep(10_000) }
                    continue
                }
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                answer(client)
                Glibc.close(client)
            }
        }

        func answer(_ client: Int32) {
            var timeout = timeval(tv_sec: HTTPResponder.timeoutSeconds, tv_usec: 0)
            _ = setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var head: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 2048)
            let terminator: [UInt8] = Array("\r\n\r\n".utf8)
            while !head.ends(with: terminator) {
                if head.count > HTTPResponder.maxRequestBytes {
                    reply(client, 431, "text/plain", "request header too large\n")
                    return
                }
                let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { return }  // closed, or timed out: no answer
                // Look for the blank line in what arrived (a body is never read).
                head += buffer[0..<count]
                if let range = head.firstRange(of: terminator) { head = Array(head[..<range.upperBound]) }
            }
            switch HTTPRequestHead.parse(head) {
            case .bad(let status, let reason): reply(client, status, "text/plain", reason + "\n")
            case .request(let request):
                guard request.method == "GET" || request.method == "HEAD" else {
                    reply(client, 405, "text/plain", "only GET\n", extra: "Allow: GET, HEAD\r\n")
                    return
                }
                let answer = respond(request.target)
                reply(client, answer.status, answer.contentType, answer.body, headOnly: request.method == "HEAD")
            }
        }

        func reply(_ client: Int32, _ status: Int, _ contentType: String, _ body: String, extra: String = "", headOnly: Bool = false) {
            let reasons = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large"]
            let bodyBytes = Array(body.utf8)
            let head =
                "HTTP/1.1 \(status) \(reasons[status] ?? "Error")\r\nContent-Type: \(contentType)\r\n"
                + "Content-Length: \(bodyBytes.count)\r\nConnection: close\r\n\(extra)\r\n"
            var bytes = Array(head.utf8)
            if !headOnly { bytes += bodyBytes }
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
