import Kernel
import Model
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Whether a container's init can start from its root filesystem: the
/// command exists and is executable, the working directory is a directory.
/// Checked on the lower layer (and on the container's private layer, when
/// it has one already) before anything is created, so `plan` says what
/// `apply` would otherwise find out half-way, as ENOENT from execve.
public enum InitCheck {
    /// Where the files are looked up.
    public enum Layer: Sendable {
        /// A directory, looked at as the container's root (RootTree).
        case tree(RootTree)
        /// The busybox template before it is built: the layout it will have.
        case layout([String: RootTree.Entry])
        /// A directory opened once, each path in it looked up once.
        case opened(OpenedTree)

        func entry(_ path: String) throws(SystemError) -> RootTree.Entry {
            switch self {
            case .tree(let tree): return try tree.entry(path)
            case .layout(let entries): return entries[InitCheck.normalized(path)] ?? .missing
            case .opened(let tree): return try tree.entry(path)
            }
        }

        /// A directory on disk, where a path is found only through the
        /// directories on its way (a layout lists entries alone).
        var isDirectory: Bool {
            if case .layout = self { return false }
            return true
        }

        func isOpaqueDirectory(_ path: String) -> Bool {
            switch self {
            case .tree(let tree): return tree.isOpaqueDirectory(path)
            case .layout: return false
            case .opened(let tree): return tree.isOpaqueDirectory(path)
            }
        }
    }

    /// A layer's directory opened once (not once per path looked up), and
    /// what each path is remembered for the one check: a container's
    /// private layer is asked three paths or more, and the lower layer
    /// that containers of one template share is asked the same paths for
    /// each of them (a no-op plan of 1000 busybox containers: one lookup
    /// of /bin/sleep in the template, not 1000; berth-bench scale).
    /// Made for one pass of checks (`Layers`) and dropped after it.
    public final class OpenedTree: Sendable {
        public let tree: RootTree
        /// -1: the directory could not be opened; each lookup goes through
        /// `tree`, which says why.
        private let fd: Int32
        private let entries = Mutex<[String: Result<RootTree.Entry, SystemError>]>([:])
        private let opaque = Mutex<[String: Bool]>([:])

        public init(_ tree: RootTree) {
            self.tree = tree
            fd = (try? Syscall.open(tree.root, O_RDONLY | O_DIRECTORY)) ?? -1
        }

        private init(_ tree: RootTree, fd: Int32) {
            self.tree = tree
            self.fd = fd
        }

        /// The tree of a directory that may not exist: nil when it does
        /// not (ENOENT), where the open that finds out is the one kept (a
        /// container's private layer, asked for each container each plan:
        /// an access(2) before the open was one more lookup of its path;
        /// berth-bench scale). Any other failure to open it is decided as
        /// before: a tree as `init` makes it (each lookup through the path
        /// then says why) where the path exists, none where it cannot be
        /// reached (another user's plan, a state dir it cannot search).
        public static func ifPresent(_ root: String) -> OpenedTree? {
            do throws(SystemError) {
                return OpenedTree(RootTree(root: root), fd: try Syscall.open(root, O_RDONLY | O_DIRECTORY))
            } catch {
                guard error.errno != ENOENT, Syscall.exists(root) else { return nil }
                return OpenedTree(RootTree(root: root))
            }
        }

        deinit { if fd >= 0 { Syscall.close(fd) } }

        func entry(_ path: String) throws(SystemError) -> RootTree.Entry {
            // The root itself: the directory opened (O_DIRECTORY), as a
            // lookup of "/" in it finds (RESOLVE_IN_ROOT); a working
            // directory of "/" is asked of every container.
            if fd >= 0 && path == "/" { return .directory }
            if let known = entries.withLock({ $0[path] }) { return try known.get() }
            let found: Result<RootTree.Entry, SystemError>
            do throws(SystemError) {
                found = .success(fd >= 0 ? try tree.entry(path, rootFD: fd) : try tree.entry(path))
            } catch {
                found = .failure(error)
            }
            entries.withLock { $0[path] = found }
            return try found.get()
        }

        func isOpaqueDirectory(_ path: String) -> Bool {
            if let known = opaque.withLock({ $0[path] }) { return known }
            let found = fd >= 0 ? tree.isOpaqueDirectory(path, rootFD: fd) : tree.isOpaqueDirectory(path)
            opaque.withLock { $0[path] = found }
            return found
        }
    }

    /// The lower layers of one pass of checks, each opened once and shared
    /// by the containers that start from it (OpenedTree).
    public final class Layers: Sendable {
        private let trees = Mutex<[String: OpenedTree]>([:])
        private let built = Mutex<[String: String?]>([:])

        public init() {}

