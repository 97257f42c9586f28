#if canImport(Glibc)
    import Glibc
#endif

/// Threads of berth's own (pthreads, not Dispatch: berth forks only from
/// its C shim, and what runs here never forks).
public enum Threads {
    /// Starts `body` on a new thread; its handle, to join or detach.
    /// Throws when the system has no thread to give (EAGAIN).
    public static func start(_ body: @escaping @Sendable () -> Void) throws(SystemError) -> pthread_t {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { argument in
                guard let argument else { return nil }
                Unmanaged<Body>.fromOpaque(argument).takeRetainedValue().body()
                return nil
            }, context)
        guard created == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw SystemError(call: "pthread_create", errno: created)
        }
        return thread
    }

    private final class Body: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
