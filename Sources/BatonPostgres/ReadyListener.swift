import BatonCore
import Logging
import PostgresNIO

/// Listens on a dedicated connection for the store's notifications: `baton_ready` fires the
/// node's `ReadySignal`, so that claimers on every node wake the moment any node makes tasks
/// ready, and `baton_events` fires the event log's signals (``PostgresTaskStore/eventSignal``).
/// Only payloads of its schema (`schema/…`) count. Reconnects when the connection drops; after
/// each (re)connection it calls every channel's handler once with `nil`, since notifications
/// sent while it was away are lost.
final class ReadyListener: Sendable {
    /// One channel and what its notifications do: the handler gets the payload after
    /// `schema/`, or `nil` once the channel is listened to again.
    struct Channel: Sendable {
        var name: String
        var handle: @Sendable (Substring?) -> Void
    }

    let connection: Result<PostgresConnection.Configuration, any Error>
    let channels: [Channel]
    let prefix: String
    let logger: Logger
    static let reconnectDelay: Duration = .seconds(1)

    init(connection: Result<PostgresConnection.Configuration, any Error>, schema: String, channels: [Channel], logger: Logger) {
        self.connection = connection
        self.channels = channels
        self.prefix = schema + "/"
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
            for channel in channels {
                group.addTask {
                    do {
                        try await conn.listen(on: channel.name) { notifications in
                            self.logger.debug("listening for notifications", metadata: ["channel": "\(channel.name)"])
                            channel.handle(nil)
                            for try await notification in notifications where notification.payload.hasPrefix(self.prefix) {
                                channel.handle(notification.payload.dropFirst(self.prefix.count))
                            }
                        }
                    } catch {
                        if !Task.isCancelled {
                            self.logger.info(
                                "ready listener lost its connection", metadata: ["error": "\(PostgresTaskStore.describe(error))"])
                        }
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
