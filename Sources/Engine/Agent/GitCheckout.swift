import FoundationEssentials
import Model
import Kernel

/// A local git checkout the agent owns and follows: when it has a remote,
/// each pass fetches and checks out the commit the upstream branch points
/// at, as Flux does: a fast-forward, or a reset to a rewritten
/// (force-pushed) history. A checkout with local changes (tracked files
/// modified or staged, untracked files the new commit would overwrite) is
/// never touched: that is refused and reported.
public struct GitCheckout: Sendable {
    public let directory: String
    let git: String

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var command: String
        public var output: String
        public var description: String {
            let text = output.split(separator: "\n").map(String.init).joined(separator: "; ")
            return "\(command): \(text.isEmpty ? "failed" : text)"
        }
    }

    /// What one `update()` did.
    public enum Update: Sendable, Equatable {
        /// No remote: the checkout is applied as it is.
        case noRemote
        /// HEAD is already the upstream's commit.
        case upToDate(String)
        /// HEAD moved from one commit to the upstream's; `rewritten` when the
        /// old one is not in the new history (a force-push).
        case moved(from: String, to: String, rewritten: Bool)
        /// The upstream moved but the checkout has local changes: left as it is.
        case localChanges(upstream: String, files: [String])
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
        let result = try attempt(arguments)
        guard result.succeeded else { throw Failure(command: "git " + arguments.joined(separator: " ") + " in \(directory)", output: result.output) }
        return result.output
    }

    /// Like `run`, but a non-zero exit is returned, not thrown.
    func attempt(_ arguments: [String]) throws(Failure) -> (succeeded: Bool, output: String) {
        let result: Spawn.Result
        do {
            result = try Spawn.run(
                [git, "-c", "safe.directory=\(directory)", "-C", directory] + arguments, outputLimit: 64 * 1024, mergingStandardError: true)
        } catch {
            throw Failure(command: "git " + arguments.joined(separator: " "), output: "\(error)")
        }
        return (result.exitedCleanly, String(decoding: result.output, as: UTF8.self).trimmingWhitespace)
    }

    /// The commit checked out now (HEAD).
    public func head() throws(Failure) -> String {
        try run(["rev-parse", "--verify", "HEAD"])
    }

    /// Fetches, then checks out the upstream branch's commit (`reset --keep`,
    /// which also refuses to overwrite untracked files) unless tracked files
    /// are modified or staged.
    public func update() throws(Failure) -> Update {
        guard !(try run(["remote"])).isEmpty else { return .noRemote }
        _ = try run(["fetch", "--quiet"])
        let head = try self.head()
        let upstream = try run(["rev-parse", "--verify", "@{upstream}^{commit}"])
        guard upstream != head else { return .upToDate(head) }
        // Tracked files that differ from HEAD in the working tree or the index.
        var changed: [String] = []
        for arguments in [["diff", "--name-only", "HEAD", "--"], ["diff", "--name-only", "--cached", "HEAD", "--"]] {
            for file in try run(arguments).split(separator: "\n").map(String.init) where !changed.contains(file) { changed.append(file) }
        }
        guard changed.isEmpty else { return .localChanges(upstream: upstream, files: changed) }
        let rewritten = try !attempt(["merge-base", "--is-ancestor", head, upstream]).succeeded
        let reset = try attempt(["reset", "--keep", "--quiet", upstream])
        guard reset.succeeded else {
            // Tracked files are clean: what stops it is untracked files in the way.
            return .localChanges(upstream: upstream, files: GitCheckout.untrackedInTheWay(reset.output))
        }
        return .moved(from: head, to: upstream, rewritten: rewritten)
    }

    /// The files named in git's "Untracked working tree file 'F' would be
    /// overwritten" errors (or its tab-indented list); git's text if none.
    static func untrackedInTheWay(_ output: String) -> [String] {
        var files: [String] = []
        for line in output.split(separator: "\n") {
            if line.hasPrefix("\t") {
                files.append(String(line.dropFirst()))
            } else if line.contains("would be overwritten"), let open = line.firstIndex(of: "'"),
                let close = line[line.index(after: open)...].firstIndex(of: "'")
            {
                files.append(String(line[line.index(after: open)..<close]))
            }
        }
        return files.isEmpty ? [output] : files
    }
}
