import Kernel

/// Who places a container's cgroup (`--cgroup-driver`, BERTH_CGROUP_DRIVER).
public enum CgroupManager: String, Sendable, CaseIterable, Codable {
    /// berth makes `<cgroup-parent>/NAME` itself, on every host.
    case cgroupfs
    /// systemd makes a delegated scope `<parent>-NAME.scope` in the slice
    /// `<parent>.slice`; berth's limits go in its `payload` sub-cgroup.
    case systemd
}

/// Where one instance's containers' cgroups are, by its cgroup manager.
/// Pure: path and unit names only. A container's own path is kept in its
/// record (`ContainerRecord.cgroup`) once it is made; this layout names
/// where a new one goes, and where containers without a record are looked
/// for.
public struct CgroupLayout: Sendable, Equatable {
    public var manager: CgroupManager
    public var parent: String
    /// systemd: the manager's own cgroup its slices are in ("" for PID 1;
    /// a user manager's is its service's), as its ControlGroup property says.
    public var root: String

    public struct LayoutError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// The sub-cgroup of a systemd scope that holds the container (systemd
    /// owns the scope's own files; nspawn calls its equivalent `payload` too).
    public static let payload = "payload"

    public init(manager: CgroupManager, parent: String, root: String = "") throws(LayoutError) {
        self.manager = manager
        self.parent = parent
        self.root = root
        if manager == .systemd { _ = try slicePath() }
    }

    /// The slice's unit name (`berth.slice`); nil for cgroupfs.
    public var slice: String? { manager == .systemd ? parent + ".slice" : nil }

    /// The cgroup the containers' cgroups (cgroupfs) or scopes (systemd) are in:
    /// `berth`, or `berth.slice` (`a.slice/a-b.slice` for `a-b`, as systemd
    /// nests a slice in the one its name's prefix names).
    public func containersParent() throws(LayoutError) -> CgroupPath {
        let path = manager == .cgroupfs ? parent : root.isEmpty ? try slicePath() : root + "/" + (try slicePath())
        do {
            return try CgroupPath(path)
        } catch {
            throw LayoutError(description: "--cgroup-parent \(parent): not a cgroup path (\(error))")
        }
    }

    /// The container's scope unit (`berth-web1.scope`); nil for cgroupfs.
    public func scope(_ name: String) -> String? {
        manager == .systemd ? parent + "-" + name + ".scope" : nil
    }

    /// The cgroup a new container `name` gets: `berth/web1`, or
    /// `berth.slice/berth-web1.scope/payload`.
    public func group(_ name: String) throws(LayoutError) -> CgroupPath {
        let parentPath = try containersParent()
        do {
            guard let scope = scope(name) else { return try parentPath.appending(name) }
            return try parentPath.appending(scope).appending(CgroupLayout.payload)
        } catch {
            throw LayoutError(description: "container \(name): not a cgroup name (\(error))")
        }
    }

    /// The container's name from a child of `containersParent()` (nil: not
    /// one of this instance's containers).
    public func containerName(child: String) -> String? {
        // (A leading dot: a deleted container's cgroup set aside, CgroupTrash.)
        guard manager == .systemd else { return CgroupTrash.isEntry(child) ? nil : child }
        let prefix = parent + "-"
        guard child.hasPrefix(prefix), child.hasSuffix(".scope"), child.count > prefix.count + ".scope".count else { return nil }
        return String(child.dropFirst(prefix.count).dropLast(".scope".count))
    }

    /// The slice's cgroup path: one `.slice` component per `-`-separated
    /// prefix of the parent. A slice name is letters, digits and `_`
    /// between single dashes.
    func slicePath() throws(LayoutError) -> String {
        let parts = parent.split(separator: "-", omittingEmptySubsequences: false)
        let valid = parts.allSatisfy { part in
            !part.isEmpty
                && part.utf8.allSatisfy { byte in
                    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                        || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
                }
        }
        guard valid, parent.utf8.count <= 200 else {
            throw LayoutError(
                description:
                    "--cgroup-parent \(parent): with --cgroup-driver systemd it names a slice: letters, digits and _ between single dashes (berth, berth-test)"
            )
        }
        return (1...parts.count).map { parts.prefix($0).joined(separator: "-") + ".slice" }.joined(separator: "/")
    }
}
