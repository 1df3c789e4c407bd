import BatonCore
import Foundation
import Logging
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The shared store for multi-node Baton, on PostgreSQL through PostgresNIO.
///
/// - Claims take `FOR UPDATE SKIP LOCKED` batches over a partial index that covers exactly the
///   claim query, so concurrent claimers on any number of nodes never block each other nor share
///   a task. Due `pending` tasks are claimed directly by the same statement (a second branch over
///   the pending index), so a delayed or backing-off task is claimable the moment its `run_at`
///   passes with no promoter in between.
/// - Enqueues, acks, heartbeats, releases and rescues are one statement (or one transaction)
///   per batch, with arrays through `unnest`.
/// - Commits that make tasks ready send `NOTIFY baton_ready`; every node listens on a dedicated
///   connection and fires its `readySignal`, so claimers on every node wake at once.
/// - The cluster's event log (`GET /v1/events` on every node) is a table that nodes append to
///   while someone reads it (`PostgresTaskStore+events.swift`).
/// - Leadership is a session advisory lock held on a dedicated connection (`leadership`).
/// - Every call has a deadline (`callTimeout`): while the database is unreachable calls throw
///   `unavailable` instead of queueing forever, and work again once it is back.
///
/// `run()` must be running for queries to work: run the store as a ServiceLifecycle service, or
/// use `withStore(_:logger:_:)` for short-lived users.
public final class PostgresTaskStore: TaskStore, Service {
    public let configuration: PostgresStoreConfiguration
    public let readySignal = ReadySignal()
    /// Fires when any node appended to the event log (``ClusterEventLog``).
    public let eventSignal = ReadySignal()
    /// Fires when any node registered a new reader of the event log.
    public let eventReaderSignal = ReadySignal()
    /// Whether this node is the cluster's leader (holds the leader advisory lock).
    public let leadership: PostgresLeaderElector
    /// The pool of every statement but the hot ones.
    let client: PostgresClient
    /// The pool of the hot statements (claims, completions, plain enqueues, next due times), which run
    /// prepared: its sessions are set up so that their one cached plan never degrades
    /// (`hotSessionSettings`).
    let hotClient: PostgresClient
    let logger: Logger
    let sql: PostgresSQL
    private let listener: ReadyListener
    private let counters = Mutex(PostgresStoreStats())
    private let stopper = StopSignal()
    /// Set once a migration has succeeded: until then calls wait for it (within their deadline),
    /// so that a node serving while `run()` still migrates a fresh schema does not answer
    /// "not migrated".
    private let migrated = Atomic<Bool>(false)
    /// How many of the two pools' `run()` are being entered: each pool's task counts itself
    /// just before it calls `run()` (counting in the task that adds them let a first call, such
    /// as `baton migrate`'s, overtake a pool whose task had not started). Calls wait for both
    /// (within their deadline), because `PostgresClient` warns about every request made before
    /// its `run()`.
    private let poolsEntering = Atomic<Int>(0)
    private var poolStarted: Bool { poolsEntering.load(ordering: .acquiring) == 2 }

    /// The channel every store notifies and listens on; payloads are `schema/queue`.
    static let notifyChannel = "baton_ready"

