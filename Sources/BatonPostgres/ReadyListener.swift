import BatonCore
import Logging
import PostgresNIO

/// Listens for `baton_ready` notifications on a dedicated connection and fires the node's
/// `ReadySignal` for those of its schema, so that claimers on every node wake the moment any
/// node makes tasks ready. Reconnects when the connection drops; after each (re)connection it
/// fires the signal once, since notifications sent while it was away are lost.
final class ReadyListener: Sendable {
    let connection: Result<PostgresConnection.Configuration, any Error>
    let channel: String
    let prefix: String
    let signal: ReadySignal
    let logger: Logger
    static let reconnectDelay: Duration = .seconds(1)

    init(
        connection: Result<PostgresConnection.Configuration, any Error>, channel: String, schema: String, signal: ReadySignal,
        logger: Logger
    ) {
        self.connection = connection
        self.channel = channel
        self.prefix = schema + "/"
        self.signal = signal
        self.logger = logger
    }

    /// Runs until cancelled.
    func run() async {
        await DedicatedConnection.keepConnected(connection, role: "ready listener", retry: Self.reconnectDelay, logger: logger) {
            await listen(on: $0)
        }
    }

    /// Consumes notifications until the connection closes or the task is cancelled.
    private func listen(on conn: PostgresConnection) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await conn.listen(on: self.channel) { notifications in
                        self.logger.debug("listening for ready notifications", metadata: ["channel": "\(self.channel)"])
                        self.signal.notify()
                        for try await notification in notifications where notification.payload.hasPrefix(self.prefix) {
                            self.signal.notify()
                        }
                    }
                } catch {
                    if !Task.isCancelled {
                        self.logger.info("ready listener lost its connection", metadata: ["error": "\(PostgresTaskStore.describe(error))"])
                    }
                }
            }
            group.addTask {
                // Ends when the connection closes (the server went away), or on cancellation.
                await withTaskCancellationHandler {
                    try? await conn.closeFuture.get()
                } onCancel: {
                    conn.close().whenComplete { _ in }
                }
            }
            await group.next()
            group.cancelAll()
            conn.close().whenComplete { _ in }
        }
    }
}
