import FoundationEssentials
import Kernel

#if canImport(Glibc)
    import Glibc
#endif

/// inotify on the manifests directory, and on its parent for the
/// directory's own name: a directory replaced by a rename, deleted and
/// re-created (git checkout), or a symlink swapped to a new target is
/// watched again. Only entries the loader reads count as changes.
public final class ManifestWatcher {
    let inotify: Inotify
    public let directory: String
    let parent: String
    let base: String
    private var directoryWatch: Int32?
    private var parentWatch: Int32?

    public var fd: Int32 { inotify.fd }
    /// Whether the directory itself is watched now (false while it is missing).
    public var isWatching: Bool { directoryWatch != nil }

    public init(directory: String) throws(SystemError) {
        var absolute = directory.hasPrefix("/") ? directory : FileManager.default.currentDirectoryPath + "/" + directory
        while absolute.count > 1 && absolute.hasSuffix("/") { absolute.removeLast() }
        self.directory = absolute
        let slash = absolute.lastIndex(of: "/") ?? absolute.startIndex
        parent = slash == absolute.startIndex ? "/" : String(absolute[..<slash])
        base = String(absolute[absolute.index(after: slash)...])
        inotify = try Inotify()
        arm()
    }

    /// (Re)arms both watches; a missing directory is tried again at the next call.
    public func arm() {
        if parentWatch == nil {
            parentWatch = try? inotify.watchDirectory(
                parent, mask: UInt32(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB))
        }
        let watch = try? inotify.watchDirectory(directory)
        if let old = directoryWatch, old != watch { inotify.remove(old) }
        directoryWatch = watch
    }

    /// Reads what is queued (never blocks); returns whether any of it can
    /// change the desired state.
    public func changes() throws(SystemError) -> Bool {
        var changed = false
        var rearm = directoryWatch == nil
        for event in try inotify.read() {
            if event.has(IN_Q_OVERFLOW) {
                changed = true
                rearm = true
            } else if event.watch == parentWatch {
                if event.name == base {
                    changed = true
                    rearm = true
                }
            } else if event.watch == directoryWatch {
                if event.has(IN_DELETE_SELF) || event.has(IN_MOVE_SELF) || event.has(IN_IGNORED) {
                    changed = true
                    rearm = true
                } else if ManifestWatchFilter.isRelevant(event.name) {
                    changed = true
                }
            }
        }
        if rearm { arm() }
        return changed
    }
}
