// swift-tools-version:6.0
import PackageDescription

// Layers (every arrow points down; only the bottom touches C):
//   berth (CLI) ─► Engine ─► Reconcile, Manifest, Runtime
//               ├► Reconcile ─► Model
//               ├► Manifest  ─► Model, CLibraries (libyaml, libcap)
//               ├► Runtime   ─► Model, Kernel
//               └► Journal   ─► CLibraries (libsystemd)
//   Kernel ─► CLinux (our C shim), CLibraries (libnftables, libcap), SystemPackage
//   CLibraries: system libraries opened on first use, not linked
let package = Package(
    name: "berth",
    products: [
        .executable(name: "berth", targets: ["berth"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
    ],
    targets: [
        // System libraries from Debian's -dev packages (Makefile `deps` installs them).
        // The system libraries (libnftables, libsystemd, libcap, libyaml),
        // opened on first use: their -dev headers are needed (Makefile `deps`),
        // but nothing links them, so they cost no start-up.
        .target(name: "CLibraries"),
        // Our C shim: what Glibc's module map does not expose.
        .target(name: "CLinux", dependencies: ["CLibraries"]),

        // Pure layers.
        .target(name: "Model"),
        .target(name: "Manifest", dependencies: ["Model", "CLibraries"]),
        .target(name: "Reconcile", dependencies: ["Model"]),
        // Wire codec (pure) and the rtnetlink socket over Kernel.
        .target(name: "Netlink", dependencies: ["Kernel", "Model"]),

        // Kernel-touching layers.
        .target(
            name: "Kernel",
            dependencies: [
                "CLinux", "CLibraries",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .target(
            name: "Runtime",
            dependencies: [
                "Model", "Kernel", "Netlink",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "Journal",
            dependencies: [
                "CLibraries", "Kernel",
                .product(name: "Logging", package: "swift-log"),
            ]),

        // The engine: observe, plan, apply; shared by the CLI, the agent and benchmarks.
        .target(
            name: "Engine",
            dependencies: [
                "Model", "Manifest", "Reconcile", "Runtime", "Kernel", "Netlink",
                .product(name: "Logging", package: "swift-log"),
            ]),

        // Executables.
        .executableTarget(
            name: "berth",
            dependencies: [
                "Model", "Manifest", "Reconcile", "Runtime", "Journal", "Kernel", "Netlink", "Engine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            plugins: ["BuildInfo"]),
        // The git commit berth is built from, for `berth version` (none from a tarball).
        .plugin(name: "BuildInfo", capability: .buildTool()),
        // Benchmarks print figures; they are never timed assertions in tests.
        .executableTarget(
            name: "berth-bench",
            dependencies: [
                "Manifest", "Model", "Runtime", "Kernel", "Engine", "Reconcile", .product(name: "Logging", package: "swift-log"),
            ]),

        // Tests: lane 1 (pure) needs no root.
        .testTarget(name: "ManifestTests", dependencies: ["Manifest", "Model"], exclude: ["Corpus"]),
        .testTarget(name: "ModelTests", dependencies: ["Model"]),
        .testTarget(
            name: "JournalTests", dependencies: ["Journal", "Kernel", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "KernelTests", dependencies: ["Kernel"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink"]),
        .testTarget(name: "ReconcileTests", dependencies: ["Reconcile", "Model"]),
        .testTarget(
            name: "RuntimeTests", dependencies: ["Runtime", "Model", "Manifest", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Kernel", "Model", "Netlink", "Runtime"]),
        .testTarget(
            name: "CLITests", dependencies: ["berth", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Lane 2: real kernel, as root, only inside a sandbox host (scripts/sandbox-run.sh).
        .testTarget(
            name: "HostKernelTests",
            dependencies: [
                "Kernel", "Runtime", "Model", "Journal", "Netlink", "Engine", "Reconcile",
                .product(name: "Logging", package: "swift-log"),
            ],
            // A C program the escape suite builds static and runs inside a container.
            exclude: ["EscapeProbe"]),
    ]
)
