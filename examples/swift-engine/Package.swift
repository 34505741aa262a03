// swift-tools-version:6.0
//
// A Swift engine checked by FuseCheck from its own swift-testing suite, through FuseCheck as a
// versioned package dependency. FUSECHECK_PACKAGE_URL points at a git repository of FuseCheck with
// a version tag (.ci/run makes one: a clone of the checkout, tagged 0.9.0).

import PackageDescription

let fuseCheck = Context.environment["FUSECHECK_PACKAGE_URL"] ?? "https://github.com/fusecheck/FuseCheck"

let package = Package(
    name: "SplitKEngine",
    products: [.library(name: "SplitKEngine", targets: ["SplitKEngine"])],
    dependencies: [.package(url: fuseCheck, from: "0.9.0")],
    targets: [
        .target(name: "SplitKEngine", dependencies: [.product(name: "FuseCheck", package: "FuseCheck")]),
        .testTarget(
            name: "SplitKEngineTests",
            dependencies: ["SplitKEngine", .product(name: "FuseCheck", package: "FuseCheck")]
        ),
    ]
)
