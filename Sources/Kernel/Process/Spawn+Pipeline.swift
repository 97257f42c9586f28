#if canImport(Glibc)
    import Glibc
#endif

extension Spawn {
    /// `producer | consumer` without a shell: the producer's stdout is the
    /// consumer's stdin (a pipe between the two), stdin of the producer is
    /// /dev/null, and both programs' standard error and the consumer's
    /// output are collected. Returns the producer's wait status and the
    /// consumer's result (each caller knows which of the producer's exit
    /// codes are failures). posix_spawn runs no Swift code in either child.
    public static func pipeline(_ producer: [String], into consumer: [String], outputLimit: Int = 1 << 20) throws(SystemError)
        -> (producerStatus: Int32, consumer: Result)
    {
        guard let first = producer.first, let second = consumer.first else { throw SystemError(call: "posix_spawn", errno: EINVAL) }
        let output = try Pipe2.make()
        let link: (read: Int32, write: Int32)
        do { link = try Pipe2.make() } catch {
            Syscall.close(output.read)
            Syscall.close(output.write)
            throw error
        }
        var arena = CStringArena()
        defer { arena.free() }
        var attributes = cleanSignalAttributes()
        defer { posix_spawnattr_destroy(&attributes) }
        func spawn(_ arguments: [String], stdin: Int32?, stdout: Int32) -> (pid: pid_t, error: Int32) {
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            if let stdin {
                posix_spawn_file_actions_adddup2(&actions, stdin, 0)
            } else {
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            }
            posix_spawn_file_actions_adddup2(&actions, stdout, 1)
            posix_spawn_file_actions_adddup2(&actions, output.write, 2)
            let argv = arena.array(arguments)
            var pid: pid_t = 0
            let result = argv.withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: arguments.count + 1) { pointer in
                posix_spawn(&pid, arguments[0], &actions, &attributes, pointer, environ)
            }
            return (pid, result)
        }
        let producing = spawn(producer, stdin: nil, stdout: link.write)
        let consuming = producing.error == 0 ? spawn(consumer, stdin: link.read, stdout: output.write) : (pid: 0, error: 0)
        // Only the children hold the pipe's ends now: the consumer sees
        // end-of-file when the producer exits, the producer EPIPE when the
        // consumer does.
        Syscall.close(link.read)
        Syscall.close(link.write)
        Syscall.close(output.write)
        defer { Syscall.close(output.read) }
        let text = producing.error == 0 && consuming.error == 0 ? ((try? Syscall.readAll(output.read, upTo: outputLimit)) ?? []) : []
        let producerStatus = producing.error == 0 ? Reaper.wait(producing.pid) ?? -1 : -1
        if producing.error != 0 { throw SystemError(call: "posix_spawn", errno: producing.error, subject: first) }
        if consuming.error != 0 { throw SystemError(call: "posix_spawn", errno: consuming.error, subject: second) }
        let consumerStatus = Reaper.wait(consuming.pid) ?? -1
        return (producerStatus, Result(status: consumerStatus, output: text))
    }
}
