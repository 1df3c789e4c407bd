import BatonCore

extension RPCParams {
    /// `name`, required: the schedule or queue a `schedule.*` or `queue.*` call acts on (the
    /// REST path's `{name}`).
    func name() throws -> String {
        guard let name = try string("name") else { throw BatonError.invalidArgument("field 'name' is required") }
        return name
    }

    /// A result as its JSON.
    static func json(_ value: some Encodable) -> [UInt8] {
        Array(JSONResponse.encode(value).readableBytesView)
    }
}
