/// freundallein/sqs-scheduler's submission form: a JSON-RPC 2.0 call whose method is `submit:KIND` and whose
/// params (a JSON object) are the task's arguments, e.g.
/// `{"jsonrpc":"2.0","method":"submit:export","params":{"objectID":"23"}}` → a task of kind
/// `export` with the arguments `{"objectID":"23"}` on the `default` queue.
///
/// The one mapping of that form: the node's `POST /rpc` (BatonServer) and the SQS ingest
/// (BatonSQSBroker) both use it.
public enum SubmitKindCall {
    /// The method prefix: `submit:`.
    public static let prefix = "submit:"

    /// The kind `method` submits (`export` for `submit:export`), or `nil` when the method is
    /// not of this form. The kind is checked when the task is validated.
    public static func kind(ofMethod method: String) -> String? {
        guard method.hasPrefix(prefix) else { return nil }
        return String(method.dropFirst(prefix.count))
    }

    /// The task a `submit:KIND` call with these named params submits, or `nil` when the
    /// method is not of this form.
    public static func task(method: String, params: [String: JSONValue]) -> NewTask? {
        guard let kind = kind(ofMethod: method) else { return nil }
        return NewTask(kind: kind, args: RawJSON(.object(params)))
    }
}
