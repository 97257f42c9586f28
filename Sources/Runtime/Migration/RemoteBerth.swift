/// The target host's berth as `berth migrate` drives it: through the ssh
/// client the host already has, with berth's global options of the target
/// (its state dir, run dir and cgroup parent). Pure: the command lines are
/// unit-tested.
public struct RemoteBerth: Equatable, Sendable {
    /// The ssh destination (`host`, `user@host`).
    public var host: String
    /// ssh `-o` options (`Port=2222`, `IdentityFile=/root/.ssh/k`).
    public var sshOptions: [String]
    /// berth's path on the target (`--remote-berth`).
    public var binary: String
    /// The target's state dir (`--remote-state-dir`).
    public var stateDirectory: String
    /// The target's run dir and cgroup parent (nil: its defaults).
    public var runDirectory: String?
    public var cgroupParent: String?
    /// The private directory (0700) of the shared ssh connection's socket:
    /// one connection serves every step of a migration (nil: a connection
    /// per command).
    public var controlDirectory: String?

    public init(
        host: String, sshOptions: [String] = [], binary: String = "berth", stateDirectory: String = "/var/lib/berth",
        runDirectory: String? = nil, cgroupParent: String? = nil, controlDirectory: String? = nil
    ) {
        self.host = host
        self.sshOptions = sshOptions
        self.binary = binary
        self.stateDirectory = stateDirectory
        self.runDirectory = runDirectory
        self.cgroupParent = cgroupParent
        self.controlDirectory = controlDirectory
    }

    /// A berth command on the target, with the target's global options.
    public func berth(_ arguments: [String]) -> [String] {
        var command = [binary] + arguments + ["--state-dir", stateDirectory]
        if let runDirectory { command += ["--run-dir", runDirectory] }
        if let cgroupParent { command += ["--cgroup-parent", cgroupParent] }
        return command
    }

    /// Where the target keeps a migrating container's images.
    public func stagingDirectory(_ name: String) -> String { stateDirectory + "/migrate/" + name }
    /// The container's directory in the target's state dir, and its
    /// private layer there (where the target's `berth restore` takes it).
    public func containerDirectory(_ name: String) -> String { stateDirectory + "/containers/" + name }
    public func privateLayer(_ name: String) -> String { containerDirectory(name) + "/upper" }
    /// The private layer of a container with a disk quota: on its image,
    /// or in its project-quota directory (both mounted or made at `disk`).
    public func diskLayer(_ name: String) -> String { containerDirectory(name) + "/disk/upper" }

    /// ssh's argv that runs `command` on the target. ssh hands the remote
    /// shell one line: each word is quoted for it. BatchMode: a missing key
    /// fails at once rather than waiting for a password.
    public func ssh(_ command: [String]) -> [String] { ssh(line: RemoteBerth.line(command)) }

    /// ssh's argv that runs a shell line on the target.
    /// LogLevel=ERROR: no warnings mixed into what a command prints.
    func ssh(line: String) -> [String] {
        ["ssh", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"] + sharing + sshOptions.flatMap { ["-o", $0] } + [host, "--", line]
    }

    /// Connection sharing: the first command opens the master, the next
    /// ones go through its socket (%C: a hash of host, port and user, short
    /// enough for a socket path); it outlives a command by ControlPersist.
    var sharing: [String] {
        guard let controlDirectory else { return [] }
        return ["-o", "ControlMaster=auto", "-o", "ControlPath=" + controlDirectory + "/%C", "-o", "ControlPersist=120"]
    }

    /// ssh's argv that ends the shared connection (nil: none is shared).
    public func closeMaster() -> [String]? {
        guard controlDirectory != nil else { return nil }
        return ["ssh", "-o", "LogLevel=ERROR"] + sharing + sshOptions.flatMap { ["-o", $0] } + ["-O", "exit", host]
    }

    /// The tar that unpacks a stream into `directory` on the target (made
    /// first): owners by number, permissions, xattrs (overlayfs's opaque
    /// and whiteout marks are trusted.* xattrs and 0:0 character devices).
    public func untar(into directory: String) -> [String] {
        ssh(
            line: RemoteBerth.line(["mkdir", "-p", "--", directory]) + " && "
                + RemoteBerth.line(["tar", "-x", "-p", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", directory, "-f", "-"]))
    }

    /// The target's command that removes from `directory` every entry not
    /// in `list` (Migration.layerList: NUL-ended paths, sorted by bytes): a
    /// file removed on the source since the layer's first copy. The script
    /// takes both as arguments (nothing is spliced into it); each stage
    /// writes a file, so a failing one stops it (no pipefail in dash).
    public func prune(_ directory: String, keeping list: String) -> [String] {
        let script =
            #"(cd -- "$1" && find . -mindepth 1 -print0) >"$2.here" && LC_ALL=C sort -z -o "$2.here" "$2.here""#
            + #" && LC_ALL=C comm -z -23 --check-order "$2.here" "$2" >"$2.gone""#
            + #" && (cd -- "$1" && xargs -0 -r rm -rf --) <"$2.gone""#
        return ["sh", "-c", script, "sh", directory, list]
    }

    /// One remote command that runs `first`, then `second` if it succeeded
    /// (one ssh session instead of two).
    public static func both(_ first: [String], _ second: [String]) -> [String] {
        ["sh", "-c", line(first) + " && " + line(second)]
    }

    /// Words as one shell line.
    public static func line(_ command: [String]) -> String { command.map(quoted).joined(separator: " ") }

    /// The local tar that streams `directory`'s tree (to `untar`).
    public static func tar(_ directory: String) -> [String] {
        ["/bin/tar", "-c", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", directory, "-f", "-", "."]
    }

    /// Whether the local tar's wait status is a success: exit 0, or 1
    /// (GNU tar: a file changed while it was read).
    public static func tarSucceeded(_ status: Int32) -> Bool { status & 0x7f == 0 && (status >> 8) & 0xff <= 1 }

    /// One word for a POSIX shell: as it is when it holds only characters
    /// no shell treats specially, else single-quoted.
    public static func quoted(_ word: String) -> String {
        let plain =
            !word.isEmpty
            && word.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
                default: return "_-./:=@%+,".utf8.contains(byte)
                }
            }
        if plain { return word }
        return "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}
