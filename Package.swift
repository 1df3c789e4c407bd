// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "baton",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "baton", targets: ["baton"]),
        .library(name: "BatonCore", targets: ["BatonCore"]),
        .library(name: "BatonSQLite", targets: ["BatonSQLite"]),
        .library(name: "BatonWorker", targets: ["BatonWorker"]),
        .library(name: "BatonNode", targets: ["BatonNode"]),
        .library(name: "BatonServer", targets: ["BatonServer"]),
        .library(name: "BatonClient", targets: ["BatonClient"]),
        .library(name: "BatonTesting", targets: ["BatonTesting"]),
        .library(name: "BatonPostgres", targets: ["BatonPostgres"]),
        .library(name: "BatonBench", targets: ["BatonBench"]),
        .library(name: "BatonSQS", targets: ["BatonSQS"]),
        .library(name: "BatonSQSBroker", targets: ["BatonSQSBroker"]),
        .library(name: "BatonRedis", targets: ["BatonRedis"]),
        .library(name: "BatonRedisBroker", targets: ["BatonRedisBroker"]),
        .library(name: "BatonAMQP", targets: ["BatonAMQP"]),
        .library(name: "BatonAMQPBroker", targets: ["BatonAMQPBroker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML", "Reloading"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        // Traces are exported over OTLP/HTTP only: the gRPC trait (and its packages) stays off.
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        .target(
            name: "BatonCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BatonSQLite",
            dependencies: [
                "BatonCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BatonPostgres",
            dependencies: [
                "BatonCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Migrations")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BatonWorker",
            dependencies: [
                "BatonCore", "BatonClient",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BatonNode",
            dependencies: [
                "BatonCore", "BatonWorker",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BatonServer",
            dependencies: [
                "BatonCore", "BatonNode",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "BatonClient",
            dependencies: [
                "BatonCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
        // The benchmark behind `baton bench`: settings, runner, in-process and HTTP drivers, report.
        .target(
            name: "BatonBench",
            dependencies: [
                "BatonCore", "BatonSQLite", "BatonPostgres", "BatonWorker", "BatonNode",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Amazon SQS client (AWS JSON 1.0 protocol, SigV4, the credential chain), no AWS SDK.
        .target(
            name: "BatonSQS",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The SQS broker roles (ingest, dispatch, results) of a node, and the worker's SQS task source.
        .target(
            name: "BatonSQSBroker",
            dependencies: [
                "BatonSQS", "BatonCore", "BatonNode", "BatonWorker",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "baton",
            dependencies: [
                "BatonCore", "BatonSQLite", "BatonPostgres", "BatonWorker", "BatonNode", "BatonServer", "BatonClient", "BatonBench",
                "BatonSQS", "BatonSQSBroker", "BatonRedisBroker", "BatonAMQPBroker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The test kit: the store conformance suite for any store factory, the test node, and the
        // shared test helpers (swift-testing comes with the toolchain).
        .target(
            name: "BatonTesting",
            dependencies: [
                "BatonCore", "BatonSQLite", "BatonPostgres", "BatonNode", "BatonServer", "BatonWorker", "BatonRedis", "BatonAMQP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the hand-written protocol clients on SwiftNIO share (failures in words, TLS contexts).
        .target(
            name: "BatonNIOClient",
            dependencies: [
                "BatonCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // Redis's protocol (RESP2) on SwiftNIO, for the Redis transport: no Redis client is on
        // the allowed package list.
        .target(
            name: "BatonRedis",
            dependencies: [
                "BatonCore", "BatonNIOClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // AMQP 0-9-1 on SwiftNIO, for RabbitMQ: no AMQP client is on the allowed package list.
        .target(
            name: "BatonAMQP",
            dependencies: [
                "BatonCore", "BatonNIOClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // The RabbitMQ broker role of a node (the ingest: Machinery's AMQP broker, any producer that publishes JSON).
        .target(
            name: "BatonAMQPBroker",
            dependencies: [
                "BatonAMQP", "BatonCore", "BatonNIOClient", "BatonNode", "BatonWorker", "BatonRedis", "BatonRedisBroker",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Redis broker roles of a node (the ingest: Machinery's Redis broker, any producer that RPUSHes JSON).
        .target(
            name: "BatonRedisBroker",
            dependencies: [
                "BatonRedis", "BatonCore", "BatonNIOClient", "BatonNode", "BatonWorker",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // examples/seed000-export: freundallein/sqs-scheduler's example worker (objects exported
        // from t_object to t_exported_object) as a Baton handler over SQS. A target of this
        // package, so that the tests build and run it without another build from scratch.
        .executableTarget(
            name: "seed000-export",
            dependencies: [
                "BatonCore", "BatonSQS", "BatonSQSBroker", "BatonWorker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "examples/seed000-export/Sources/seed000-export",
            swiftSettings: swiftSettings
        ),
        // A worker for the multi-node end-to-end tests: its handler appends each run's task id
        // and attempt to a file, so the tests count runs from the handler's own record.
        .executableTarget(
            name: "baton-test-worker",
            dependencies: [
                "BatonCore", "BatonWorker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/TestWorker",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonCoreTests",
            dependencies: ["BatonCore", "BatonTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StoreConformanceTests",
            dependencies: [
                "BatonCore", "BatonSQLite", "BatonPostgres", "BatonNode", "BatonTesting",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonWorkerTests",
            dependencies: ["BatonCore", "BatonSQLite", "BatonWorker", "BatonNode", "BatonTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonNodeTests",
            dependencies: [
                "BatonCore", "BatonNode", "BatonSQLite", "BatonPostgres", "BatonWorker", "BatonTesting",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonServerTests",
            dependencies: [
                "BatonCore", "BatonSQLite", "BatonPostgres", "BatonNode", "BatonServer", "BatonClient", "BatonWorker", "BatonTesting",
                "BatonSQSBroker", "BatonRedisBroker", "BatonAMQPBroker",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonClientTests",
            dependencies: [
                "BatonCore", "BatonClient", "BatonNode", "BatonServer", "BatonTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonPostgresTests",
            dependencies: ["BatonCore", "BatonPostgres", "BatonTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonSQSTests",
            dependencies: [
                "BatonSQS", "BatonTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonRedisTests",
            dependencies: [
                "BatonRedis", "BatonTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonAMQPTests",
            dependencies: [
                "BatonAMQP", "BatonAMQPBroker", "BatonCore", "BatonNode", "BatonSQLite", "BatonWorker", "BatonServer", "BatonTesting",
                "BatonRedis", "BatonRedisBroker",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonRedisBrokerTests",
            dependencies: [
                "BatonRedisBroker", "BatonRedis", "BatonCore", "BatonNode", "BatonSQLite", "BatonWorker", "BatonServer", "BatonTesting",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BatonSQSBrokerTests",
            dependencies: [
                "BatonSQSBroker", "BatonSQS", "BatonCore", "BatonNode", "BatonSQLite", "BatonWorker", "BatonServer", "BatonTesting",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "BatonCore", "BatonSQLite", "BatonPostgres", "BatonClient", "BatonTesting", "BatonSQS", "BatonRedis", "BatonAMQP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
