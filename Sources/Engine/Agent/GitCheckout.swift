import FoundationEssentials
import Model
import Kernel

/// A local git checkout the agent follows: when it has a remote, each pass
/// first fetches and fast-forwards to the upstream branch. berth never
/// merges, rebases or resets: a checkout that cannot fast-forward is left
/// as it is and reported.
public struct GitCheckout: Sendable {
    public let directory: String
    let git: String

    public struct Failure: Error, CustomStringConvertible {
        public var command: String
        public var output: String
        public var description: String {
            let text = output.split(separator: "\n").map(String.init).joined(separator: "; ")
            return "\(command): \(text.isEmpty ? "failed" : text)"
        }
    }

    /// `git` is looked up in the usual places (posix_spawn does not search PATH).
    public init(directory: String, git: String? = nil) throws(Failure) {
        self.directory = directory
        guard let found = git ?? ["/usr/bin/git", "/usr/local/bin/git", "/bin/git"].first(where: { Syscall.exists($0) }) else {
            throw Failure(command: "git", output: "git is not installed (apt-get install git)")
        }
        self.git = found
    }

    /// Runs `git -C DIR ARGS`, trusting DIR even when another user owns it
    /// (berth runs as root; the checkout may belong to a deploy user).
    func run(_ arguments: [String]) throws(Failure) -> String {
        let command = "git " + arguments.joined(separator: " ")
        let result: Spawn.Result
        do {
            result = try Spawn.run(
                [git, "-c", "safe.directory=\(directory)", "-C", directory] + arguments, outputLimit: 64 * 1024, mergingStandardError: true)
        } catch {
            throw Failure(command: command, output: "\(error)")
        }
        let output = String(decoding: result.output, as: UTF8.self).trimmingWhitespace
        guard result.exitedCleanly else { throw Failure(command: command + " in \(directory)", output: output) }
        return output
    }

    /// The commit checked out now (HEAD).
    public func head() throws(Failure) -> String {
        try run(["rev-parse", "--verify", "HEAD"])
    }

    /// Fetches and fast-forwards to the upstream when there is a remote;
    /// returns whether it tried (false: a checkout without remote).
    @discardableResult
    public func update() throws(Failure) -> Bool {
        guard !(try run(["remote"])).isEmpty else { return false }
        _ = try run(["fetch", "--quiet"])
        _ = try run(["merge", "--ff-only", "--quiet", "@{u}"])
        return true
    }
}
