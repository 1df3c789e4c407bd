import BatonAMQP

extension AMQPConnection {
    /// Runs `each` for every item at once on this connection (its methods are written as they
    /// come and answered in order: one round trip for all): the items whose call failed, with
    /// the error.
    func atOnce<Item: Sendable>(_ items: [Item], _ each: @escaping @Sendable (Item) async throws(AMQPError) -> Void) async -> [(
        Item, AMQPError
    )] {
        await withTaskGroup(of: (Item, AMQPError)?.self) { group in
            for item in items {
                group.addTask {
                    do throws(AMQPError) {
                        try await each(item)
                        return nil
                    } catch {
                        return (item, error)
                    }
                }
            }
            var failures: [(Item, AMQPError)] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
    }
}
