/// Named defaults. Every one is configurable; these are the values when nothing is set.
public enum Defaults {
    public static let queue = "default"
    public static let priority = 5
    /// As in freundallein/scheduler: ten attempts, then the task is dead.
    public static let maxAttempts = 10
    public static let lease: Duration = .seconds(30)
    /// Heartbeats run at this fraction of the lease.
    public static let heartbeatDivisor = 3
    public static let fallbackPoll: Duration = .seconds(1)
    public static let shutdownGrace: Duration = .seconds(30)
    public static let retention: Duration = .seconds(7 * 24 * 3600)
    public static let rescueInterval: Duration = .seconds(5)
    public static let cleanInterval: Duration = .seconds(600)
    public static let retryBase: Duration = .seconds(1)
    public static let retryCap: Duration = .seconds(3600)
    public static let concurrency = 16
    /// Largest number of tasks one claim statement takes.
    public static let claimBatch = 1000
    /// Completions are buffered at most this long before one batched write.
    public static let ackLinger: Duration = .milliseconds(2)
    public static let ackBatch = 1000
}

/// Input limits, checked before anything is stored.
public enum Limits {
    public static let maxKindLength = 128
    public static let maxQueueLength = 64
    public static let maxUniqueKeyLength = 256
    public static let maxTags = 32
    public static let maxTagLength = 64
    public static let maxWorkerIDLength = 128
    /// Parents of one task (a chord body has one per header member).
    public static let maxParents = 100_000
    public static let maxNodeNameLength = 200
    /// Characters (Unicode scalars) of a progress message (``TaskProgress``).
    public static let maxProgressMessageLength = 1024
    /// Nodes of one workflow submission (``WorkflowSpec``, ``Machinery``).
    public static let maxWorkflowNodes = 100_000
    /// Edges of one workflow submission: a chain of two 50,000-member groups would otherwise
    /// ask for 2.5 billion edges from a body of a few hundred kilobytes.
    public static let maxWorkflowEdges = 1_000_000
    public static let defaultMaxJSONDepth = 64
    public static let defaultMaxArgsBytes = 1 << 20
    public static let priorityRange = 1...10
    public static let maxAttemptsRange = 1...1000
    /// The longest time any duration given in seconds may be (delay, timeout, unique window,
    /// retry backoff and cap, schedule interval): about 31 years. Beyond it a value is refused,
    /// not clamped: it is a mistake, and unbounded it would overflow `Duration`.
    public static let maxSeconds: Double = 1e9

    /// Checks a worker's name (`field` names it in the message): 1 to ``maxWorkerIDLength``
    /// characters, none of them a control character (U+0000–U+001F, U+007F: a NUL would not
    /// survive the store, which writes text up to its first NUL, so a claim could not be
    /// matched to its worker). The node checks what workers send, and `baton worker` its `--id`.
    public static func validateWorkerID(_ worker: String, field: String = "worker") throws(BatonError) {
        guard hasLength(worker, 1...maxWorkerIDLength) else {
            throw .invalidArgument("\(field) must be 1 to \(maxWorkerIDLength) characters")
        }
        guard !worker.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw .invalidArgument("\(field) must not contain control characters")
        }
    }

    /// The pattern of ``validateWorkerID(_:field:)`` for the OpenAPI document.
    public static let workerIDPattern = "^[^\\u0000-\\u001f\\u007f]*$"

    /// Checks a name or key a task is stored under (`unique_key`, a tag, a workflow node's name):
    /// its length in `range`, and no NUL. SQLite would store the text up to its first NUL
    /// (two keys differing after it would collide) and PostgreSQL refuses text holding one.
    public static func validateText(_ text: String, field: String, _ range: ClosedRange<Int>) throws(BatonError) {
        guard hasLength(text, range) else {
            throw .invalidArgument("\(field) must be \(range.lowerBound) to \(range.upperBound) characters")
        }
        try refuseNUL(text, field: field)
    }

    /// The second half of ``validateText(_:field:_:)``, for names whose length is checked
    /// with a message of their own.
    public static func refuseNUL(_ text: String, field: String) throws(BatonError) {
        guard !text.utf8.contains(0) else { throw .invalidArgument("\(field) must not contain a NUL character") }
    }

    /// The pattern of ``validateText(_:field:_:)`` for the OpenAPI document.
    public static let noNULPattern = "^[^\\u0000]*$"

    /// Free text a worker reports (an error message, a progress message) as the stores can keep
    /// it: each NUL replaced by U+FFFD (SQLite would cut the text there, PostgreSQL refuse it).
    public static func storable(_ text: String) -> String {
        text.utf8.contains(0) ? text.replacing("\u{0}", with: "\u{FFFD}") : text
    }

    /// Whether `text` has a length in `range`, counted in Unicode scalars as JSON Schema's
    /// `minLength`/`maxLength` count (names are ASCII, so there characters are bytes).
    public static func hasLength(_ text: String, _ range: ClosedRange<Int>) -> Bool {
        var count = 0
        for _ in text.unicodeScalars {
            count += 1
            if count > range.upperBound { return false }
        }
        return count >= range.lowerBound
    }
}
