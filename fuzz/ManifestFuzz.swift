// libFuzzer target: bytes → the manifest parser, decoder and validator
// (ManifestLoader.decode, ManifestSet.resolve, defaults), as `berth validate`
// runs them, without touching the host. Built by scripts/fuzz.sh with
// ManifestFuzzInput.swift.
//
// Beyond "no crash, no hang": every diagnostic must stay one line with the
// user's text escaped.
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let problems = ManifestFuzzInput.problems(Data(bytes: data, count: size))
    if let first = problems.first {
        fputs(first + "\n", stderr)
        abort()
    }
    return 0
}
