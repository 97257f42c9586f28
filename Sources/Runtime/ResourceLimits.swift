import Kernel
import Model

extension CgroupLimits {
    /// The kernel-level limits for a container's resources spec. Device paths
    /// of io limits are resolved to MAJOR:MINOR with stat(2).
    public init(_ resources: ResourcesSpec?) throws {
        self.init()
        guard let resources else { return }
        cpuWeight = resources.cpu?.weight
        if let limit = resources.cpu?.limit, let max = KernelUnits.cpuMax(millicores: limit.millicores) {
            cpuQuotaMicros = max.quota
            cpuPeriodMicros = max.period
        }
        cpus = resources.cpu?.cpus?.description
        memoryMax = resources.memory?.max?.bytes
        memoryHigh = resources.memory?.high?.bytes
        swapMax = resources.memory?.swap?.bytes
        pidsMax = resources.pids?.max
        ioWeight = resources.io?.weight
        for limit in resources.io?.limits ?? [] {
            let numbers = try CgroupLimits.deviceNumbers(limit.device)
            var io = IOLimit(major: numbers.major, minor: numbers.minor)
            io.readBytesPerSecond = limit.readBytesPerSecond?.bytes
            io.writeBytesPerSecond = limit.writeBytesPerSecond?.bytes
            io.readIOPS = limit.readIOPS
            io.writeIOPS = limit.writeIOPS
            ioLimits.append(io)
        }
    }

    /// The MAJOR:MINOR of an io limit's device: a path under /dev (stat(2))
    /// or the numbers as written.
    public static func deviceNumbers(_ device: String) throws -> (major: UInt32, minor: UInt32) {
        if device.hasPrefix("/") { return try Syscall.deviceNumber(device) }
        guard let numbers = CgroupValues.deviceNumbers(Substring(device)) else {
            throw SystemError(call: "io device", errno: 22, subject: device)
        }
        return numbers
    }
}
