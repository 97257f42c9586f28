import Model
import Testing

/// Label keys and values: an optional DNS-subdomain prefix and '/', then 1-63
/// of letters, digits, '-', '_' and '.', starting and ending alphanumeric.
@Suite struct LabelNameTests {
    @Test(arguments: ["app", "a", "App.kubernetes-io_x", "example.com/tier", "a.b-c/D_e", String(repeating: "x", count: 63)])
    func validKeysAreAccepted(key: String) throws {
        try Names.checkLabelKey(key)
    }

    @Test(arguments: [
        ("", "label key is empty"),
        ("example.com/", "label key is empty"),
        ("a/b/c", "label key 'a/b/c' has more than one '/'"),
        ("/key", "label key prefix '' is not a DNS subdomain"),
        ("Example.com/key", "label key prefix 'Example.com' is not a DNS subdomain"),
        ("-key", "label key '-key' is invalid"),
        ("key-", "label key 'key-' is invalid"),
        ("bad key", "label key 'bad key' is invalid"),
        ("x/" + String(repeating: "y", count: 64), "label key '" + String(repeating: "y", count: 64) + "' is invalid"),
    ])
    func invalidKeysNameTheirProblem(key: String, message: String) {
        #expect(throws: ValueError.self) { try Names.checkLabelKey(key) }
        do {
            try Names.checkLabelKey(key)
        } catch {
            #expect(error.message == message)
        }
    }

    @Test func valuesMayBeEmptyButNotInvalid() throws {
        try Names.checkLabelValue("")
        try Names.checkLabelValue("front-1")
        #expect(throws: ValueError.self) { try Names.checkLabelValue("a/b") }
        #expect(throws: ValueError.self) { try Names.checkLabelValue("é") }
    }
}