    public init(configuration: PostgresStoreConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.sql = PostgresSQL(schema: configuration.schema)
        var clientConfig = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: Self.clientTLS(configuration.sslMode))
        clientConfig.options.maximumConnections = configuration.poolSize
        clientConfig.options.minimumConnections = 0
        clientConfig.options.connectTimeout = configuration.connectTimeout
        clientConfig.options.keepAliveBehavior = .init(frequency: .seconds(15))
        clientConfig.options.additionalStartupParameters = [("application_name", configuration.applicationName)]
        if configuration.schemaClock {
            clientConfig.options.additionalStartupParameters.append(("search_path", Self.schemaFirstSearchPath(configuration.schema)))
        }
        self.client = PostgresClient(configuration: clientConfig, backgroundLogger: logger)
        clientConfig.options.additionalStartupParameters =
            [("application_name", configuration.applicationName)]
            + Self.hotSessionSettings(schema: configuration.schema, schemaClock: configuration.schemaClock)
        self.hotClient = PostgresClient(configuration: clientConfig, backgroundLogger: logger)
        let connectionConfig = Self.connectionConfiguration(configuration)
        let (ready, events, readers) = (readySignal, eventSignal, eventReaderSignal)
        self.listener = ReadyListener(
            connection: connectionConfig, schema: configuration.schema,
            channels: [
                .init(name: Self.notifyChannel) { _ in ready.notify() },
                .init(name: PostgresSQL.eventChannel) { payload in
                    if payload != "readers" { events.notify() }
                    if payload != "rows" { readers.notify() }
                },
            ], logger: logger)
        self.leadership = PostgresLeaderElector(
            connection: connectionConfig, lockKey: configuration.effectiveLeaderLockKey, logger: logger)
    }

    /// Runs the connection pool, the LISTEN loop and the leader elector, and applies pending
    /// migrations, until cancelled, a graceful shutdown, or `shutdown()`.
    ///
    /// Throws `storeIncompatible` when the database was migrated by a newer Baton. Once `run()`
    /// has ended, every call throws `unavailable` at once.
    public func run() async throws {
        try await runServices(migrating: true)
    }

    /// Runs only the connection pools, for a command that reads or submits and exits: no
    /// listener, no leader election, no migration (``checkSchema()`` checks the version).
    public func runClient() async throws {
        try await runServices(migrating: false, coordinating: false)
    }

    /// Checks, within the connect timeout, that the database answers and that its schema is
    /// the one this Baton knows, without changing it; the store's calls may go ahead then.
    /// Throws `unavailable` when the database cannot be reached, `storeIncompatible` (run
    /// `baton migrate`) when the schema is missing, behind or newer.
    public func checkSchema() async throws {
        // One connection first, for the reason when there is none (the pool would only wait).
        let probe: PostgresConnection
        let connectTimeout = configuration.connectTimeout
        do {
            probe = try await raceDeadline(
                connectTimeout, error: BatonError.unavailable("database unreachable: no connection within \(connectTimeout)")
            ) { [configuration, logger] in
                try await DedicatedConnection.connect(Self.connectionConfiguration(configuration), logger: logger)
            }
        } catch {
            throw Self.mapError(error, while: "connecting to the database")
        }
        try? await probe.close()
        _ = try await call("connecting to \(configuration.schema)", timeout: configuration.connectTimeout, waitsForMigration: false) {
            [client, logger, configuration] in
            try await PostgresMigrator(schema: configuration.schema, lockKey: configuration.migrationLockKey).check(
                client: client, logger: logger)
        }
        migrated.store(true, ordering: .releasing)
    }

    private func runServices(migrating: Bool, coordinating: Bool = true) async throws {
        defer { stopper.fire() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await withDiscardingTaskGroup { pools in
                    for pool in [self.client, self.hotClient] {
                        pools.addTask {
                            self.poolsEntering.add(1, ordering: .releasing)
                            await pool.run()
                        }
                    }
                }
                self.logger.debug("connection pools stopped")
            }
            if coordinating {
                group.addTask {
                    await self.listener.run()
                    self.logger.debug("ready listener stopped")
                }
                group.addTask {
                    await self.leadership.run()
                    self.logger.debug("leader elector stopped")
                }
            }
            if migrating {
                group.addTask { try await self.migrateUntilDone() }
            }
            group.addTask {
                await withGracefulShutdownHandler {
                    await self.stopper.wait()
                } onGracefulShutdown: {
                    self.stopper.fire()
                }
            }
            // The stopper ends first (shutdown, graceful shutdown or cancellation), or the
            // migration fails for good: stop everything else.
            defer { group.cancelAll() }
            while (try await group.next()) != nil {
                if stopper.fired || Task.isCancelled { return }
            }
        }
    }

    /// Ends `run()`: the pool, the listener and the elector (which gives up leadership).
    public func shutdown() { stopper.fire() }

    /// Runs `body` with a store whose `run()` runs in a child task, migrated before `body`
    /// starts, and shut down afterwards. For short-lived users: the CLI, tests, benchmarks.
    public static func withStore<T: Sendable>(
        _ configuration: PostgresStoreConfiguration, logger: Logger, _ body: (PostgresTaskStore) async throws -> T
    ) async throws -> T {
        try configuration.validate()
        let store = PostgresTaskStore(configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            // Migrates here rather than in `run()`, so that an unreachable database fails at once.
            group.addTask { try await store.runServices(migrating: false) }
            do {
                try await store.migrate()
                let result = try await body(store)
                store.shutdown()
                try await group.waitForAll()
                return result
            } catch {
                store.shutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    /// A snapshot of the statement counters.
    public var stats: PostgresStoreStats { counters.withLock { $0 } }

    func count(_ update: (inout PostgresStoreStats) -> Void) {
        counters.withLock { update(&$0) }
    }

    public func now() async throws -> Date {
        try await call("reading the clock") { [client] in
            let rows = try await client.query("SELECT now()").collect()
            guard let row = rows.first else { throw BatonError(.internal, "SELECT now() returned no row") }
            return try row.decode(Date.self)
        }
    }

    // MARK: Migrations

    private func migrateUntilDone() async throws {
        var pause = GrowingPause(from: .milliseconds(200))
        while !Task.isCancelled {
            do {
                try await migrate()
                return
            } catch let error as BatonError where error.code == .unavailable {
                logger.warning("cannot migrate yet; retrying", metadata: ["error": "\(error.message)"])
                try await Task.sleep(for: pause.next())
            }
        }
    }

    /// Applies pending migrations in one transaction that holds an advisory lock, so that nodes
    /// starting at once apply each migration once. Idempotent; also `baton migrate`.
    ///
    /// Throws `storeIncompatible` when the schema was migrated by a newer Baton.
    public func migrate() async throws {
        _ = try await call(
            "migrating \(configuration.schema)", timeout: max(configuration.callTimeout, .seconds(30)), waitsForMigration: false
        ) {
            [client, logger, configuration] in
            try await PostgresMigrator(schema: configuration.schema, lockKey: configuration.migrationLockKey)
                .apply(client: client, logger: logger)
        }
        migrated.store(true, ordering: .releasing)
    }

    /// Drops this store's schema with every table in it (`DROP SCHEMA … CASCADE`): for
    /// throw-away schemas such as `baton bench`'s. Refuses the default schema `public`.
    public func dropSchema() async throws {
        let schema = configuration.schema
        guard schema != PostgresStoreConfiguration.defaultSchema else {
            throw BatonError.invalidArgument("refusing to drop the schema \(schema)")
        }
        _ = try await call("dropping \(schema)", timeout: max(configuration.callTimeout, .seconds(30))) { [client, logger] in
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE"), logger: logger).collect()
                .count
        }
    }

    // MARK: Calls with a deadline

    /// Runs one store call against the deadline. `PostgresClient` queues requests while it has
    /// no connection, so without this a call would wait for the database indefinitely. Until a
    /// migration has succeeded (`run()` applies them in the background) the call first waits for
    /// it, within the same deadline.
    func call<T: Sendable>(
        _ what: String, timeout: Duration? = nil, waitsForMigration: Bool = true, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let timeout = timeout ?? configuration.callTimeout
        if stopper.fired { throw BatonError.unavailable("database unreachable: the store is shut down (\(what))") }
        let gated = waitsForMigration && !migrated.load(ordering: .acquiring)
        let starting = !poolStarted
        return try await raceDeadline(
            timeout, error: BatonError.unavailable("database unreachable: \(what) did not finish within \(timeout)")
        ) {
            if starting {
                while !self.poolStarted {
                    if self.stopper.fired { throw BatonError.unavailable("database unreachable: the store is shut down (\(what))") }
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            if gated {
                while !self.migrated.load(ordering: .acquiring) {
                    if self.stopper.fired { throw BatonError.unavailable("database unreachable: the store is shut down (\(what))") }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            do {
                return try await body()
            } catch {
                throw Self.mapError(error, while: what)
            }
        }
    }

    /// A connection failure in words (`connection refused`), for errors and warnings.
    static func describe(_ error: any Error) -> String {
        ConnectionFailureText.describe(error) { error in
            switch error {
            case let e as IOError: return ConnectionFailureText.errno(e.errnoCode)
            case let e as NIOSSLError:
                if case .handshakeFailed = e { return ConnectionFailureText.tlsHandshake(String(reflecting: e)) }
                return nil
            case let e as PSQLError:
                if e.code == .server, let message = e.serverInfo?[.message] { return message }
                return e.underlying.map { describe($0) } ?? "\(e.code)"
            default: return nil
            }
        }
    }

    /// Maps PostgresNIO and NIO errors: connection trouble is `unavailable` (retrying may
    /// succeed), a unique violation is `conflict`, anything else unexpected is `internal`.
    static func mapError(_ error: any Error, while what: String) -> any Error {
        if let error = error as? BatonError { return error }
        if error is CancellationError { return error }
        if let error = error as? PostgresTransactionError {
            if let inner = error.closureError ?? error.beginError ?? error.commitError {
                return mapError(inner, while: what)
            }
            return BatonError(.internal, "\(what) failed: transaction error")
        }
        if let error = error as? PSQLError {
            if error.code == .server, let state = error.serverInfo?[.sqlState] {
                let message = error.serverInfo?[.message] ?? "server error"
                switch state {
                case "23505":
                    return BatonError.conflict("\(what) failed: \(message)")
                case "3F000", "42P01":
                    return BatonError(.storeIncompatible, "\(what) failed: the schema is not migrated (\(message)); run `baton migrate`")
                case "40001", "40P01", "53300", "55P03", "57014", "57P01", "57P02", "57P03", "28P01", "28000", "3D000":
                    return BatonError.unavailable("database unreachable: \(what) failed: \(message)")
                default:
                    if state.hasPrefix("08") || state.hasPrefix("53") {
                        return BatonError.unavailable("database unreachable: \(what) failed: \(message)")
                    }
                    return BatonError(.internal, "\(what) failed: \(message) (SQLSTATE \(state))")
                }
            }
            if error.code == .queryCancelled { return CancellationError() }
            if error.code == .tooManyParameters || error.code == .invalidCommandTag || error.code == .unexpectedBackendMessage
                || error.code == .messageDecodingFailure
            {
                return BatonError(.internal, "\(what) failed: \(error.code)")
            }
            return BatonError.unavailable("database unreachable: \(what) failed: \(Self.describe(error))")
        }
        if error is PostgresDecodingError {
            return BatonError(.internal, "\(what) failed: a column could not be decoded (\(String(reflecting: error)))")
        }
        return BatonError.unavailable("database unreachable: \(what) failed: \(Self.describe(error))")
    }

    // MARK: Connection settings

    static func clientTLS(_ mode: PostgresStoreConfiguration.SSLMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    /// The settings of the dedicated connections; creating the TLS context can fail, which
    /// then fails each connection attempt (and is logged) rather than the store's creation.
    static func connectionConfiguration(_ c: PostgresStoreConfiguration) -> Result<PostgresConnection.Configuration, any Error> {
        Result { try makeConnectionConfiguration(c) }
    }

    /// A single connection's configuration for `c`'s server: its TLS mode, its application
    /// name and connect timeout (the store's listener and elector use it; so can tools and tests
    /// that need a connection outside the store's pools).
    public static func makeConnectionConfiguration(_ c: PostgresStoreConfiguration) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch c.sslMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var config = PostgresConnection.Configuration(
            host: c.host, port: c.port, username: c.username, password: c.password, database: c.database, tls: tls)
        config.options.additionalStartupParameters = [("application_name", c.applicationName)]
        config.options.connectTimeout = TimeAmount.nanoseconds(Int64(c.connectTimeout.seconds * 1e9))
        return config
    }
}

/// Runs `body` in a task of its own and returns its outcome, or throws `error` once `timeout`
/// passes (cancelling `body`), or `CancellationError` when the caller is cancelled. It never
/// waits for a `body` that ignores cancellation (a query on a dead connection can hang): the
/// caller is answered and the body is left to finish on its own.
func raceDeadline<T: Sendable>(
    _ timeout: Duration, error: @autoclosure @escaping @Sendable () -> any Error, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            race.start(continuation)
            let work = Task {
                do {
                    race.finish(.success(try await body()))
                } catch {
                    race.finish(.failure(error))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if race.finish(.failure(error())) { work.cancel() }
            }
            race.setTasks(work: work, timer: timer)
        }
    } onCancel: {
        race.cancel()
    }
}

/// The first of a call's outcome, its deadline and its cancellation wins; the others are dropped.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var done = false
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
    }
    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        state.withLock { $0.continuation = continuation }
    }

    func setTasks(work: Task<Void, Never>, timer: Task<Void, Never>) {
        let finished = state.withLock { s -> Bool in
            if s.done { return true }
            s.work = work
            s.timer = timer
            return false
        }
        if finished {
            timer.cancel()
        }
    }

    /// Resumes the caller unless someone already did; returns whether this call did.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let (continuation, timer) = state.withLock { s -> (CheckedContinuation<T, any Error>?, Task<Void, Never>?) in
            if s.done { return (nil, nil) }
            s.done = true
            let c = s.continuation
            s.continuation = nil
            return (c, s.timer)
        }
        guard let continuation else { return false }
        timer?.cancel()
        continuation.resume(with: result)
        return true
    }

    func cancel() {
        let work = state.withLock { $0.work }
        if finish(.failure(CancellationError())) { work?.cancel() }
    }
}