        /// `templates.builtPath(of:)`, asked once per template in the pass
        /// (a stat of the template's binary per container otherwise).
        func builtPath(of template: String, in templates: TemplateStore) -> String? {
            if let known = built.withLock({ $0[template] }) { return known }
            let path = templates.builtPath(of: template)
            built.withLock { $0[template] = path }
            return path
        }

        func layer(_ root: String) -> Layer {
            .opened(
                trees.withLock { trees in
                    if let known = trees[root] { return known }
                    let opened = OpenedTree(RootTree(root: root))
                    trees[root] = opened
                    return opened
                })
        }
    }

    /// The layers of one root filesystem, the private (upper) layer first as
    /// overlayfs sees them, and how a message names the root filesystem.
    public struct Root: Sendable {
        public var layers: [Layer]
        /// `template busybox`, `directory /srv/rootfs`, `tarball /srv/debian.tar.xz`.
        public var name: String
        public init(layers: [Layer], name: String) {
            self.layers = layers
            self.name = name
        }

        /// What `path` is in the merged view, as overlayfs merges it: the
        /// first layer that has it, unless a layer above deleted it (a
        /// whiteout at the path or at a directory on the way) or made a
        /// directory on the way opaque.
        ///
        /// In a directory (not a layout) above other layers, the directories
        /// on the way are looked up first, from the top: where one is not a
        /// directory there (missing, or a file), neither is the path (its
        /// lookup resolves them), so it is not looked up in that layer (a
        /// container's private layer without /bin: one lookup for
        /// /bin/sleep, not two; berth-bench scale, no-op plan at 1000). A
        /// whiteout on the way hides the path; an opaque directory on the
        /// way hides the layers below once the path is not in this one.
        func entry(_ path: String) throws(SystemError) -> RootTree.Entry {
            let components = InitCheck.normalized(path).split(separator: "/")
            layers: for (index, layer) in layers.enumerated() {
                let above = index < layers.count - 1
                var directories: [String]?
                if above, layer.isDirectory {
                    var found: [String] = []
                    var prefix = ""
                    for component in components.dropLast() {
                        prefix += "/" + component
                        switch try layer.entry(prefix) {
                        case .whiteout: return .missing
                        case .directory: found.append(prefix)
                        default: continue layers
                        }
                    }
                    directories = found
                }
                let entry = try layer.entry(path)
                if entry == .whiteout { return .missing }
                if entry != .missing { return entry }
                guard above else { break }
                if let directories {
                    if directories.contains(where: { layer.isOpaqueDirectory($0) }) { return .missing }
                    continue
                }
                var prefix = ""
                for component in components.dropLast() {
                    prefix += "/" + component
                    switch try layer.entry(prefix) {
                    case .whiteout: return .missing
                    case .directory where layer.isOpaqueDirectory(prefix): return .missing
                    default: continue
                    }
                }
            }
            return .missing
        }
    }

    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        public enum Field: Hashable, Sendable {
            /// `spec.init.command[0]` (or the default command when none is written).
            case command
            case workingDir
        }
        public var field: Field
        public var message: String
        public var hint: String?
        public var description: String { message + (hint.map { " (\($0))" } ?? "") }
    }

    /// The directories the init's command is searched in when it has no
    /// slash: the order of `exec_init` in container.c.
    public static let searchPath = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    /// Paths berth mounts over in every container: what is under them is not
    /// the root filesystem's.
    static let mountedByBerth = ["/proc", "/sys", "/dev"]

    /// Every problem of `spec`'s init in `root`. A path under a mount of the
    /// manifest (or /proc, /sys, /dev) is not checked: the mount provides it.
    public static func problems(_ spec: ContainerConfig, in root: Root) -> [Problem] {
        let command = spec.command
        let workingDir = spec.workingDir
        let mounted = mountedByBerth + spec.mounts.map(\.destination)
        func covered(_ path: String) -> Bool {
            let path = normalized(path)
            return mounted.contains { path == $0 || path.hasPrefix($0 + "/") }
        }
        var problems: [Problem] = []
        func entry(_ field: Problem.Field, _ path: String) -> RootTree.Entry? {
            do throws(SystemError) {
                return try root.entry(path)
            } catch {
                problems.append(Problem(field: field, message: "\(path) in \(root.name) cannot be resolved: \(error)"))
                return nil
            }
        }
        if !covered(workingDir), let found = entry(.workingDir, workingDir), found != .directory {
            let message = found == .missing ? "\(workingDir) is not in \(root.name)" : "\(workingDir) is not a directory in \(root.name)"
            problems.append(Problem(field: .workingDir, message: message))
        }
        guard let program = command.first, !program.isEmpty else {
            problems.append(Problem(field: .command, message: "the command is empty"))
            return problems
        }
        if program.contains("/") {
            let path = program.hasPrefix("/") ? program : (workingDir == "/" ? "" : workingDir) + "/" + program
            guard !covered(path), let found = entry(.command, path) else { return problems }
            switch found {
            case .executable: break
            case .missing:
                let name = String(program.split(separator: "/").last ?? "")
                let hint = name.isEmpty ? nil : searched(name, in: root).map { "did you mean '\($0)'?" }
                problems.append(Problem(field: .command, message: "\(program) is not in \(root.name)", hint: hint))
            case .directory:
                problems.append(Problem(field: .command, message: "\(program) is a directory in \(root.name)"))
            case .file:
                problems.append(Problem(field: .command, message: "\(program) is not executable in \(root.name) (no execute bit)"))
            case .other, .whiteout:
                problems.append(Problem(field: .command, message: "\(program) is not a regular file in \(root.name)"))
            }
            return problems
        }
        // No slash: searched like exec_init does.
        if searched(program, in: root) == nil {
            let candidates = searchPath.map { $0 + "/" + program }
            if let present = candidates.first(where: { (try? root.entry($0)) ?? .missing != .missing }) {
                problems.append(Problem(field: .command, message: "\(present) is not executable in \(root.name)"))
            } else {
                problems.append(
                    Problem(
                        field: .command, message: "\(program) is not in the search path of \(root.name)",
                        hint: "searched \(searchPath.joined(separator: ":"))"))
            }
        }
        return problems
    }

    /// The first executable `name` in the search path.
    static func searched(_ name: String, in root: Root) -> String? {
        searchPath.map { $0 + "/" + name }.first { (try? root.entry($0)) == .executable }
    }

    /// `/a//./b/` as `/a/b`, and `..` as in a root (never above it).
    static func normalized(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/") where component != "." {
            if component == ".." {
                _ = components.popLast()
            } else {
                components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }
}

