import BatonCore
import Foundation
import Logging
import Tracing

extension WorkerRuntime {
    /// How one attempt's race between its handler and its stop flag ended.
    enum AttemptOutcome: Sendable {
        case succeeded(RawJSON)
        case threw(any Error)
        case stopped(StopReason)
    }

    /// Runs one claimed task: its handler, raced against its timeout and its stop flag, then
    /// acknowledges the outcome if it is still this worker's to write.
    ///
    /// Per task this costs one Swift task for the handler (cancelled through `entry.handler`
    /// when the attempt is stopped) and, only when the attempt has a timeout, one timer task;
    /// log metadata and durations are formatted only when a line is written.
    func execute(_ claimed: ClaimedTask, entry: Entry) async {
        let task = claimed.task
        let stop = entry.stop
        // The task's metadata is attached only for a line that is written.
        let debug = self.logger.logLevel <= .debug
        var logger: Logger {
            var logger = self.logger
            logger[metadataKey: "task_id"] = .stringConvertible(task.id)
            logger[metadataKey: "kind"] = .string(task.kind)
            logger[metadataKey: "attempt"] = .stringConvertible(task.attempt)
            return logger
        }

        guard let registration = registry.registration(for: task.kind) else {
            // Cannot happen while claims are filtered by kind; give the task back untouched.
            if takeOutcome(claimed.lease) {
                state.withLock { $0.stats.released += 1 }
                logger.warning("no handler for this kind: releasing the task")
                await release([claimed.lease], why: "no handler for kind \(task.kind)")
            }
            return
        }
        var args = task.args
        var parents = ParentResults()
        if task.parentCount != nil {
            do {
                if task.pass != nil {
                    // Passed in the arguments: read now.
                    let loaded: [ParentResult]
                    (loaded, args) = try await parentsAndArgs(task)
                    parents = ParentResults(loaded: loaded)
                } else {
                    // Read only if the handler asks (`ctx.parents()`).
                    let source = self.source
                    parents = ParentResults { try await Self.allParents(of: task.id, from: source) }
                }
            } catch {
                if takeOutcome(claimed.lease) {
                    let failure = TaskFailure(lease: claimed.lease, message: "reading the task's parents failed: \(error)")
                    logger.warning("reading the task's parents failed", metadata: ["error": "\(error)"])
                    source.ack(.fail(failure))
                }
                return
            }
        }
        let context = TaskContext(
            taskID: task.id, kind: task.kind, attempt: task.attempt, maxAttempts: task.maxAttempts, queue: task.queue,
            worker: configuration.id, logger: self.logger, stop: stop, parents: parents, lease: claimed.lease,
            reports: progressReports)
        // Bounded as the node bounds it on submit, so a task stored otherwise cannot overflow `Duration`.
        let timeout = task.timeout.map { Duration.seconds(min(max($0, 0), Limits.maxSeconds)) } ?? registration.timeout
        if debug { logger.debug("task started") }
        let started = ContinuousClock.now

        let outcome: AttemptOutcome
        if let faults = configuration.faults, faults.strikes(task.kind) {
            outcome = .threw(InjectedFault(kind: task.kind, rate: faults.rate(for: task.kind)))
        } else if TaskTrace.isEnabled {
            outcome = await traced(task) { await run(registration, args: args, context: context, entry: entry, timeout: timeout) }
        } else {
            outcome = await run(registration, args: args, context: context, entry: entry, timeout: timeout)
        }
        let elapsed = ContinuousClock.now - started
        func duration() -> Logger.MetadataValue { "\(String(format: "%.3f", elapsed.seconds))s" }
        let observer = self.observer
        func report(_ outcome: String) {
            observer?(AttemptReport(queue: task.queue, kind: task.kind, outcome: outcome, run: elapsed))
        }
        /// Whether the node moves the task to `failed` after this failure: none left, or not retryable.
        func isLast(_ failure: TaskFailure) -> Bool { !failure.retryable || task.attempt >= task.maxAttempts }
        func report(_ failure: TaskFailure) { report(isLast(failure) ? "failed" : "retry") }
        /// The last attempt is an error saying the node moves the task to `failed`, and why; an
        /// earlier one a warning that it will be retried.
        func logFailed(_ failure: TaskFailure, _ headline: String) {
            if isLast(failure) {
                let reason = failure.retryable ? "no attempts left (\(task.attempt) of \(task.maxAttempts))" : "not retryable"
                logger.error(
                    "task failed for good", metadata: ["error": "\(failure.message)", "duration": duration(), "reason": "\(reason)"])
            } else {
                logger.warning(
                    "\(headline); it will be retried",
                    metadata: [
                        "error": "\(failure.message)", "duration": duration(),
                        "retry_after": "\(failure.retryAfter.map { "\($0)" } ?? "policy")",
                    ])
            }
        }

        switch (outcome, stop.reason) {
        case (.succeeded(let result), _):
            guard takeOutcome(claimed.lease) else {
                if debug { logger.debug("handler finished after the task was taken from it; not acknowledged") }
                return
            }
            state.withLock { $0.stats.succeeded += 1 }
            report("succeeded")
            if debug { logger.debug("task succeeded", metadata: ["duration": duration()]) }
            let followUps = context.followUps.all
            guard followUps.isEmpty else {
                await completeWithFollowUps(TaskCompletion(lease: claimed.lease, result: result), followUps, logger: logger)
                return
            }
            source.ack(.complete(TaskCompletion(lease: claimed.lease, result: result)))

        case (.threw(let error), nil) where !Task.isCancelled:
            guard takeOutcome(claimed.lease) else { return }
            let failure = Self.failure(for: error, lease: claimed.lease)
            state.withLock { $0.stats.failed += 1 }
            report(failure)
            logFailed(failure, "task attempt failed")
            source.ack(.fail(failure))

        case (_, .timedOut):
            guard takeOutcome(claimed.lease) else { return }
            let message = "timed out after \(Self.formatSeconds(timeout ?? elapsed))"
            let failure = TaskFailure(lease: claimed.lease, message: message, retryable: true)
            state.withLock { $0.stats.failed += 1 }
            report(failure)
            logFailed(failure, "task attempt timed out")
            source.ack(.fail(failure))

        default:
            // Cancelled by an operator, lease lost, or released on shutdown: whoever stopped the
            // task already settled it. On a hard cancellation of the runtime the entry stays
            // for the runtime's final release.
            switch stop.reason {
            case .cancelled?: report("cancelled")
            case .leaseLost?: report("lease_expired")
            case .shutdown?: report("released")
            default: break
            }
            if debug { logger.debug("task stopped", metadata: ["reason": "\(stop.reason.map { "\($0)" } ?? "worker cancelled")"]) }
        }
    }

