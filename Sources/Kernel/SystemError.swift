#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call: which call, the errno it set, and what it was about.
///
/// Rendered the way crun words it: `mount `proc` on `/x`: Operation not permitted (EPERM)`.
public struct SystemError: Error, Equatable, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32
    public let subject: String?

    public init(call: String, errno: Int32, subject: String? = nil) {
        self.call = call
        self.errno = errno
        self.subject = subject
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        if let subject {
            return "\(call) `\(subject)`: \(reason) (\(SystemError.name(of: errno)))"
        }
        return "\(call): \(reason) (\(SystemError.name(of: errno)))"
    }

    /// The symbolic name of the common errno values berth reports.
    public static func name(of code: Int32) -> String {
        switch code {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case EBADF: return "EBADF"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EBUSY: return "EBUSY"
        case EEXIST: return "EEXIST"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ENOSYS: return "ENOSYS"
        case ELOOP: return "ELOOP"
        case EXDEV: return "EXDEV"
        default: return "errno \(code)"
        }
    }
}
