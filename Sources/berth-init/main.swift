// berth-init: berth's single-threaded helper for work that must happen inside
// a container's namespaces (setns is per thread, and Swift code in berth
// itself may hop threads). No Foundation, no Dispatch: one thread, then exit.
//
//   berth-init firewall NETNS_PATH   reads an nftables ruleset on stdin and
//                                    applies it inside that network namespace
import CLinux
import Kernel

#if canImport(Glibc)
    import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = "berth-init: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count == 3, arguments[1] == "firewall" else {
    fail("internal helper of berth; usage: berth-init firewall NETNS_PATH < ruleset")
}
var input: [UInt8] = []
do {
    input = try Syscall.readAll(0, upTo: 1 << 20)
} catch {
    fail("\(error)")
}
let namespace: Int32
do {
    namespace = try Syscall.open(arguments[2], O_RDONLY)
} catch {
    fail("\(error)")
}
if berth_setns_net(namespace) != 0 {
    fail("\(SystemError(call: "setns", errno: errno, subject: arguments[2]))")
}
do {
    try NFTables().run(String(decoding: input, as: UTF8.self))
} catch {
    fail("\(error)")
}
exit(0)