    /// Runs the handler in a task of its own until it returns; stopping the attempt (a
    /// heartbeat's answer, the shutdown, the timeout) or cancelling the caller cancels it.
    /// The outcome is `stopped` when the stop flag was set before the handler returned.
    private func run(
        _ registration: HandlerRegistration, args: RawJSON, context: TaskContext, entry: Entry, timeout: Duration?
    ) async -> AttemptOutcome {
        let handler = Task {
            do {
                return AttemptOutcome.succeeded(try await registration.run(args, context))
            } catch {
                return .threw(error)
            }
        }
        entry.handler.attach(handler)
        let result = await withTaskCancellationHandler {
            guard let timeout else { return await handler.value }
            return await withTaskGroup(of: Void.self) { timer in
                timer.addTask {
                    if (try? await Task.sleep(for: timeout)) != nil { entry.stopAttempt(.timedOut) }
                }
                let result = await handler.value
                timer.cancelAll()
                return result
            }
        } onCancel: {
            handler.cancel()
        }
        // Stopped while it ran: whoever stopped it settles the task (a handler that finished
        // anyway is not acknowledged; a timeout is reported as one).
        if let reason = entry.stop.reason { return .stopped(reason) }
        return result
    }

    /// Whether the outcome of this lease is still undecided; if so it is now this caller's.
    func takeOutcome(_ lease: LeaseRef) -> Bool {
        state.withLock { s in
            guard let entry = s.running[lease.id], entry.lease == lease else { return false }
            s.running[lease.id] = nil
            return true
        }
    }

