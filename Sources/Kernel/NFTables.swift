import CLibraries
import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// libnftables: a ruleset given as one buffer is one transaction (all or
/// nothing). berth builds that buffer from typed values, never from
/// manifest text, and only ever names its own table.
public final class NFTables: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var description: String { "nftables: \(message)" }
    }

    private let context: OpaquePointer

    public init() throws {
        guard let context = berth_nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
            throw Failure(message: "nft_ctx_new failed: \(String(cString: berth_library_error()))")
        }
        berth_nft_ctx_buffer_output(context)
        berth_nft_ctx_buffer_error(context)
        self.context = context
    }

    deinit { berth_nft_ctx_free(context) }

    /// Runs commands (one transaction); returns nft's output.
    @discardableResult
    public func run(_ commands: String) throws -> String {
        let result = berth_nft_run_cmd_from_buffer(context, commands)
        if result != 0 {
            let error = berth_nft_ctx_get_error_buffer(context).map { String(cString: $0) } ?? "error \(result)"
            throw Failure(message: error.trimmingCharactersNewlines)
        }
        return berth_nft_ctx_get_output_buffer(context).map { String(cString: $0) } ?? ""
    }

    /// Runs commands (one transaction) inside another network namespace
    /// (the fd of /proc/PID/ns/net), from a C thread that joins it; returns
    /// nft's output.
    @discardableResult
    public static func run(_ commands: String, inNetworkNamespace namespaceFD: Int32) throws -> String {
        var output: UnsafeMutablePointer<CChar>?
        let result = berth_nft_run_in_netns(namespaceFD, commands, &output)
        defer { free(output) }
        if result < 0 { throw SystemError(call: "setns", errno: errno, subject: "nftables in a network namespace") }
        let text = output.map { String(cString: $0) } ?? ""
        if result != 0 { throw Failure(message: text.trimmingCharactersNewlines) }
        return text
    }

    /// Closes libnftables and the libraries it loaded when no context is
    /// alive (the agent between passes: about 1.4 MiB of its resident
    /// memory); the next context opens it again. Whether it closed it.
    @discardableResult
    public static func closeIdle() -> Bool { berth_nftables_close_idle() != 0 }

    /// Whether libnftables is open now.
    public static var isOpen: Bool { berth_nftables_is_open() != 0 }

    /// Whether `family name` exists.
    public func tableExists(family: String, name: String) -> Bool {
        (try? run("list table \(family) \(name)")) != nil
    }
}

extension String {
    var trimmingCharactersNewlines: String {
        var slice = Substring(self)
        while let last = slice.last, last == "\n" || last == " " { slice = slice.dropLast() }
        return String(slice)
    }
}
