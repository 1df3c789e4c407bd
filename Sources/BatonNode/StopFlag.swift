import ServiceLifecycle
import Synchronization

/// A broker service's "stop now" (the Redis and AMQP ingests, Machinery's result backend): set
/// when the service group shuts down gracefully or the task running the service is cancelled;
/// the service's loops read ``isSet`` and wind down.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    public init() {}

    public var isSet: Bool { flag.load(ordering: .relaxed) }

    public func set() { flag.store(true, ordering: .relaxed) }

    /// Runs `body`, setting the flag on graceful shutdown or cancellation.
    public func run(_ body: () async -> Void) async {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await body()
            } onCancel: {
                self.set()
            }
        } onGracefulShutdown: {
            self.set()
        }
    }
}
