import Testing

@testable import Model

@Suite struct ByteSizeTests {
    @Test(arguments: [
        ("0", UInt64(0)), ("1024", 1024), ("1Ki", 1024), ("512Mi", 536_870_912), ("2Gi", 2_147_483_648),
        ("1.5Gi", 1_610_612_736), ("16Ei", nil as UInt64?) as (String, UInt64?), ("15Ei", 17_293_822_569_102_704_640),
    ])
    func parsesBinaryQuantities(text: String, bytes: UInt64?) throws {
        if let bytes {
            #expect(try ByteSize(parsing: text).bytes == bytes)
        } else {
            #expect(throws: ValueError.self) { try ByteSize(parsing: text) }
        }
    }

    /// Every decimal suffix is named in its own error, with its binary
    /// counterpart suggested: `512M` → `512Mi`, not a word about G.
    @Test(
        arguments: [
            ("2G", "2Gi", "10^9", "2^30"), ("512M", "512Mi", "10^6", "2^20"), ("1k", "1Ki", "10^3", "2^10"), ("1K", "1Ki", "10^3", "2^10"),
            ("3T", "3Ti", "10^12", "2^40"), ("1P", "1Pi", "10^15", "2^50"), ("1E", "1Ei", "10^18", "2^60"),
            ("10GB", "10Gi", "10^9", "2^30"), ("5MB", "5Mi", "10^6", "2^20"), ("1kB", "1Ki", "10^3", "2^10"), ("1KB", "1Ki", "10^3", "2^10"),
            ("2TB", "2Ti", "10^12", "2^40"), ("2PB", "2Pi", "10^15", "2^50"), ("2EB", "2Ei", "10^18", "2^60"),
            ("1.5gb", "1.5Gi", "10^9", "2^30"), ("64mb", "64Mi", "10^6", "2^20"),
        ])
    func refusesDecimalSuffixWithHint(text: String, suggestion: String, decimal: String, binary: String) {
        let suffix = String(text.drop { $0.isNumber || $0 == "." })
        do {
            _ = try ByteSize(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message == "decimal or ambiguous size suffix '\(suffix)' in '\(text)'")
            let hint = "use a binary quantity such as \(suggestion): '\(suffix)' means \(decimal) to Kubernetes"
            #expect(error.hint == hint + " and \(binary) to OpenVZ and systemd")
        }
    }

    /// MiB is unambiguous but not how manifests spell sizes: refused, naming the spelling to use.
    @Test(arguments: [("512MiB", "512Mi"), ("1KiB", "1Ki"), ("2GiB", "2Gi"), ("1.5TiB", "1.5Ti"), ("1PiB", "1Pi"), ("1EiB", "1Ei")])
    func refusesIECSpellingNamingTheOneToUse(text: String, suggestion: String) {
        do {
            _ = try ByteSize(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.hint?.hasPrefix("write it \(suggestion):") == true, "\(error)")
        }
    }

    /// The hint suggests the binary spelling of the same number and names
    /// the two readings of the suffix that was written.
    @Test(arguments: [
        ("512M", "use a binary quantity such as 512Mi: 'M' means 10^6 to Kubernetes and 2^20 to OpenVZ and systemd"),
        ("2G", "use a binary quantity such as 2Gi: 'G' means 10^9 to Kubernetes and 2^30 to OpenVZ and systemd"),
        ("10kB", "use a binary quantity such as 10Ki: 'kB' means 10^3 to Kubernetes and 2^10 to OpenVZ and systemd"),
        ("1E", "use a binary quantity such as 1Ei: 'E' means 10^18 to Kubernetes and 2^60 to OpenVZ and systemd"),
        ("100B", "write plain bytes such as 100, or a binary quantity such as 512Mi"),
    ])
    func decimalSuffixHintNamesItsOwnReadings(text: String, hint: String) {
        #expect(throws: ValueError.self) { try ByteSize(parsing: text) }
        do { _ = try ByteSize(parsing: text) } catch { #expect(error.hint == hint) }
    }

    @Test(arguments: ["", "Mi", "-1", "1.2.3Mi", "0.3", "1.0000001Ki", "12Xi", "1 Gi"])
    func refusesMalformed(text: String) {
        #expect(throws: ValueError.self) { try ByteSize(parsing: text) }
    }

    @Test func describesShortestBinaryForm() throws {
        #expect(ByteSize(bytes: 536_870_912).description == "512Mi")
        #expect(ByteSize(bytes: 1000).description == "1000")
        #expect(ByteSize(bytes: 3 << 30).description == "3Gi")
    }
}

@Suite struct CPUQuantityTests {
    @Test(arguments: [("1", UInt64(1000)), ("1.5", 1500), ("500m", 500), ("0.25", 250), ("2.125", 2125)])
    func parses(text: String, millicores: UInt64) throws {
        #expect(try CPUQuantity(parsing: text).millicores == millicores)
    }

