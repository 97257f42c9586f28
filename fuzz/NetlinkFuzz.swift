// libFuzzer target: bytes → the netlink decoders (Sources/Netlink): message
// framing, attributes, ifinfomsg/ifaddrmsg, and the rtnetlink client's
// answers to its link, bridge-port, address, route and get requests, fed
// through a fake transport (NetlinkFuzzInput.swift has the input format).
// Built by scripts/fuzz.sh.
//
// Beyond "no crash, no hang": a decoded message re-encodes to bytes that
// decode to the same message.
#if canImport(Glibc)
    import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNetlink(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let problems = NetlinkFuzzInput.problems(Array(UnsafeBufferPointer(start: data, count: size)))
    if let first = problems.first {
        fputs(first + "\n", stderr)
        abort()
    }
    return 0
}
