import Model
import Testing

@testable import Manifest

/// A Container whose spec holds `lines` (each indented under `spec:`), with a
/// busybox rootfs unless the lines give one.
private func container(_ lines: String) -> String {
    let rootfs = lines.contains("rootfs:") ? "" : "  rootfs: {template: busybox}\n"
    return "apiVersion: berth/v1\nkind: Container\nmetadata: {name: web1}\nspec:\n" + rootfs + lines
}

/// The rendered diagnostics for a Container spec's extra lines.
private func diagnostics(_ lines: String) -> [String] { rendered(check(container(lines))) }

/// Values that berth or the kernel would refuse at apply time (or silently
/// not enforce): `berth validate` refuses them first, at their position.
@Suite struct ApplyTimeRuleTests {
    // MARK: resources.disk

    @Test func aDiskSizeIsAcceptedInAContainerAndAProfile() {
        #expect(diagnostics("  resources:\n    disk: {size: 10Gi}\n") == [])
        let yaml = "apiVersion: berth/v1\nkind: Profile\nmetadata: {name: p}\nspec:\n  resources: {disk: {size: 1Gi}}\n"
        #expect(rendered(check(yaml)) == [])
    }

    @Test func diskInodesAndAUserQuotaAreAccepted() {
        #expect(diagnostics("  resources:\n    disk: {size: 1Gi, inodes: 1000}\n") == [])
        #expect(diagnostics("  resources:\n    disk: {size: 1Gi, userQuota: false}\n") == [])
        #expect(diagnostics("  resources:\n    disk: {size: 1Gi, userQuota: true}\n") == [])
        #expect(
            diagnostics("  resources:\n    disk: {size: 1Gi, inodes: 8}\n") == [
                "test.yaml:7:31: error: spec.resources.disk.inodes: 8 is out of range (16-4294967295)"
            ])
        let refused = diagnostics("  resources:\n    disk: {size: 1Gi, userQuota: 1}\n")
        #expect(refused.count == 1 && refused.first?.hasPrefix("test.yaml:7:34: error: spec.resources.disk.userQuota:") == true, "\(refused)")
    }

    @Test(arguments: [
        (
            "  resources:\n    disk: {size: 8Mi}\n",
            "test.yaml:7:18: error: spec.resources.disk.size: 8Mi is below the 16Mi a disk image needs (ext4's journal and inode tables)"
        ),
        (
            "  resources:\n    disk: {size: 17000001}\n",
            "test.yaml:7:18: error: spec.resources.disk.size: 17000001 is not a whole number of KiB (write it as Ki, Mi or Gi)"
        ),
        ("  resources:\n    disk: {}\n", "test.yaml:7:11: error: spec.resources.disk.size: required field is missing"),
    ])
    func aDiskSizeIsChecked(lines: String, expected: String) {
        #expect(diagnostics(lines) == [expected])
    }

    @Test func diskSubFieldsAreCheckedForSyntax() {
        let errors = diagnostics("  resources:\n    disk: {size: 2G}\n")
        #expect(errors.count == 1)
        #expect(errors.contains { $0.contains("spec.resources.disk.size: decimal or ambiguous size suffix") })
    }

    // MARK: resources.cpu.limit

    @Test(arguments: ["0", "\"0\"", "\"0m\"", "0.0", "\"0.000\"", "\"000m\""])
    func zeroCPULimitIsRefused(limit: String) {
        let errors = diagnostics("  resources:\n    cpu: {limit: \(limit)}\n")
        #expect(errors == ["test.yaml:7:18: error: spec.resources.cpu.limit: must be at least 1m (one thousandth of a CPU)"])
    }

    @Test(arguments: ["\"1m\"", "0.001", "\"5m\"", "0.5", "\"2\"", "64"])
    func cpuLimitFromOneMillicoreIsAccepted(limit: String) {
        #expect(diagnostics("  resources:\n    cpu: {limit: \(limit)}\n") == [])
    }

    // MARK: resources.memory.max

    @Test(arguments: [
        ("0", "0"), ("1", "1"), ("4194303", "4194303"), ("4095Ki", "4095Ki"), ("\"3.5Mi\"", "3.5Mi"), ("1Mi", "1Mi"),
    ])
    func memoryMaxBelowFourMebibytesIsRefused(max: String, written: String) {
        let errors = diagnostics("  resources:\n    memory: {max: \(max)}\n")
        #expect(errors == ["test.yaml:7:19: error: spec.resources.memory.max: \(written) is below the 4Mi a container's init needs to start"])
    }

    @Test(arguments: ["4Mi", "4194304", "4096Ki", "32Mi", "0.5Gi"])
    func memoryMaxFromFourMebibytesIsAccepted(max: String) {
        #expect(diagnostics("  resources:\n    memory: {max: \(max)}\n") == [])
    }

    @Test func otherMemoryFieldsMayStayBelowTheMinimum() {
        #expect(diagnostics("  resources:\n    memory: {max: 64Mi, high: 1Mi, swap: 0}\n") == [])
    }

    // MARK: rootfs.template

    @Test(arguments: [
        ("busybx", "unknown template 'busybx' (did you mean 'busybox'?)"),
        ("BusyBox", "unknown template 'BusyBox' (did you mean 'busybox'?)"),
        ("debian", "unknown template 'debian' (built in: busybox)"),
    ])
    func unknownTemplateIsRefusedWithTheClosestName(name: String, expected: String) {
        #expect(diagnostics("  rootfs: {template: \(name)}\n") == ["test.yaml:5:22: error: spec.rootfs.template: \(expected)"])
    }

    @Test func everyBuiltInTemplateIsAccepted() {
        for name in ValueRules.builtInTemplates {
            #expect(diagnostics("  rootfs: {template: \(name)}\n") == [])
        }
    }

    // MARK: userNamespace

    @Test(arguments: [
        (
            "uidMap: [{containerID: 0, hostID: 100000, size: 1000}, {containerID: 500, hostID: 200000, size: 10}]",
            ["test.yaml:6:74: error: spec.userNamespace.uidMap[1]: container ids 500-509 overlap those of uidMap[0] (0-999)"]
        ),
        (
            "uidMap: [{containerID: 0, hostID: 100000, size: 1000}, {containerID: 5000, hostID: 100999, size: 10}]",
            ["test.yaml:6:74: error: spec.userNamespace.uidMap[1]: host ids 100999-101008 overlap those of uidMap[0] (100000-100999)"]
        ),
        (
            "uidMap: [{containerID: 0, hostID: 100000, size: 10}], gidMap: [{containerID: 1, hostID: 100001, size: 10}]",
            ["test.yaml:6:81: error: spec.userNamespace.gidMap: container id 0 (root) is not mapped (add a range with containerID: 0)"]
        ),
        (
            "uidMap: [{containerID: 0, hostID: 100000, size: 10}, {containerID: 4294967294, hostID: 0, size: 2}]",
            ["test.yaml:6:72: error: spec.userNamespace.uidMap[1]: container ids 4294967294-4294967295 run past the largest id (4294967294)"]
        ),
        (
            // The largest values every field allows: no arithmetic may trap.
            "uidMap: [{containerID: 4294967294, hostID: 4294967294, size: 4294967295}]",
            [
                "test.yaml:6:28: error: spec.userNamespace.uidMap[0]: container ids 4294967294-8589934588 run past the largest id (4294967294)",
                "test.yaml:6:28: error: spec.userNamespace.uidMap[0]: host ids 4294967294-8589934588 run past the largest id (4294967294)",
            ]
        ),
    ])
    func idMapTheKernelWouldRefuseIsRefused(map: String, expected: [String]) {
        #expect(diagnostics("  userNamespace: {\(map)}\n") == expected)
    }

    @Test(arguments: [
        "uidMap: [{containerID: 0, hostID: 0, size: 4294967295}]",
        "uidMap: [{containerID: 1000, hostID: 101000, size: 1000}, {containerID: 0, hostID: 100000, size: 1000}]",
        "uidMap: [{containerID: 0, hostID: 100000, size: 65536}], gidMap: [{containerID: 0, hostID: 100000, size: 65536}]",
    ])
    func adjacentAndFullRangesAreAccepted(map: String) {
        #expect(diagnostics("  userNamespace: {\(map)}\n") == [])
    }

    /// `count` ranges of 10 ids each, container root first, none overlapping.
    static func ranges(_ count: Int) -> String {
        (0..<count).map { "{containerID: \($0 * 10), hostID: \(100_000 + $0 * 10), size: 10}" }.joined(separator: ", ")
    }

    @Test func idMapOfThreeHundredFortyRangesIsAccepted() {
        #expect(diagnostics("  userNamespace: {uidMap: [\(ApplyTimeRuleTests.ranges(340))]}\n") == [])
    }

    @Test func idMapOverTheKernelsRangeLimitIsRefused() {
        #expect(
            diagnostics("  userNamespace: {uidMap: [\(ApplyTimeRuleTests.ranges(341))]}\n") == [
                "test.yaml:6:27: error: spec.userNamespace.uidMap: 341 ranges; the kernel allows at most 340 (user_namespaces(7))"
            ])
    }

    // MARK: control characters in paths

    @Test(arguments: [
        ("  rootfs: {directory: \"/srv/a\\nb\"}\n", "spec.rootfs.directory: path '/srv/a\\nb' contains the control character \\n"),
        ("  rootfs: {tarball: \"/srv/a\\tb.tar\"}\n", "spec.rootfs.tarball: path '/srv/a\\tb.tar' contains the control character \\t"),
        ("  init: {workingDir: \"/srv\\n\"}\n", "spec.init.workingDir: path '/srv\\n' contains the control character \\n"),
        (
            "  mounts: [{source: \"/srv/\\tdata\", destination: /data}]\n",
            "spec.mounts[0].source: path '/srv/\\tdata' contains the control character \\t"
        ),
        (
            "  mounts: [{type: tmpfs, destination: \"/tmp\\nx\"}]\n",
            "spec.mounts[0].destination: path '/tmp\\nx' contains the control character \\n"
        ),
        ("  devices: [{path: \"/dev/fuse\\n\"}]\n", "spec.devices[0].path: path '/dev/fuse\\n' contains the control character \\n"),
        (
            "  resources: {io: {limits: [{device: \"/dev/vda\\t\", readIops: 1}]}}\n",
            "spec.resources.io.limits[0].device: path '/dev/vda\\t' contains the control character \\t"
        ),
        (
            "  resources: {io: {limits: [{device: \"8:0\\n\", readIops: 1}]}}\n",
            "spec.resources.io.limits[0].device: path '8:0\\n' contains the control character \\n"
        ),
    ])
    func controlCharacterInAPathIsRefusedAndPrintedEscaped(lines: String, expected: String) {
        let errors = diagnostics(lines)
        #expect(errors.count == 1)
        #expect(errors.first?.hasSuffix("error: " + expected) == true, "got \(errors)")
        #expect(errors.allSatisfy { !$0.unicodeScalars.contains(where: TextCheck.isControl) })
    }

    /// The file's byte check and the composer refuse most of these before the
    /// reader sees them; the path check does not rely on that.
    @Test(arguments: [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1B, 0x1F, 0x7F, 0x80, 0x85, 0x9F] as [UInt32])
    func pathCheckRefusesEveryControlCharacter(value: UInt32) throws {
        let scalar = try #require(Unicode.Scalar(value))
        let path = "/srv/a" + String(Character(scalar)) + "b"
        #expect {
            try ValueRules.checkPath(path)
        } throws: { error in
            guard let error = error as? ValueError else { return false }
            return error.message.hasPrefix("path '/srv/a\\") && !error.message.unicodeScalars.contains(scalar)
        }
    }

    @Test(arguments: ["/srv/caf\u{E9}", "/srv/\u{A0}nbsp", "/srv/\u{1F600}"])
    func pathWithPrintableNonASCIIIsAccepted(path: String) throws {
        try ValueRules.checkPath(path)
    }
}