    /// The failure to report for an error a handler threw. The node decides what it leads to
    /// (``TaskLifecycle``): the retry-after here, else the task's, the kind's (announced by this
    /// worker) or the node's policy.
    static func failure(for error: any Error, lease: LeaseRef) -> TaskFailure {
        switch error {
        case let later as RetryLater:
            return TaskFailure(lease: lease, message: later.message, retryable: true, retryAfter: later.delay)
        case let permanent as FailPermanently:
            return TaskFailure(lease: lease, message: permanent.message, retryable: false)
        default:
            return TaskFailure(lease: lease, message: describe(error), retryable: true)
        }
    }

    static func describe(_ error: any Error) -> String {
        if error is CancellationError { return "cancelled" }
        let text = String(describing: error)
        return text.isEmpty ? "failed with \(type(of: error))" : text
    }

    /// `0.2s`, `30s`.
    static func formatSeconds(_ duration: Duration) -> String {
        let s = duration.seconds
        if s == s.rounded() { return "\(Int(s))s" }
        return "\(String(format: "%g", s))s"
    }
}

extension WorkerRuntime {
    /// Every parent of a task, a page at a time.
    static func allParents(of id: TaskID, from source: any TaskSource) async throws -> [ParentResult] {
        try await ParentPage.all { try await source.parents(of: id, cursor: $0, limit: TaskParentsParams.maxLimit) } ?? []
    }

    /// Writes a completion with its follow-ups at once (one transaction on the node), trying
    /// again while the node is unreachable. If it never gets through, the task's lease runs
    /// out and the task runs again: no follow-up exists without its completion.
    func completeWithFollowUps(_ completion: TaskCompletion, _ followUps: [NewTask], logger: Logger) async {
        for attempt in 1...5 {
            do {
                try await source.complete(completion, followUps: followUps)
                return
            } catch let error as BatonError where error.code == .unavailable && attempt < 5 {
                try? await Task.sleep(for: .milliseconds(100 * attempt))
            } catch {
                logger.warning(
                    "completing with follow-ups failed; the task will run again when its lease expires",
                    metadata: ["error": "\(error)", "follow_ups": "\(followUps.count)"])
                return
            }
        }
    }

    /// Reads every parent of `task` (a page at a time) and its arguments as the handler sees
    /// them: with the parents' results in front when the task asked for `pass`.
    func parentsAndArgs(_ task: TaskRecord) async throws -> ([ParentResult], RawJSON) {
        let parents = try await Self.allParents(of: task.id, from: source)
        guard let pass = task.pass else { return (parents, task.args) }
        let args = try pass.arguments(task.args, parentResults: parents.map(\.result))
        return (parents, args)
    }
}

extension WorkerRuntime {
    /// Runs an attempt in a `process {queue}` consumer span (``TaskTrace``): a child of the
    /// context the task was submitted in, and linked to it, so that a trace shows the submit,
    /// the wait and the run; the handler's own spans nest under it.
    func traced(_ task: TaskRecord, _ attempt: () async -> AttemptOutcome) async -> AttemptOutcome {
        let producer = task.traceparent.flatMap(TaskTrace.context(traceparent:))
        return await withSpan("process \(task.queue)", context: producer ?? .topLevel, ofKind: .consumer) { span in
            // A span the sampler dropped records nothing: skip building its link, attributes
            // and status (most of the per-attempt cost of an unsampled attempt).
            guard span.isRecording else { return await attempt() }
            if let producer { span.addLink(SpanLink(context: producer, attributes: [:])) }
            TaskTrace.setAttributes(span, operation: "process", queue: task.queue, kind: task.kind, id: task.id, attempt: task.attempt)
            let outcome = await attempt()
            switch outcome {
            case .succeeded: span.setStatus(SpanStatus(code: .ok))
            case .threw(let error):
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: "\(error)"))
            case .stopped(let reason):
                span.attributes["baton.task.stopped"] = "\(reason)"
                span.setStatus(SpanStatus(code: .error, message: "stopped: \(reason)"))
            }
            return outcome
        }
    }
}
