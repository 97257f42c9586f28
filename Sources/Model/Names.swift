/// Validation of names that end up as file, cgroup, nftables and host names.
public enum Names {
    /// An RFC 1123 DNS label: 1-63 of [a-z0-9-], starting and ending alphanumeric.
    /// Container, network and profile names must be one: they become directory,
    /// cgroup and nftables names.
    public static func checkDNSLabel(_ name: String) throws(ValueError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { throw ValueError("name is empty") }
        guard bytes.count <= 63 else {
            throw ValueError("'\(name)' is longer than 63 characters (a DNS label)")
        }
        let allowed = bytes.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
        guard allowed, let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else {
            throw ValueError(
                "'\(name)' is not a DNS label",
                hint: "use lowercase letters, digits and '-', starting and ending with a letter or digit")
        }
    }

    /// A hostname: dot-separated DNS labels, at most 64 bytes (the kernel's HOST_NAME_MAX).
    public static func checkHostname(_ name: String) throws(ValueError) {
        guard name.utf8.count <= 64 else {
            throw ValueError("hostname '\(name)' is longer than 64 bytes")
        }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            let lower = String(label)
            let ok =
                !lower.isEmpty && lower.utf8.count <= 63
                && lower.utf8.allSatisfy { isLowerAlnum($0) || isUpper($0) || $0 == UInt8(ascii: "-") }
                && lower.utf8.first != UInt8(ascii: "-") && lower.utf8.last != UInt8(ascii: "-")
            guard ok else {
                throw ValueError(
                    "'\(name)' is not a valid hostname",
                    hint: "use labels of letters, digits and '-', separated by dots")
            }
        }
    }

    /// A network interface name as the kernel's dev_valid_name() accepts it:
    /// 1-15 bytes (IFNAMSIZ - 1), not "." or "..", no '/', ':' or whitespace.
    public static func checkInterfaceName(_ name: String) throws(ValueError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { throw ValueError("interface name is empty") }
        guard bytes.count <= 15 else {
            throw ValueError("interface name '\(name)' is \(bytes.count) bytes; the kernel allows at most 15 (IFNAMSIZ)")
        }
        guard name != ".", name != ".." else { throw ValueError("'\(name)' is not a valid interface name") }
        for byte in bytes where byte == UInt8(ascii: "/") || byte == UInt8(ascii: ":") || byte <= 0x20 || byte >= 0x7f {
            throw ValueError(
                "interface name '\(name)' contains '\(printable(byte))'",
                hint: "use ASCII letters, digits, '-', '_' and '.'")
        }
    }

    /// An absolute, clean path: starts with '/', no '.' or '..' components, no
    /// empty components, no NUL, at most 4095 bytes (PATH_MAX - 1).
    public static func checkAbsolutePath(_ path: String) throws(ValueError) {
        guard path.hasPrefix("/") else {
            throw ValueError("'\(path)' is not an absolute path", hint: "start it with '/'")
        }
        guard path.utf8.count < 4096 else { throw ValueError("path is longer than 4095 bytes") }
        guard !path.utf8.contains(0) else { throw ValueError("path contains a NUL byte") }
        if path == "/" { return }
        // Split on the byte '/', never on Characters: "/\u{301}" is one
        // grapheme but two path components to the kernel.
        let components = path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for component in components {
            if component.elementsEqual("..".utf8) {
                throw ValueError("path '\(path)' contains '..'", hint: "write the resolved path")
            }
            if component.isEmpty || component.elementsEqual(".".utf8) {
                throw ValueError("path '\(path)' is not clean", hint: "remove '.', '//' and trailing '/'")
            }
        }
    }

    /// A label key or value (Kubernetes rules, simplified): key is an optional
    /// DNS-subdomain prefix and '/', then 1-63 of [A-Za-z0-9-_.]; values up to 63.
    /// Reads the key's bytes in place, without splitting it into strings: a
    /// million-label mapping checks every key (`berth-bench parse`).
    public static func checkLabelKey(_ key: String) throws(ValueError) {
        let bytes = key.utf8
        guard let slash = bytes.firstIndex(of: UInt8(ascii: "/")) else {
            try checkLabelPart(key[...], what: "label key", allowEmpty: false)
            return
        }
        let name = key[key.index(after: slash)...]
        guard !name.utf8.contains(UInt8(ascii: "/")) else {
            throw ValueError("label key '\(key)' has more than one '/'")
        }
        let prefix = key[..<slash]
        guard !prefix.isEmpty, prefix.utf8.count <= 253,
            prefix.utf8.allSatisfy({ isLowerAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        else { throw ValueError("label key prefix '\(prefix)' is not a DNS subdomain") }
        try checkLabelPart(name, what: "label key", allowEmpty: false)
    }

    public static func checkLabelValue(_ value: String) throws(ValueError) {
        try checkLabelPart(value[...], what: "label value", allowEmpty: true)
    }

    static func checkLabelPart(_ text: Substring, what: String, allowEmpty: Bool) throws(ValueError) {
        let bytes = text.utf8
        guard let first = bytes.first, let last = bytes.last else {
            if allowEmpty { return }
            throw ValueError("\(what) is empty")
        }
        let ok =
            bytes.count <= 63
            && bytes.allSatisfy {
                isLowerAlnum($0) || isUpper($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
                    || $0 == UInt8(ascii: ".")
            }
            && isAlnum(first) && isAlnum(last)
        guard ok else {
            throw ValueError(
                "\(what) '\(text)' is invalid",
                hint: "at most 63 of letters, digits, '-', '_' and '.', starting and ending alphanumeric")
        }
    }

    public static func isLowerAlnum(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }
    public static func isUpper(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }
    public static func isAlnum(_ byte: UInt8) -> Bool { isLowerAlnum(byte) || isUpper(byte) }
    static func printable(_ byte: UInt8) -> String {
        byte > 0x20 && byte < 0x7f ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and line ends.
    public var trimmingWhitespace: String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
        while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
        return String(slice)
    }
}