/// A one-shot stop request that `run()` waits for.
final class StopSignal: Sendable {
    private struct State {
        var fired = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    var fired: Bool { state.withLock { $0.fired } }

    func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `fire()` was called, or on cancellation.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.fired || Task.isCancelled { return true }
                    s.waiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            fire()
        }
    }
}

extension PostgresTaskStore {
    /// Runs raw SQL through the pool, outside every store operation, and returns its rows.
    /// Tests only (through `@testable import`).
    func queryForTesting(_ text: String, binds: PostgresBindings = PostgresBindings()) async throws -> [PostgresRow] {
        let query = PostgresQuery(unsafeSQL: text, binds: binds)
        return try await call("test query") { [client] in try await client.query(query).collect() }
    }

    /// The plan a hot session runs for `sql` prepared (the generic plan, made with this
    /// moment's statistics), for arguments written as SQL literals. Tests only.
    func genericPlanForTesting(_ sql: String, arguments: String) async throws -> [String] {
        try await call("test plan") { [hotClient, logger] in
            try await hotClient.withConnection { connection in
                var lines: [String] = []
                for statement in [
                    "PREPARE baton_plan_probe AS \(sql)", "EXPLAIN EXECUTE baton_plan_probe(\(arguments))", "DEALLOCATE baton_plan_probe",
                ] {
                    let rows = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).collect()
                    if statement.hasPrefix("EXPLAIN") { lines = try rows.map { try $0.decode(String.self) } }
                }
                return lines
            }
        }
    }
}
