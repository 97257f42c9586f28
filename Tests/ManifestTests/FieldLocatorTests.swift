import Model
import Testing

@testable import Manifest

/// Positions of resolved fields, for errors found after resolving (the
/// host's files): the container's own line, or the profile that supplied it.
@Suite struct FieldLocatorTests {
    let yaml = """
        apiVersion: berth/v1
        kind: Profile
        metadata: {name: base}
        spec:
          rootfs: {template: busybox}
          init:
            command: ["/bin/base"]
        ---
        apiVersion: berth/v1
        kind: Profile
        metadata: {name: web}
        spec:
          init:
            command: ["/bin/httpd", "-f"]
        ---
        apiVersion: berth/v1
        kind: Container
        metadata: {name: web1}
        spec:
          profiles: [base, web]
        ---
        apiVersion: berth/v1
        kind: Container
        metadata: {name: web2}
        spec:
          profiles: [base]
          init:
            workingDir: /srv
            command:
              - /usr/sbin/httpd

        """

    @Test func aFieldIsFoundWhereItsValueCameFrom() throws {
        let decoded = decode(yaml, file: "web.yaml")
        #expect(decoded.errors.isEmpty)
        let locator = FieldLocator(documents: decoded.documents)
        let command = FieldPath.root / "spec" / "init" / "command" / 0
        // From the last profile that writes it: the one whose value won.
        #expect(locator.location(container: "web1", command)?.description == "web.yaml:14:15")
        // The container's own value.
        #expect(locator.location(container: "web2", command)?.description == "web.yaml:30:9")
        #expect(locator.location(container: "web2", .root / "spec" / "init" / "workingDir")?.description == "web.yaml:28:17")
        // Written nowhere: the closest field of the container's document.
        #expect(locator.location(container: "web1", .root / "spec" / "init" / "workingDir")?.description == "web.yaml:20:3")
        #expect(locator.location(container: "web3", command) == nil)
    }
}