    @Test(arguments: ["", "m", "1.2345", "-1", "1c", "1.5m"])
    func refuses(text: String) {
        #expect(throws: ValueError.self) { try CPUQuantity(parsing: text) }
    }

    @Test func cpuSetCanonicalises() throws {
        #expect(try CPUSet(parsing: "3,0-2,5").description == "0-3,5")
        #expect(throws: ValueError.self) { try CPUSet(parsing: "3-1") }
        #expect(throws: ValueError.self) { try CPUSet(parsing: "0,,1") }
    }
}

@Suite struct IntervalTests {
    @Test(arguments: [("30s", UInt64(30_000)), ("5m", 300_000), ("1h", 3_600_000), ("1m30s", 90_000), ("250ms", 250)])
    func parses(text: String, milliseconds: UInt64) throws {
        #expect(try Interval(parsing: text).milliseconds == milliseconds)
    }

    @Test(arguments: ["", "30", "s", "5 m", "1d", "99999999999999s"])
    func refuses(text: String) {
        #expect(throws: ValueError.self) { try Interval(parsing: text) }
    }
}

@Suite struct AddressTests {
    @Test(arguments: [
        ("10.88.0.1", "10.88.0.1"), ("fd00::1", "fd00::1"), ("FD00:0:0:0:0:0:0:1", "fd00::1"),
        ("::", "::"), ("::ffff:10.0.0.1", "::ffff:a00:1"), ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
    ])
    func parsesAndFormats(text: String, canonical: String) throws {
        #expect(try IPAddress(parsing: text).description == canonical)
    }

    @Test(arguments: ["10.88.0", "10.88.0.256", "010.1.1.1", "1:::2", "1:2:3:4:5:6:7:8:9", "g::1", ""])
    func refuses(text: String) {
        #expect(throws: ValueError.self) { try IPAddress(parsing: text) }
    }

    @Test func cidrContainmentAndOverlap() throws {
        let subnet = try CIDR(parsing: "10.88.0.0/24")
        #expect(subnet.isNetworkAddress)
        #expect(subnet.contains(try IPAddress(parsing: "10.88.0.77")))
        #expect(!subnet.contains(try IPAddress(parsing: "10.88.1.1")))
        #expect(subnet.overlaps(try CIDR(parsing: "10.88.0.128/25")))
        #expect(!subnet.overlaps(try CIDR(parsing: "10.89.0.0/16")))
        #expect(subnet.firstHost == (try IPAddress(parsing: "10.88.0.1")))
        #expect(subnet.broadcast == (try IPAddress(parsing: "10.88.0.255")))
        #expect(!(try CIDR(parsing: "10.88.0.1/24")).isNetworkAddress)
        #expect(throws: ValueError.self) { try CIDR(parsing: "10.88.0.0") }
        #expect(throws: ValueError.self) { try CIDR(parsing: "10.88.0.0/33") }
    }
}

@Suite struct NameTests {
    @Test(arguments: ["web1", "a", "web-1", String(repeating: "a", count: 63)])
    func acceptsDNSLabels(name: String) throws {
        try Names.checkDNSLabel(name)
    }

    @Test(arguments: ["", "Web", "-web", "web-", "web_1", "web.1", String(repeating: "a", count: 64), "wéb"])
    func refusesNonLabels(name: String) {
        #expect(throws: ValueError.self) { try Names.checkDNSLabel(name) }
    }

    @Test(arguments: ["eth0", "br-front", "a.b_c", String(repeating: "x", count: 15)])
    func acceptsInterfaceNames(name: String) throws {
        try Names.checkInterfaceName(name)
    }

    @Test(arguments: ["", ".", "..", "eth/0", "eth 0", "eth:0", String(repeating: "x", count: 16), "é"])
    func refusesInterfaceNames(name: String) {
        #expect(throws: ValueError.self) { try Names.checkInterfaceName(name) }
    }

    @Test(arguments: ["/", "/srv/data", "/a/b.c"])
    func acceptsCleanAbsolutePaths(path: String) throws {
        try Names.checkAbsolutePath(path)
    }

    @Test(arguments: ["srv", "/srv/../etc", "/srv/./x", "/srv//x", "/srv/", ""])
    func refusesUncleanPaths(path: String) {
        #expect(throws: ValueError.self) { try Names.checkAbsolutePath(path) }
    }
}