extension TemplateStore {
    /// The layout of the busybox template as `buildBusybox` makes it: for
    /// checking against it without building it.
    public func busyboxLayout() throws -> [String: RootTree.Entry] {
        var entries: [String: RootTree.Entry] = ["/": .directory, "/bin/busybox": .executable]
        for directory in TemplateStore.busyboxDirectories {
            var path = ""
            for component in directory.split(separator: "/") {
                path += "/" + component
                entries[path] = .directory
            }
        }
        for name in TemplateStore.busyboxEtc.keys { entries["/etc/" + name] = .file }
        for applet in try busyboxApplets() where entries["/" + applet] == nil { entries["/" + applet] = .executable }
        return entries
    }
}

extension ContainerRuntime {
    /// Whether the container's init runs, started from the manifest's root
    /// filesystem, command, working directory and mounts (what the init
    /// check looks at).
    public func runsAsRecorded(_ container: ContainerObject) -> Bool {
        guard let record = state.load(container.metadata.name, networks: false), let recorded = record.spec else { return false }
        let spec = container.spec
        guard recorded.rootfs == spec.rootfs, recorded.command == spec.command, recorded.workingDir == spec.workingDir,
            recorded.mounts == spec.mounts
        else { return false }
        return isRunning(record)
    }

    /// The root filesystem a container would start from, for InitCheck,
    /// without making anything: a template not built yet is looked at as
    /// its layout. Nil for a tarball not unpacked yet (checked once it is)
    /// or unpacked out of this user's reach, or a container without a rootfs.
    ///
    /// `shared`: the lower layers of this pass of checks, each opened once
    /// for every container that starts from it.
    public func initCheckRoot(_ container: ContainerObject, shared: InitCheck.Layers = InitCheck.Layers()) throws -> InitCheck.Root? {
        var layers: [InitCheck.Layer] = []
        // The private layer of a container that exists already (overlayfs looks there first).
        let upper = state.containerDirectory(container.metadata.name) + "/upper"
        if let opened = InitCheck.OpenedTree.ifPresent(upper) { layers.append(.opened(opened)) }
        switch container.spec.rootfs {
        case .template(let template):
            if let built = shared.builtPath(of: template, in: templates) {
                layers.append(shared.layer(built))
            } else {
                guard template == "busybox" else { return nil }
                layers.append(.layout(try templates.busyboxLayout()))
            }
            return InitCheck.Root(layers: layers, name: "template \(template)")
        case .directory(let directory):
            layers.append(shared.layer(directory))
            return InitCheck.Root(layers: layers, name: "directory \(directory)")
        case .tarball(let tarball):
            let unpacked = try templates.cachePath(ofTarball: tarball)
            // Unpacked trees are root's alone (mode 0700): a plan by another user checks nothing there.
            guard Syscall.exists(unpacked), access(unpacked, R_OK | X_OK) == 0 else { return nil }
            layers.append(shared.layer(unpacked))
            return InitCheck.Root(layers: layers, name: "tarball \(tarball)")
        }
    }
}