/// What `berth validate` prints stays on one line and never carries a raw
/// control character, whatever text of the user's it quotes.
@Suite struct DiagnosticRenderingTests {
    @Test func controlCharactersInEveryPartAreEscaped() {
        let error = ManifestError(
            location: SourceLocation(file: "a\nb.yaml", line: 3, column: 5), fieldPath: "spec.env.A\u{1B}",
            message: "'x\u{1B}[31m\ty' is bad\r", hint: "not \u{0}, \u{7F}, \u{85} or \u{2028}")
        #expect(
            error.description
                == #"a\nb.yaml:3:5: error: spec.env.A\u{1B}: 'x\u{1B}[31m\ty' is bad\r (not \0, \u{7F}, \u{85} or \u{2028})"#)
    }

    /// Bidi controls and invisible format characters: a name that prints
    /// reversed or hides a character reads as another one.
    @Test(arguments: [
        ("web\u{202E}1", #"web\u{202E}1"#),
        ("\u{202A}\u{202B}\u{202C}\u{202D}", #"\u{202A}\u{202B}\u{202C}\u{202D}"#),
        ("a\u{2066}b\u{2067}c\u{2068}d\u{2069}", #"a\u{2066}b\u{2067}c\u{2068}d\u{2069}"#),
        ("\u{200E}ltr \u{200F}rtl \u{61C}alm", #"\u{200E}ltr \u{200F}rtl \u{61C}alm"#),
        ("zero\u{200B}width\u{200C}non\u{200D}joiner", #"zero\u{200B}width\u{200C}non\u{200D}joiner"#),
        ("\u{FEFF}bom \u{2060}wj \u{AD}shy", #"\u{FEFF}bom \u{2060}wj \u{AD}shy"#),
        ("tag\u{E0041}", #"tag\u{E0041}"#),
        ("caf\u{E9} \u{A0} \u{1F600} \u{5D0}\u{5D1}", "caf\u{E9} \u{A0} \u{1F600} \u{5D0}\u{5D1}"),
    ])
    func bidiAndInvisibleFormatCharactersAreEscaped(text: String, expected: String) {
        let error = ManifestError(location: SourceLocation(file: "web.yaml", line: 1, column: 2), fieldPath: "", message: text)
        #expect(error.description == "web.yaml:1:2: error: " + expected)
    }

    @Test func textWithoutControlCharactersIsUnchanged() {
        let error = ManifestError(
            location: SourceLocation(file: "web.yaml", line: 1, column: 2), fieldPath: "spec", message: "caf\u{E9} \\n", hint: nil)
        #expect(error.description == "web.yaml:1:2: error: spec: caf\u{E9} \\n")
    }

    @Test(arguments: [
        ("  hostname: \"web\\t1\"\n", #"test.yaml:6:13: error: spec.hostname: 'web\t1' is not a valid hostname"#),
        ("  \"mem\\nory\": 1\n", #"test.yaml:6:3: error: spec.mem\nory: unknown field"#),
    ])
    func quotedUserTextIsEscapedInTheRenderedDiagnostic(lines: String, expectedPrefix: String) {
        let errors = diagnostics(lines)
        #expect(errors.count == 1)
        #expect(errors.first?.hasPrefix(expectedPrefix) == true, "got \(errors)")
        #expect(errors.allSatisfy { !$0.unicodeScalars.contains(where: TextCheck.isControl) })
    }
}
