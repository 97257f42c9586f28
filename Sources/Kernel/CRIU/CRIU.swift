#if canImport(Glibc)
    import Glibc
#endif

/// CRIU's requests as berth makes them, one `criu swrk` per request. Its
/// logs go to `workDirectory` (check.log, dump.log, restore.log), and a
/// failure names the log and quotes its last errors.
public struct CRIU: Sendable {
    public let workDirectory: String
    /// CRIU's log level: 4 (debug) keeps what a failed restore needs.
    public var logLevel: Int32 = 4

    public init(workDirectory: String) { self.workDirectory = workDirectory }

    /// The RPC check (`criu check`): whether CRIU can work on this kernel.
    /// Throws "criu check failed: ..." when it cannot.
    public func check() throws {
        let response: CRIUResponse
        do {
            response = try request(.check, log: "check.log", options: CRIUOptions())
        } catch let error as CRIUError {
            throw CRIUError("criu check failed: \(error.description)")
        }
        guard response.success else {
            throw CRIUError("criu check failed: \(failure(response, log: "check.log"))")
        }
    }

    /// CRIU's version, from its VERSION request.
    public func version() throws -> CRIUVersion {
        let session = try CRIUSession(outputPath: workDirectory + "/criu.out")
        defer { session.finish() }
        let response = try session.call(CRIURequest(type: .version))
        guard response.success, let version = response.version else {
            throw CRIUError("criu version: \(failure(response, log: nil))")
        }
        return version
    }

    /// Dumps (or pre-dumps) the process tree `options.pid` into `imagesDirectory`.
    public func dump(into imagesDirectory: String, options: CRIUOptions, preDump: Bool = false) throws {
        let log = preDump ? "pre-dump.log" : "dump.log"
        let response = try request(preDump ? .preDump : .dump, log: log, options: options, imagesDirectory: imagesDirectory)
        guard response.success else {
            throw CRIUError("criu \(preDump ? "pre-dump" : "dump") failed: \(failure(response, log: log))")
        }
    }

    /// Restores the tree in `imagesDirectory`; `inherited` are berth's
    /// descriptors for inherit_fd keys. Returns the restored root's pid.
    public func restore(
        from imagesDirectory: String, options: CRIUOptions, inherited: [(key: String, fd: Int32)],
        notify: (String, Int32?) throws -> Void = { _, _ in }
    ) throws -> pid_t {
        var options = options
        options.inheritFDs = inherited.enumerated().map { index, item in
            CRIUOptions.InheritFD(key: item.key, fd: CRIUSession.firstInheritedFD + Int32(index))
        }
        let response = try request(
            .restore, log: "restore.log", options: options, imagesDirectory: imagesDirectory, inherited: inherited.map(\.fd), notify: notify)
        guard response.success, let pid = response.restoredPID, pid > 0 else {
            throw CRIUError("criu restore failed: \(failure(response, log: "restore.log"))")
        }
        return pid
    }

    private func request(
        _ type: CRIURequestType, log: String, options: CRIUOptions, imagesDirectory: String? = nil, inherited: [Int32] = [],
        notify: (String, Int32?) throws -> Void = { _, _ in }
    ) throws -> CRIUResponse {
        try Syscall.makeDirectories(workDirectory, mode: 0o700)
        let work = try Syscall.open(workDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { Syscall.close(work) }
        let images = try imagesDirectory.map { path throws(SystemError) in try Syscall.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { if let images { Syscall.close(images) } }
        var options = options
        options.imagesDirectoryFD = images ?? work
        options.workDirectoryFD = work
        options.logFile = log
        options.logLevel = logLevel
        let session = try CRIUSession(inherited: inherited, outputPath: workDirectory + "/criu.out")
        defer { session.finish() }
        return try session.call(CRIURequest(type: type, options: options), notify: notify)
    }

    /// Why a request failed: CRIU's errno and message, the log's last
    /// errors, and where the log is.
    func failure(_ response: CRIUResponse, log: String?) -> String {
        var parts: [String] = []
        if let message = response.errorMessage, !message.isEmpty { parts.append(message) }
        if let code = response.errno, code != 0 { parts.append("\(String(cString: strerror(code))) (\(SystemError.name(of: code)))") }
        if let log {
            let path = workDirectory + "/" + log
            let errors = CRIU.lastErrors(in: path)
            if !errors.isEmpty { parts.append(errors.joined(separator: " | ")) }
            parts.append("log: \(path)")
        }
        return parts.isEmpty ? "no reason given" : parts.joined(separator: "; ")
    }

    /// The last three lines of a CRIU log that report an error, to quote
    /// in berth's message (the log is not interpreted otherwise).
    static func lastErrors(in path: String) -> [String] {
        guard let bytes = try? Syscall.readFile(path, limit: 64 << 20) else { return [] }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        return lines.filter { $0.contains("Error (") }.suffix(3).map { line in
            let text = String(line)
            return text.count > 300 ? String(text.prefix(300)) + "…" : text
        }
    }
}
