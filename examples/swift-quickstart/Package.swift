// swift-tools-version: 6.2
// A package of your own that uses Baton: a worker with a custom handler, and a task
// submitted from Swift. Replace the path with Baton's git URL and a version in your project:
//   .package(url: "https://github.com/<you>/baton", from: "…")
import PackageDescription

let package = Package(
    name: "greeter",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "baton", path: "../..")
    ],
    targets: [
        .executableTarget(
            name: "greeter",
            dependencies: [
                .product(name: "BatonClient", package: "baton"),
                .product(name: "BatonWorker", package: "baton"),
            ],
            path: "Sources/Greeter",
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
