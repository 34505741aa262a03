// swift-tools-version:6.0
//
// FuseCheck: a conformance and fuzz harness for fused communication + matmul ("MC2") operators.
// Layers, each depending only on the ones above it:
//   FuseCheckCore      numerics (fp16/bf16 rounding), tensors, digests
//   FuseCheckOps       operator specs, the constraint catalogue, output shapes
//   FuseCheckEngines   the engine protocol, the reference engine and the pipelined engine
//   FuseCheckMutants   the self-test's deliberately broken engines and the correct variants
//   FuseCheckHarness   cases, input data, suites, golden digests, compare, runner, self-test, fuzz,
//                      profile, reports; the backend protocol and the in-process backends
//   FuseCheckExternal  backends in other processes: .npy files, case folders, child processes,
//                      the subprocess backend, the engine worker
//   FuseCheckBench     the benchmark and its OpenBLAS anchor (the command-line tool only)
//   FuseCheck          the conformance API for Swift engines (swift-testing; harness, no external)
//   fusecheck          the command-line tool

import PackageDescription

let package = Package(
    name: "FuseCheck",
    products: [
        .executable(name: "fusecheck", targets: ["fusecheck"]),
        .library(name: "FuseCheckHarness", targets: ["FuseCheckHarness"]),
        // Backends in other processes (a command speaking the live protocol, case folders).
        .library(name: "FuseCheckExternal", targets: ["FuseCheckExternal"]),
        // The conformance API for Swift engines, with swift-testing integration.
        .library(name: "FuseCheck", targets: ["FuseCheck"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Property-based tests of the parsers (test bundles only).
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        // The command-line tests' --help snapshots (test bundles only).
        .package(url: "https://github.com/pointfreeco/swift-snapshot-testing", from: "1.19.7"),
        // `swift package generate-documentation --target FuseCheck` (the DocC catalog).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // MARK: - Public API
        // No target-wide CPU flags anywhere (a package resolved by version may not use unsafe
        // flags, and a binary must run on other x86-64 CPUs than the build machine's): the
        // CPU-specific code is in CFuseKernels, chosen at run time.
        .target(name: "FuseCheckCore", dependencies: ["CXXHash"]),
        .target(name: "FuseCheckOps", dependencies: ["FuseCheckCore"]),
        .target(name: "FuseCheckEngines", dependencies: ["FuseCheckOps", "CLinux", "CFuseKernels"]),
        // The self-test's deliberately broken engines, out of the engine library Swift engines link.
        .target(name: "FuseCheckMutants", dependencies: ["FuseCheckEngines"]),
        .target(name: "FuseCheckHarness", dependencies: ["FuseCheckEngines", "FuseCheckMutants"]),
        // Across a process boundary (as NIOPosix over NIOCore); the FuseCheck product does not link it.
        .target(name: "FuseCheckExternal", dependencies: ["FuseCheckHarness", "CLinux"]),
        // `fusecheck bench`: the benchmark and its OpenBLAS anchor, for the command-line tool
        // only, so that library users do not link OpenBLAS.
        .target(name: "FuseCheckBench", dependencies: ["FuseCheckHarness", "COpenBLAS"]),
        .target(name: "FuseCheck", dependencies: ["FuseCheckHarness"]),
        .executableTarget(
            name: "fusecheck",
            dependencies: [
                "FuseCheckHarness",
                "FuseCheckExternal",
                "FuseCheckBench",
                "CLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Implementation details
        // Debian's libxxhash-dev; only FuseCheckCore's Digest imports it.
        .systemLibrary(
            name: "CXXHash",
            pkgConfig: "libxxhash",
            providers: [.apt(["libxxhash-dev"])]
        ),
        // Debian's libopenblas-dev: the benchmark's cblas_sgemm baseline; only FuseCheckBench imports it.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // The pipelined engine's register tiles and transposes in C, one version per instruction
        // set (AVX-512, AVX2 + FMA, generic) via `__attribute__((target))`, chosen at run time.
        .target(name: "CFuseKernels"),

        // glibc/Linux calls Swift's Glibc module does not import (thread affinity, mallopt, pidfd_open);
        // header-only, nothing to link or install.
        .systemLibrary(name: "CLinux"),

        // MARK: - Test support (not API)
        // The conformance checks every registered operator goes through; running the executable.
        .target(name: "_FuseCheckTestSupport", dependencies: ["FuseCheckHarness"], path: "Sources/_FuseCheckTestSupport"),

        // MARK: - Unit test bundles
        .testTarget(name: "FuseCheckCoreTests", dependencies: ["FuseCheckCore"]),
        .testTarget(name: "FuseCheckOpsTests", dependencies: ["FuseCheckOps"]),
        .testTarget(name: "FuseCheckEnginesTests", dependencies: ["FuseCheckEngines", "FuseCheckMutants"]),
        // End-to-end tests of the fusecheck executable.
        .testTarget(
            name: "FuseCheckCLITests",
            dependencies: [
                "fusecheck",
                "_FuseCheckTestSupport",
                .product(name: "SnapshotTesting", package: "swift-snapshot-testing"),
            ],
            exclude: ["__Snapshots__"]
        ),
        .testTarget(
            name: "FuseCheckHarnessTests",
            dependencies: [
                "FuseCheckHarness",
                "FuseCheckMutants",
                "FuseCheckExternal",
                "FuseCheckBench",
                "_FuseCheckTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ]
)
