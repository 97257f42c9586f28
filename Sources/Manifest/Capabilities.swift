import CLibraries
import Model

/// Capability names, checked against the running libcap's table.
public enum Capabilities {
    /// "net_admin", "NET_ADMIN" or "cap_net_admin" → "CAP_NET_ADMIN"; "ALL" when allowed.
    public static func canonical(_ name: String, allowAll: Bool) throws(ValueError) -> String {
        if name.uppercased() == "ALL" {
            guard allowAll else { throw ValueError("'ALL' can only be dropped, not added", hint: "set security.privileged for every capability") }
            return "ALL"
        }
        let lowered = name.lowercased()
        let body = lowered.hasPrefix("cap_") ? String(lowered.dropFirst(4)) : lowered
        // libcap also takes numbers; a manifest must name the capability.
        guard !body.isEmpty, body.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x5f }) else {
            throw ValueError("'\(name)' is not a capability name", hint: "for example NET_ADMIN")
        }
        var value = cap_value_t()
        guard berth_cap_from_name("cap_" + body, &value) == 0 else {
            throw ValueError("unknown capability '\(name)'", hint: Capabilities.suggestion(for: body))
        }
        return "CAP_" + body.uppercased()
    }

    /// The names libcap knows, CAP_CHOWN style.
    public static var known: [String] {
        var names: [String] = []
        var index: cap_value_t = 0
        while index < 64 {
            guard let pointer = berth_cap_to_name(index) else { break }
            let name = String(cString: pointer)
            berth_cap_free(pointer)
            // Unknown values come back as plain numbers.
            if name.hasPrefix("cap_") { names.append(name.uppercased()) } else { break }
            index += 1
        }
        return names
    }

    static func suggestion(for body: String) -> String? {
        let candidates = known.map { String($0.dropFirst(4)) }
        return Suggest.closest(to: body.uppercased(), in: candidates).map { "did you mean '\($0)'?" }
    }
}
