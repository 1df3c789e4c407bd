extension StopFlag {
    /// Returns the reason once it is set, or `nil` after `timeout` or on cancellation.
    func wait(timeout: Duration) async -> StopReason? {
        if let reason { return reason }
        return await withTaskGroup(of: StopReason?.self) { group in
            group.addTask { await self.wait() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? reason
        }
    }
}
