import Foundation
import Kernel
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Lane 2 runs only inside a sandbox host: scripts/sandbox-run.sh sets
/// BERTH_SANDBOX=1 together with fresh network and mount namespaces. Tests
/// check both before touching anything, so they can never reconfigure the
/// machine they run on.
enum Sandbox {
    static let isActive: Bool = {
        let environment = ProcessInfo.processInfo.environment
        guard environment["BERTH_SANDBOX"] == "1", getuid() == 0,
            let launcher = environment["BERTH_HOST_NETNS"], !launcher.isEmpty,
            let mine = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        else { return false }
        // PID 1's namespace too, where this machine lets us read it.
        let initial = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/1/ns/net")
        return mine != launcher && mine != initial
    }()

    /// Whether a /proc/PID/cgroup line ("4:memory:/path", "0::/path") names a
    /// hierarchy berth puts containers in (not, say, name=systemd).
    static func isManagedHierarchy(_ line: Substring) -> Bool {
        let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { return false }
        if fields[0] == "0" && fields[1].isEmpty { return (try? CgroupDrivers.detect())?.version == .v2 }
        return fields[1].split(separator: ",").contains {
            ["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices"].contains(String($0))
        }
    }
}

/// Whether `condition` holds within `seconds` of wall time, looking every
/// 50 ms, and once more at the deadline. Generous by default: it returns as
/// soon as the condition holds, and the VM lane (qemu without KVM, suites
/// in parallel) takes seconds to start a process. A deadline, not a count
/// of tries: a condition that itself waits (a ping's 2 s for an answer)
/// made "10 seconds" last minutes, and hid a restarted container that
/// stayed unreachable for 25 s.
func eventually(seconds: Int = 30, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

/// A child process started with posix_spawn (Foundation's Process hangs in
/// waitUntilExit under Swift Testing on Linux, and leaks a descriptor).
final class Child {
    let pid: pid_t
    private var input: Int32
    private(set) var status: Int32?

    /// Runs `/bin/sh -c "read go; SCRIPT"`: held until `release()`.
    init(held script: String) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SystemError(call: "pipe", errno: errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addclose(&actions, fds[1])
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ["/bin/sh", "-c", "read go; " + script]
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, "/bin/sh", &actions, nil, &cArgs, environ)
        close(fds[0])
        guard result == 0 else {
            close(fds[1])
            throw SystemError(call: "posix_spawn", errno: result)
        }
        pid = child
        input = fds[1]
    }

    func release() {
        _ = "go\n".withCString { write(input, $0, 3) }
        close(input)
        input = -1
    }

    /// Waits for the child to end (bounded), returning its wait status.
    @discardableResult
    func wait(timeoutSeconds: Int = 30) -> Int32? {
        if let status { return status }
        var value: Int32 = 0
        for _ in 0..<(timeoutSeconds * 100) {
            let result = waitpid(pid, &value, WNOHANG)
            if result == pid {
                status = value
                return value
            }
            if result < 0 { return nil }
            usleep(10_000)
        }
        return nil
    }

    func kill() {
        if status == nil { _ = Glibc.kill(pid, SIGKILL) }
        if input >= 0 {
            close(input)
            input = -1
        }
        wait()
    }
}

/// A cgroup parent named for one test, removed (with everything in it) at the end.
final class TestCgroup {
    let driver: any CgroupDriver
    let parent: CgroupPath
    let group: CgroupPath
    private var started: [Child] = []

    init(_ name: String = "c1") throws {
        driver = try CgroupDrivers.detect()
        parent = try CgroupPath("berth-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        group = try parent.appending(name)
        try driver.create(group)
    }

    /// Starts `script` held at a `read` on stdin, moved into the cgroup before
    /// it does anything; `release()` lets it go.
    func spawnHeld(_ script: String) throws -> Child {
        let child = try Child(held: script)
        started.append(child)
        try driver.addProcess(child.pid, to: group)
        return child
    }

    /// Kills what the test started and removes the cgroups; returns what is
    /// left behind.
    func tearDown() -> [String] {
        try? driver.killAll(group)
        for child in started { child.kill() }
        var waited = 0
        while waited < 100, ((try? driver.processes(in: group)) ?? []).isEmpty == false {
            usleep(10_000)
            waited += 1
        }
        try? driver.remove(group)
        try? driver.remove(parent)
        return [group, parent].filter { driver.exists($0) }.map(\.description)
    }
}

/// `cat` of a cgroup file, as a user would check it.
func cat(_ path: String) -> String {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "<missing>").trimmingCharacters(in: .whitespacesAndNewlines)
}
