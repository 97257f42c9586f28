import FoundationEssentials
import Kernel
import Model
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import Runtime

/// The init command and working directory checked in the root filesystem
/// before anything is created: on a layout (the busybox template before it
/// is built) and on a real directory, resolved inside it.
@Suite struct InitCheckTests {
    /// busybox's template, small: what `busyboxLayout` gives for these paths.
    static let busybox = InitCheck.Root(
        layers: [
            .layout([
                "/": .directory, "/bin": .directory, "/sbin": .directory, "/usr": .directory, "/usr/sbin": .directory,
                "/tmp": .directory, "/etc": .directory, "/bin/busybox": .executable, "/bin/sh": .executable,
                "/usr/sbin/httpd": .executable, "/sbin/init": .executable, "/etc/passwd": .file,
            ])
        ], name: "template busybox")

    static func spec(_ command: [String]?, workingDir: String? = nil, mounts: [String] = []) -> ContainerConfig {
        var spec = ContainerSpec()
        spec.`init` = InitSpec(command: command, workingDir: workingDir)
        spec.mounts = mounts.isEmpty ? nil : mounts.map { MountSpec(type: .tmpfs, destination: $0) }
        return spec.resolved(name: "t", defaultRootfs: .template("busybox"))
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var spec: ContainerConfig
        var expected: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "the README's first httpd", spec: spec(["/bin/httpd", "-f"]),
            expected: [
                "command: /bin/httpd is not in template busybox (did you mean '/usr/sbin/httpd'?)"
            ]),
        Case(name: "an absolute applet", spec: spec(["/usr/sbin/httpd", "-f"]), expected: []),
        Case(name: "a name found in the search path", spec: spec(["httpd", "-f"]), expected: []),
        Case(name: "the default /sbin/init", spec: spec(nil), expected: []),
        Case(
            name: "a name in no search directory", spec: spec(["nginx"]),
            expected: [
                "command: nginx is not in the search path of template busybox "
                    + "(searched /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)"
            ]),
        Case(
            name: "a missing path without a near name", spec: spec(["/opt/app/run"]),
            expected: [
                "command: /opt/app/run is not in template busybox"
            ]),
        Case(name: "a directory", spec: spec(["/usr/sbin"]), expected: ["command: /usr/sbin is a directory in template busybox"]),
        Case(
            name: "a file without an execute bit", spec: spec(["/etc/passwd"]),
            expected: [
                "command: /etc/passwd is not executable in template busybox (no execute bit)"
            ]),
        Case(
            name: "a missing working directory", spec: spec(["/bin/sh"], workingDir: "/www"),
            expected: [
                "workingDir: /www is not in template busybox"
            ]),
        Case(
            name: "a working directory that is a file", spec: spec(["/bin/sh"], workingDir: "/etc/passwd"),
            expected: [
                "workingDir: /etc/passwd is not a directory in template busybox"
            ]),
        Case(name: "a relative path from the working directory", spec: spec(["./httpd"], workingDir: "/usr/sbin"), expected: []),
        Case(
            name: "a relative path that is not there", spec: spec(["./run"], workingDir: "/tmp"),
            expected: [
                "command: ./run is not in template busybox"
            ]),
        Case(
            name: "both wrong", spec: spec(["/bin/httpd"], workingDir: "/www"),
            expected: [
                "workingDir: /www is not in template busybox",
                "command: /bin/httpd is not in template busybox (did you mean '/usr/sbin/httpd'?)",
            ]),
        Case(
            name: "under a mount of the manifest: not the template's", spec: spec(["/app/run"], workingDir: "/app", mounts: ["/app"]),
            expected: []),
        Case(name: "under /proc: berth mounts it", spec: spec(["/proc/self/exe"]), expected: []),
    ]

    @Test(arguments: cases) func problemsOnTheBusyboxLayout(_ test: Case) {
        let problems = InitCheck.problems(test.spec, in: InitCheckTests.busybox).map { problem in
            (problem.field == .command ? "command: " : "workingDir: ") + problem.description
        }
        #expect(problems == test.expected)
    }

    let base = "/tmp/berth-initcheck-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    func write(_ path: String, mode: mode_t) throws {
        let fd = try Syscall.open(path, O_WRONLY | O_CREAT, mode: mode)
        Syscall.close(fd)
        #expect(chmod(path, mode) == 0)
    }

    @Test func aDirectoryIsResolvedInsideItselfNeverOnTheHost() throws {
        defer { try? Syscall.removeTree(base) }
        let root = base + "/rootfs"
        for directory in ["bin", "usr/sbin", "srv", "etc"] { try Syscall.makeDirectories(root + "/" + directory) }
        try write(root + "/usr/sbin/httpd", mode: 0o755)
        try write(root + "/etc/motd", mode: 0o644)
        // Absolute links resolve in the root, as they will in the container.
        try Syscall.symlink("/usr/sbin/httpd", at: root + "/bin/httpd")
        // Links that would leave it: to a host file outside the root, and up through `..`.
        try write(base + "/outside", mode: 0o755)
        try Syscall.symlink(base + "/outside", at: root + "/bin/host")
        try Syscall.symlink("../../../../../../../outside", at: root + "/bin/up")
        try Syscall.symlink("/bin/loop", at: root + "/bin/loop")
        let upper = base + "/upper"
        try Syscall.makeDirectories(upper + "/opt")
        try write(upper + "/opt/app", mode: 0o700)
        #expect(try RootTree(root: root).entry("/bin/host") == .missing)
        #expect(try RootTree(root: root).entry("/bin/up") == .missing)
        #expect(try RootTree(root: root).entry("/etc/motd") == .file)
        // Each directory looked at path by path, and opened once with its
        // answers kept for the pass (plan's checks; the lower layer shared
        // by the containers of one template, asked twice here): the same.
        let shared = InitCheck.Layers()
        let opened = InitCheck.Root(layers: [shared.layer(root)], name: "directory \(root)")
        for rootfs in [InitCheck.Root(layers: [.tree(RootTree(root: root))], name: "directory \(root)"), opened, opened] {
            #expect(InitCheck.problems(InitCheckTests.spec(["/bin/httpd"], workingDir: "/srv"), in: rootfs).isEmpty)
            #expect(InitCheck.problems(InitCheckTests.spec(["httpd"]), in: rootfs).isEmpty)
            #expect(
                InitCheck.problems(InitCheckTests.spec(["/bin/host"]), in: rootfs).map(\.description) == [
                    "/bin/host is not in directory \(root)"
                ])
            #expect(
                InitCheck.problems(InitCheckTests.spec(nil), in: rootfs).map(\.description) == ["/sbin/init is not in directory \(root)"])
            let loop = InitCheck.problems(InitCheckTests.spec(["/bin/loop"]), in: rootfs).map(\.description)
            #expect(loop.count == 1 && loop.first?.contains("ELOOP") == true, "\(loop)")
            // A private layer that has the file: overlayfs shows it.
            let merged = InitCheck.Root(layers: [.opened(InitCheck.OpenedTree(RootTree(root: upper)))] + rootfs.layers, name: rootfs.name)
            #expect(InitCheck.problems(InitCheckTests.spec(["/opt/app"], workingDir: "/srv"), in: merged).isEmpty)
        }
        // A directory that cannot be opened says why at each lookup.
        let gone = InitCheck.Root(layers: [shared.layer(base + "/gone")], name: "directory \(base)/gone")
        #expect(InitCheck.problems(InitCheckTests.spec(["/bin/httpd"]), in: gone).first?.message.contains("cannot be resolved") == true)
    }

    /// A container's private layer is opened once: none where it is
    /// missing, and "/" in it is the directory opened. A private layer
    /// without a directory on the command's way, or with it, leaves the
    /// command to the layer below; one with the command shows it.
    @Test func aPrivateLayerIsOpenedOnceAndLookedUpFromTheTop() throws {
        defer { try? Syscall.removeTree(base) }
        #expect(InitCheck.OpenedTree.ifPresent(base + "/none") == nil)
        let (lower, upper) = (base + "/lower", base + "/upper")
        try Syscall.makeDirectories(lower + "/bin")
        try write(lower + "/bin/sleep", mode: 0o755)
        try Syscall.makeDirectories(upper)
        try write(upper + "/file", mode: 0o644)
        let opened = try #require(InitCheck.OpenedTree.ifPresent(upper))
        #expect(try opened.entry("/") == .directory)
        // A file where the layer should be: each lookup says why.
        let file = try #require(InitCheck.OpenedTree.ifPresent(upper + "/file"))
        #expect(throws: SystemError.self) { try file.entry("/bin/sleep") }
        func problems(_ command: String) throws -> [String] {
            let layers = InitCheck.Layers()
            let root = InitCheck.Root(
                layers: [.opened(try #require(InitCheck.OpenedTree.ifPresent(upper))), layers.layer(lower)], name: "directory \(lower)")
            return InitCheck.problems(InitCheckTests.spec([command]), in: root).map(\.description)
        }
        #expect(try problems("/bin/sleep").isEmpty)
        #expect(try problems("/bin/true") == ["/bin/true is not in directory \(lower)"])
        try Syscall.makeDirectories(upper + "/bin")
        #expect(try problems("/bin/sleep").isEmpty)
        try write(upper + "/bin/true", mode: 0o755)
        #expect(try problems("/bin/true").isEmpty)
        try write(upper + "/bin/sleep", mode: 0o644)
        #expect(try problems("/bin/sleep") == ["/bin/sleep is not executable in directory \(lower) (no execute bit)"])
        // A file on the command's way in the private layer: the lower layer's command.
        try Syscall.removeTree(upper + "/bin")
        try write(upper + "/bin", mode: 0o644)
        #expect(try problems("/bin/sleep").isEmpty)
    }

    /// A private layer that deleted the command (a whiteout at it, or at a
    /// directory on the way) hides it, as overlayfs does.
    @Test func aWhiteoutInThePrivateLayerHidesTheCommand() {
        let lower = InitCheckTests.busybox.layers
        func merged(_ upper: [String: RootTree.Entry]) -> InitCheck.Root {
            InitCheck.Root(layers: [.layout(upper)] + lower, name: "template busybox")
        }
        let spec = InitCheckTests.spec(["/usr/sbin/httpd"])
        #expect(InitCheck.problems(spec, in: merged(["/": .directory])).isEmpty)
        #expect(
            InitCheck.problems(spec, in: merged(["/usr/sbin/httpd": .whiteout])).map(\.description) == [
                "/usr/sbin/httpd is not in template busybox"
            ])
        #expect(InitCheck.problems(spec, in: merged(["/usr": .whiteout])).count == 1)
        // Made again above the whiteout's directory: found.
        #expect(InitCheck.problems(InitCheckTests.spec(["/bin/sh"]), in: merged(["/usr": .whiteout])).isEmpty)
    }

    /// The same on real directories: a whiteout is a character device 0:0,
    /// an opaque directory carries trusted.overlay.opaque (both need root).
    @Test(.enabled(if: getuid() == 0, "mknod and trusted.* xattrs need root"))
    func realWhiteoutsAndOpaqueDirectoriesHideTheLowerLayer() throws {
        defer { try? Syscall.removeTree(base) }
        let (lower, upper) = (base + "/lower", base + "/upper")
        for directory in ["usr/sbin", "opt/app"] { try Syscall.makeDirectories(lower + "/" + directory) }
        try write(lower + "/usr/sbin/httpd", mode: 0o755)
        try write(lower + "/opt/app/run", mode: 0o755)
        for directory in ["usr/sbin", "opt/app"] { try Syscall.makeDirectories(upper + "/" + directory) }
        let merged = InitCheck.Root(layers: [.tree(RootTree(root: upper)), .tree(RootTree(root: lower))], name: "directory \(lower)")
        #expect(InitCheck.problems(InitCheckTests.spec(["/usr/sbin/httpd"]), in: merged).isEmpty)
        #expect(InitCheck.problems(InitCheckTests.spec(["/opt/app/run"]), in: merged).isEmpty)

        #expect(mknod(upper + "/usr/sbin/httpd", S_IFCHR | 0o000, 0) == 0)
        #expect(try RootTree(root: upper).entry("/usr/sbin/httpd") == .whiteout)
        #expect(InitCheck.problems(InitCheckTests.spec(["/usr/sbin/httpd"]), in: merged).count == 1)
        let opaque = "import os, sys; os.setxattr(sys.argv[1], 'trusted.overlay.opaque', b'y')"
        #expect(try Spawn.run(["/usr/bin/python3", "-c", opaque, upper + "/opt/app"]).exitedCleanly)
        #expect(RootTree(root: upper).isOpaqueDirectory("/opt/app"))
        // The layers opened once (plan's checks) see the same.
        let opened = InitCheck.Root(
            layers: [.opened(InitCheck.OpenedTree(RootTree(root: upper))), InitCheck.Layers().layer(lower)], name: "directory \(lower)")
        for rootfs in [merged, opened] {
            #expect(InitCheck.problems(InitCheckTests.spec(["/usr/sbin/httpd"]), in: rootfs).count == 1)
            #expect(
                InitCheck.problems(InitCheckTests.spec(["/opt/app/run"]), in: rootfs).map(\.description) == [
                    "/opt/app/run is not in directory \(lower)"
                ])
        }
    }

    @Test func theBusyboxLayoutIsWhatTheBuildMakes() throws {
        let store = TemplateStore(directory: base + "/templates")
        guard Syscall.exists(store.busyboxBinary) else { return }  // Debian's busybox-static: installed by make test
        defer { try? Syscall.removeTree(base) }
        let layout = try store.busyboxLayout()
        #expect(layout["/usr/sbin/httpd"] == .executable)
        #expect(layout["/bin/httpd"] == nil)
        #expect(layout["/bin/sh"] == .executable && layout["/sbin/init"] == .executable)
        #expect(layout["/var"] == .directory && layout["/var/log"] == .directory && layout["/etc/passwd"] == .file)
        // Built, the tree agrees with the layout on every path the layout names.
        let built = try store.path(of: "busybox", logger: .init(label: "test"))
        let tree = RootTree(root: built)
        for (path, entry) in layout { #expect(try tree.entry(path) == entry, "\(path)") }
    }

    /// An apply's init check asks for the applets of every container whose
    /// template is not built yet: busybox runs once per version of its binary.
    @Test func theAppletsAreAskedOncePerVersionOfTheBinary() throws {
        try Syscall.makeDirectories(base)
        defer { try? Syscall.removeTree(base) }
        let counter = base + "/asked"
        var store = TemplateStore(directory: base + "/templates")
        store.busyboxBinary = base + "/busybox"
        func write(_ applets: String) throws {
            let script = "#!/bin/sh\necho x >> \(counter)\nprintf '\(applets)'\n"
            try Syscall.writeAtomically(Array(script.utf8), to: store.busyboxBinary, mode: 0o755, durable: false)
        }
        func asked() -> Int { ((try? Syscall.readFile(counter)) ?? []).filter { $0 == UInt8(ascii: "\n") }.count }
        try write("bin/sh\\nusr/bin/wc\\n")
        for _ in 0..<3 { #expect(try store.busyboxApplets() == ["bin/sh", "usr/bin/wc"]) }
        #expect(asked() == 1)
        // A replaced binary is another version: asked again.
        try write("bin/sh\\n")
        #expect(try store.busyboxApplets() == ["bin/sh"])
        #expect(asked() == 2)
    }
}
