// swift-tools-version:6.0
//
// FuseCheck: a conformance and fuzz harness for fused communication + matmul ("MC2") operators.
// Layers, each depending only on the ones above it:
//   FuseCheckCore     numerics (fp16/bf16 rounding), tensors, digests
//   FuseCheckOps      operator specs, the constraint catalogue, output shapes
//   FuseCheckEngines  the engine protocol, the reference engine and the pipelined engine
//   FuseCheckHarness  cases, input data, suites, golden digests, the benchmark
//   fusecheck         the command-line tool

import PackageDescription

let package = Package(
    name: "FuseCheck",
    products: [
        .executable(name: "fusecheck", targets: ["fusecheck"]),
        .library(name: "FuseCheckHarness", targets: ["FuseCheckHarness"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Property-based tests of the parsers (test bundles only).
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        // MARK: - Public API
        .target(
            name: "FuseCheckCore",
            dependencies: ["CXXHash"],
            // fp16 <-> fp32 conversions are single F16C instructions with the build machine's CPU,
            // library calls (__truncsfhf2, __extendhfsf2) for baseline x86-64; the results are the
            // same IEEE conversions either way (the conversion tests cover all 65,536 patterns).
            swiftSettings: [.unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))]
        ),
        .target(name: "FuseCheckOps", dependencies: ["FuseCheckCore"]),
        .target(
            name: "FuseCheckEngines",
            dependencies: ["FuseCheckOps", "CLinux"],
            // The pipelined engine's register tiles need the build machine's vector unit (AVX-512
            // or AVX2, FMA, F16C); for the baseline x86-64 target SIMD FMA becomes library calls.
            // Numerics do not change: every FMA is spelled out and Swift never contracts a*b + c.
            swiftSettings: [.unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))]
        ),
        .target(
            name: "FuseCheckHarness",
            dependencies: ["FuseCheckEngines", "COpenBLAS", "CLinux"],
            // The comparator and the input generator round and compare fp16 values per element
            // (FuseCheckCore's inlinable conversions): F16C instructions instead of library calls.
            swiftSettings: [.unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))]
        ),
        .executableTarget(
            name: "fusecheck",
            dependencies: [
                "FuseCheckHarness",
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
        // Debian's libopenblas-dev: the benchmark's cblas_sgemm baseline; only Bench/OpenBLAS.swift imports it.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // glibc/Linux calls Swift's Glibc module does not import (thread affinity, mallopt, pidfd_open);
        // header-only, nothing to link or install.
        .systemLibrary(name: "CLinux"),

        // MARK: - Test support (not API)
        // The conformance checks every registered operator goes through.
        .target(name: "_FuseCheckTestSupport", dependencies: ["FuseCheckHarness"], path: "Sources/_FuseCheckTestSupport"),

        // MARK: - Unit test bundles
        .testTarget(name: "FuseCheckCoreTests", dependencies: ["FuseCheckCore"]),
        .testTarget(name: "FuseCheckOpsTests", dependencies: ["FuseCheckOps"]),
        .testTarget(name: "FuseCheckEnginesTests", dependencies: ["FuseCheckEngines"]),
        .testTarget(
            name: "FuseCheckHarnessTests",
            dependencies: [
                "FuseCheckHarness",
                "_FuseCheckTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ]
)
