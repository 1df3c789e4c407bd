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
