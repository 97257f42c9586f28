/// A size in bytes, written as plain bytes or a binary quantity (512Mi, 2Gi).
///
/// A decimal suffix (2G, 500M) is refused: Kubernetes reads `2G` as 10^9 bytes,
/// OpenVZ and systemd as 2^30, and that ambiguity has broken real hosts.
public struct ByteSize: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var bytes: UInt64

    public init(bytes: UInt64) { self.bytes = bytes }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    static let binarySuffixes: [(String, UInt64)] = [
        ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50),
        ("Ei", 1 << 60),
    ]
    /// Decimal or ambiguous suffixes people write, with the binary one meant
    /// and the powers of 10 and 2 that readers disagree on (a suffix of one
    /// kind is named in its own error: `512M` talks about M, not G).
    static let decimalSuffixes: [String: (binary: String, decimalPower: Int, binaryPower: Int)] = [
        "k": ("Ki", 3, 10), "K": ("Ki", 3, 10), "M": ("Mi", 6, 20), "G": ("Gi", 9, 30), "T": ("Ti", 12, 40),
        "P": ("Pi", 15, 50), "E": ("Ei", 18, 60),
        "kB": ("Ki", 3, 10), "KB": ("Ki", 3, 10), "MB": ("Mi", 6, 20), "GB": ("Gi", 9, 30), "TB": ("Ti", 12, 40),
        "PB": ("Pi", 15, 50), "EB": ("Ei", 18, 60),
        "kb": ("Ki", 3, 10), "mb": ("Mi", 6, 20), "gb": ("Gi", 9, 30), "tb": ("Ti", 12, 40),
    ]

    /// The IEC spellings (MiB): unambiguous, but manifests write sizes one
    /// way, as Kubernetes does (Mi); the error names the spelling to use.
    static let iecSuffixes: [String: String] = ["KiB": "Ki", "MiB": "Mi", "GiB": "Gi", "TiB": "Ti", "PiB": "Pi", "EiB": "Ei"]

    /// Parses `1024`, `512Mi`, `1.5Gi`. Checked arithmetic: overflow is an error.
    public init(parsing text: String) throws(ValueError) {
        let (number, suffix) = splitNumber(text)
        guard !number.isEmpty else {
            throw ValueError(
                "invalid size '\(text)'", hint: "write bytes or a binary quantity such as 512Mi or 2Gi")
        }
        var multiplier: UInt64 = 1
        if !suffix.isEmpty {
            if let match = ByteSize.binarySuffixes.first(where: { $0.0 == suffix }) {
                multiplier = match.1
            } else if let meant = ByteSize.decimalSuffixes[suffix] {
                throw ValueError(
                    "decimal or ambiguous size suffix '\(suffix)' in '\(text)'",
                    hint: "use a binary quantity such as \(number)\(meant.binary): '\(suffix)' means 10^\(meant.decimalPower) to Kubernetes "
                        + "and 2^\(meant.binaryPower) to OpenVZ and systemd")
            } else if suffix == "B" {
                throw ValueError(
                    "size suffix 'B' in '\(text)'", hint: "write plain bytes such as \(number), or a binary quantity such as 512Mi")
            } else if let binary = ByteSize.iecSuffixes[suffix] {
                throw ValueError(
                    "size suffix '\(suffix)' in '\(text)'", hint: "write it \(number)\(binary): manifests spell binary sizes as Kubernetes does")
            } else {
                throw ValueError(
                    "unknown size suffix '\(suffix)' in '\(text)'",
                    hint: "use Ki, Mi, Gi, Ti, Pi or Ei, or plain bytes")
            }
        }
        guard let value = scaleDecimal(number, by: multiplier) else {
            throw ValueError("size '\(text)' is not a whole number of bytes or is too large")
        }
        self.bytes = value
    }

    /// The shortest exact binary-quantity spelling: 536870912 → "512Mi".
    public var description: String {
        if bytes == 0 { return "0" }
        for (suffix, multiplier) in ByteSize.binarySuffixes.reversed()
        where bytes % multiplier == 0 {
            return "\(bytes / multiplier)\(suffix)"
        }
        return "\(bytes)"
    }
}

/// Splits "1.5Gi" into ("1.5", "Gi").
func splitNumber(_ text: String) -> (number: String, suffix: String) {
    var number = ""
    var rest = Substring(text)
    while let character = rest.first, character.isASCII, character.isNumber || character == "." {
        number.append(character)
        rest = rest.dropFirst()
    }
    return (number, String(rest))
}

/// Multiplies a non-negative decimal literal ("1.5") by `multiplier`, exactly.
/// Returns nil on malformed input, overflow, or a fractional result.
func scaleDecimal(_ literal: String, by multiplier: UInt64) -> UInt64? {
    let parts = literal.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, let integerPart = parts.first, !integerPart.isEmpty,
        integerPart.allSatisfy({ $0.isASCII && $0.isNumber })
    else { return nil }
    guard let whole = UInt64(integerPart) else { return nil }
    let (scaled, overflow) = whole.multipliedReportingOverflow(by: multiplier)
    if overflow { return nil }
    guard parts.count == 2 else { return scaled }
    let fraction = parts[1]
    guard !fraction.isEmpty, fraction.count <= 18, fraction.allSatisfy({ $0.isASCII && $0.isNumber }),
        let numerator = UInt64(fraction)
    else { return nil }
    var denominator: UInt64 = 1
    for _ in 0..<fraction.count { denominator *= 10 }
    // numerator * multiplier / denominator must be whole; dividingFullWidth
    // traps when the quotient does not fit, so check that first.
    let product = numerator.multipliedFullWidth(by: multiplier)
    guard product.high < denominator else { return nil }
    let (quotient, remainder) = denominator.dividingFullWidth(product)
    guard remainder == 0 else { return nil }
    let (total, totalOverflow) = scaled.addingReportingOverflow(quotient)
    return totalOverflow ? nil : total
}
