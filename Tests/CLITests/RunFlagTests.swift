import ArgumentParser
import Model
import Testing

@testable import berth

/// `berth run` checks each flag by the rule `berth validate` applies to the
/// manifest field it fills, before anything is created. The refusals as a
/// user sees them (exit code, stderr) are in Tests/cli/test_cli.py.
struct RunFlagTests {
    @Test func flagsAtTheLeastAcceptedValuesFillTheSpec() throws {
        let request = RunRequest(template: "busybox", workdir: "/srv", memory: "4Mi", cpus: "1m", pids: "1")
        let spec = try request.containerSpec()
        #expect(spec.rootfs == RootfsSpec(source: .template("busybox")))
        #expect(spec.`init` == InitSpec(command: nil, workingDir: "/srv"))
        #expect(spec.resources?.memory?.max == ByteSize(bytes: 4 << 20))
        #expect(spec.resources?.cpu?.limit == CPUQuantity(millicores: 1))
        #expect(spec.resources?.pids?.max == 1)
    }

    @Test func noFlagsMeanTheBusyboxTemplateAndNoLimits() throws {
        let spec = try RunRequest().containerSpec()
        #expect(spec.rootfs == RootfsSpec(source: .template("busybox")))
        #expect(spec.resources == nil)
    }

    @Test func rootfsDirectoryIsUsedAsGiven() throws {
        let spec = try RunRequest(rootfs: "/srv/root", pids: "4194304").containerSpec()
        #expect(spec.rootfs == RootfsSpec(source: .directory("/srv/root")))
        #expect(spec.resources?.pids?.max == 4_194_304)
    }

    static let refused: [(RunRequest, String)] = [
        (RunRequest(memory: "4194303"), "--memory: 4194303 is below the 4Mi a container's init needs to start"),
        (RunRequest(cpus: "0.000"), "--cpus: must be at least 1m (one thousandth of a CPU)"),
        (RunRequest(template: "BusyBox"), "--template: unknown template 'BusyBox' (did you mean 'busybox'?)"),
        (RunRequest(rootfs: "/srv/root/"), "--rootfs: path '/srv/root/' is not clean (remove '.', '//' and trailing '/')"),
        (RunRequest(workdir: "/srv\tx"), #"--workdir: path '/srv\tx' contains the control character \t"#),
        (RunRequest(pids: "0"), "--pids: 0 is out of range (1-4194304)"),
        (RunRequest(template: "bad\u{1B}[2J"), #"--template: unknown template 'bad\u{1B}[2J' (built in: busybox)"#),
    ]

    @Test(arguments: refused) func refusedFlagNamesItsOption(request: RunRequest, message: String) {
        #expect {
            try request.containerSpec()
        } throws: { error in
            (error as? ValidationError)?.message == message
        }
    }
}
