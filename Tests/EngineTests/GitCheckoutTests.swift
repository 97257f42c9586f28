import Foundation
import Kernel
import Testing

@testable import Engine

/// The agent's checkout follows its upstream (a local bare repository here):
/// fast-forwards and force-pushes alike, never over a local change.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/git"), "needs git"))
struct GitCheckoutTests {
    /// A bare "remote", a working clone that pushes to it, and the agent's checkout.
    struct Repositories {
        let root: String
        var remote: String { root + "/remote.git" }
        var work: String { root + "/work" }
        var checkout: String { root + "/checkout" }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("berth-git-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try git(root, ["init", "--quiet", "--bare", "--initial-branch=main", remote])
            try git(root, ["init", "--quiet", "--initial-branch=main", work])
            try git(work, ["remote", "add", "origin", remote])
            try commit("a.yaml", "one\n")
            try git(work, ["push", "--quiet", "origin", "main"])
            try git(root, ["clone", "--quiet", remote, checkout])
        }

        @discardableResult
        func git(_ directory: String, _ arguments: [String]) throws -> String {
            let result = try Spawn.run(
                ["/usr/bin/git", "-c", "user.name=berth test", "-c", "user.email=test@berth.invalid", "-C", directory] + arguments,
                mergingStandardError: true)
            let output = String(decoding: result.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard result.exitedCleanly else { throw GitCheckout.Failure(command: arguments.joined(separator: " "), output: output) }
            return output
        }

        func commit(_ file: String, _ text: String, amend: Bool = false) throws {
            try text.write(toFile: work + "/" + file, atomically: true, encoding: .utf8)
            try git(work, ["add", "."])
            try git(work, ["commit", "--quiet", "-m", file] + (amend ? ["--amend"] : []))
        }

        func head(_ directory: String) throws -> String { try git(directory, ["rev-parse", "HEAD"]) }
        func remove() { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test func followsAFastForwardAndAForcePush() throws {
        let repos = try Repositories()
        defer { repos.remove() }
        let checkout = try GitCheckout(directory: repos.checkout)
        let first = try repos.head(repos.work)
        #expect(try checkout.update() == .upToDate(first))

        try repos.commit("b.yaml", "two\n")
        try repos.git(repos.work, ["push", "--quiet", "origin", "main"])
        let second = try repos.head(repos.work)
        #expect(try checkout.update() == .moved(from: first, to: second, rewritten: false))

        // A rewritten history: the checked-out commit is not in it.
        try repos.commit("a.yaml", "changed\n", amend: true)
        try repos.git(repos.work, ["push", "--quiet", "--force", "origin", "main"])
        let rewritten = try repos.head(repos.work)
        #expect(try checkout.update() == .moved(from: second, to: rewritten, rewritten: true))
        #expect(try String(contentsOfFile: repos.checkout + "/a.yaml", encoding: .utf8) == "changed\n")
        #expect(try repos.head(repos.checkout) == rewritten)
    }

    @Test func refusesTrackedChangesStagedChangesAndUntrackedFilesInTheWay() throws {
        let repos = try Repositories()
        defer { repos.remove() }
        let checkout = try GitCheckout(directory: repos.checkout)
        let first = try repos.head(repos.work)
        try repos.commit("b.yaml", "two\n", amend: true)
        try repos.git(repos.work, ["push", "--quiet", "--force", "origin", "main"])
        let upstream = try repos.head(repos.work)

        // A modified tracked file (even one the new commit leaves alone).
        try "local\n".write(toFile: repos.checkout + "/a.yaml", atomically: true, encoding: .utf8)
        #expect(try checkout.update() == .localChanges(upstream: upstream, files: ["a.yaml"]))
        // Staged.
        try repos.git(repos.checkout, ["add", "a.yaml"])
        #expect(try checkout.update() == .localChanges(upstream: upstream, files: ["a.yaml"]))
        try repos.git(repos.checkout, ["reset", "--quiet", "--hard"])
        // An untracked file the upstream's commit would overwrite.
        try "mine\n".write(toFile: repos.checkout + "/b.yaml", atomically: true, encoding: .utf8)
        #expect(try checkout.update() == .localChanges(upstream: upstream, files: ["b.yaml"]))
        #expect(try repos.head(repos.checkout) == first)
        #expect(try String(contentsOfFile: repos.checkout + "/b.yaml", encoding: .utf8) == "mine\n")
        // An untracked file elsewhere is no obstacle.
        try FileManager.default.removeItem(atPath: repos.checkout + "/b.yaml")
        try "notes\n".write(toFile: repos.checkout + "/notes.txt", atomically: true, encoding: .utf8)
        #expect(try checkout.update() == .moved(from: first, to: upstream, rewritten: true))
        #expect(FileManager.default.fileExists(atPath: repos.checkout + "/notes.txt"))
    }

    @Test func aCheckoutWithoutRemoteIsLeftAsItIs() throws {
        let repos = try Repositories()
        defer { repos.remove() }
        try repos.git(repos.checkout, ["remote", "remove", "origin"])
        #expect(try GitCheckout(directory: repos.checkout).update() == .noRemote)
    }

    @Test func namesTheUntrackedFilesGitReports() {
        let single = "error: Untracked working tree file 'b.yaml' would be overwritten by merge.\nfatal: Could not reset index file"
        #expect(GitCheckout.untrackedInTheWay(single) == ["b.yaml"])
        let list = "error: The following untracked working tree files would be overwritten by checkout:\n\tb.yaml\n\tc.yaml\nAborting"
        #expect(GitCheckout.untrackedInTheWay(list) == ["b.yaml", "c.yaml"])
        #expect(GitCheckout.untrackedInTheWay("fatal: odd") == ["fatal: odd"])
    }
}
