/// A Machinery signature as Go's encoding/json writes Machinery's struct (and as its brokers
/// carry it): every field present, in the struct's order, nested signatures likewise.
public func goSignature(
    _ uuid: String, _ name: String, args: [Int] = [], routingKey: String = "", immutable: Bool = false, onSuccess: [String] = [],
    onError: [String] = [], chordCallback: String = "null", groupUUID: String = "", groupTaskCount: Int = 0, eta: String? = nil,
    retryCount: Int = 0
) -> String {
    func list(_ items: [String]) -> String { items.isEmpty ? "null" : "[" + items.joined(separator: ",") + "]" }
    let argList = args.map { #"{"Name":"","Type":"int64","Value":\#($0)}"# }.joined(separator: ",")
    return #"""
        {"UUID":"\#(uuid)","Name":"\#(name)","RoutingKey":"\#(routingKey)","ETA":\#(eta.map { "\"\($0)\"" } ?? "null"),"GroupUUID":"\#(groupUUID)",\#
        "GroupTaskCount":\#(groupTaskCount),"Args":[\#(argList)],"Headers":{},"Priority":0,"Immutable":\#(immutable),\#
        "RetryCount":\#(retryCount),"RetryTimeout":0,"OnSuccess":\#(list(onSuccess)),"OnError":\#(list(onError)),\#
        "ChordCallback":\#(chordCallback),"ChordErrorCallback":null,"BrokerMessageGroupId":"","SQSReceiptHandle":"",\#
        "StopTaskDeletionOnError":false,"IgnoreWhenTaskNotRegistered":false}
        """#
}

/// A Machinery chain as its `SendChain` sends it: the first task's signature, with each next
/// one nested in the previous one's `OnSuccess`; all of kind `name`, task `i` with `uuids[i]`
/// and `args[i]`.
public func goChain(_ uuids: [String], _ name: String, args: [[Int]], routingKey: String = "") -> String {
    precondition(uuids.count == args.count && !uuids.isEmpty, "one argument list per task")
    var next: [String] = []
    for (uuid, arguments) in zip(uuids, args).reversed() {
        next = [goSignature(uuid, name, args: arguments, routingKey: routingKey, onSuccess: next)]
    }
    return next[0]
}
