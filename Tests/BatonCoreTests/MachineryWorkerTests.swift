import BatonCore
import BatonTesting
import Foundation
import Testing

/// Baton's tasks as Machinery's workers take them (``Machinery/workerSignature(_:args:routingKey:uuid:)``)
/// and the states those workers write read back (``Machinery/workerReport(_:uuid:)``).
@Suite struct MachineryWorkerFormatTests {
    func args(_ text: String) throws -> String {
        RawJSON(.array(try Machinery.workerArguments(try RawJSON(validating: text)))).text
    }

    @Test(arguments: [
        ("null", "[]"),
        ("{}", "[]"),
        ("[]", "[]"),
        (
            #"["a", 1, 2.5, true]"#,
            #"[{"Type":"string","Value":"a"},{"Type":"int64","Value":1},{"Type":"float64","Value":2.5},{"Type":"bool","Value":true}]"#
        ),
        (
            #"[["a","b"], [1,2], [1,2.5], [true], []]"#,
            #"[{"Type":"[]string","Value":["a","b"]},{"Type":"[]int64","Value":[1,2]},{"Type":"[]float64","Value":[1,2.5]},{"Type":"[]bool","Value":[true]},{"Type":"[]string","Value":[]}]"#
        ),
        // Machinery's own arguments are taken as they are, other keys dropped only from plain items.
        (
            #"[{"Name":"x","Type":"uint8","Value":7},{"Type":"[]byte","Value":"aGk="}]"#,
            #"[{"Name":"x","Type":"uint8","Value":7},{"Type":"[]byte","Value":"aGk="}]"#
        ),
    ])
    func argumentsBecomeMachinerysTypedArgs(_ input: String, _ expected: String) throws {
        let got = try parseJSON(try args(input))
        #expect(got == (try parseJSON(expected)), "\(input)")
    }

    @Test(arguments: [#"{"a": 1}"#, #"[{"a": 1}]"#, "[null]", "[[1, \"a\"]]", "[[[1]]]", "\"text\"", "7"])
    func argumentsNoWorkerCanTakeAreRefused(_ input: String) throws {
        #expect(throws: BatonError.self, "\(input)") { try args(input) }
    }

    @Test func theSignatureHasEveryFieldOfGosStruct() throws {
        let record = TaskRecord(
            id: TaskID.generate(), kind: "email.send", queue: "mail", args: try RawJSON(validating: #"["a@b.c"]"#), priority: 5,
            state: .running, attempt: 1, maxAttempts: 3, runAt: Date(), createdAt: Date(),
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        let text = try Machinery.workerSignature(record, args: record.args, routingKey: "machinery_tasks")
        guard case .object(let signature) = try parseJSON(text) else {
            Issue.record("not an object: \(text)")
            return
        }
        #expect(
            Set(signature.keys)
                == [
                    "UUID", "Name", "RoutingKey", "ETA", "GroupUUID", "GroupTaskCount", "Args", "Headers", "Priority", "Immutable",
                    "RetryCount", "RetryTimeout", "OnSuccess", "OnError", "ChordCallback", "BrokerMessageGroupId", "SQSReceiptHandle",
                    "StopTaskDeletionOnError", "IgnoreWhenTaskNotRegistered",
                ])
        #expect(signature["UUID"] == .string(record.id.description) && signature["Name"] == "email.send")
        #expect(signature["Headers"] == .object(["traceparent": .string(record.traceparent!)]))
        #expect(signature["Args"] == .array([.object(["Type": "string", "Value": "a@b.c"])]))
        // A task that came as a Machinery signature keeps its UUID.
        var machinery = record
        machinery.node = "task_\(record.id.description)"
        #expect(Machinery.workerUUID(machinery) == "task_\(record.id.description)")
        machinery.node = "step-1"
        #expect(Machinery.workerUUID(machinery) == record.id.description)
    }

    @Test func statesReadBack() throws {
        let uuid = "task_1"
        func state(_ name: String, _ rest: String = "") -> String {
            #"{"TaskUUID":"task_1","TaskName":"add","State":"\#(name)","CreatedAt":"0001-01-01T00:00:00Z"\#(rest)}"#
        }
        #expect(Machinery.workerReport(state("STARTED"), uuid: uuid) == .running("STARTED"))
        #expect(Machinery.workerReport(state("RETRY"), uuid: uuid) == .running("RETRY"))
        #expect(
            Machinery.workerReport(state("SUCCESS", #","Results":[{"Type":"int64","Value":3}]"#), uuid: uuid)
                == .succeeded(RawJSON(trusted: #"[{"Type":"int64","Value":3}]"#)))
        // Lower-case keys, as some of Machinery's versions write them.
        #expect(
            Machinery.workerReport(state("SUCCESS", #","Results":[{"type":"string","value":"x"}]"#), uuid: uuid)
                == .succeeded(RawJSON(.array([.object(["Type": "string", "Value": "x"])]))))
        #expect(Machinery.workerReport(state("SUCCESS", #","Results":null"#), uuid: uuid) == .succeeded(.null))
        #expect(Machinery.workerReport(state("FAILURE", #","Error":"boom""#), uuid: uuid) == .failed("boom"))
        #expect(Machinery.workerReport(state("FAILURE"), uuid: uuid) == .failed("the Machinery worker reported FAILURE"))
        #expect(Machinery.workerReport(state("SUCCESS"), uuid: "task_2") == nil, "another task's state")
        #expect(Machinery.workerReport("not json", uuid: uuid) == nil)
        // Spaces around the colon (not Go's, still JSON), and what Baton writes before it sends.
        #expect(Machinery.workerReport(#"{"TaskUUID": "task_1", "State" : "STARTED"}"#, uuid: uuid) == .running("STARTED"))
        #expect(Machinery.workerReport(#"{"State":"SUCC\u0045SS","Results":[]}"#, uuid: uuid) == .succeeded(RawJSON(trusted: "[]")))
    }

    /// The members are found by skipping over values: strings holding brackets, braces,
    /// quotes and keys' names, nested values, spaces; what is not plain is parsed in full.
    @Test func statesReadBackWhateverTheirValuesHold() throws {
        let uuid = "task_7"
        let tricky =
            #"{"Error":"a \"State\":\"FAILURE\" ]}{","TaskUUID":"task_7","Results":[{"Type":"string","Value":"]} \"x"},{"Type":"[]int64","Value":[1,[2]]}],"State":"SUCCESS","TTL":0}"#
        #expect(
            Machinery.workerReport(tricky, uuid: uuid)
                == .succeeded(RawJSON(trusted: #"[{"Type":"string","Value":"]} \"x"},{"Type":"[]int64","Value":[1,[2]]}]"#)))
        #expect(
            Machinery.workerReport(#" { "State" : "SUCCESS" , "Results" : [ {"Type":"bool","Value":true} ] } "#, uuid: uuid)
                == .succeeded(RawJSON(.array([.object(["Type": "bool", "Value": .bool(true)])]))))
        #expect(Machinery.workerReport(#"{"State":"SUCCESS","Results":[{"Type":"int64","Value":1},"#, uuid: uuid) == nil, "cut short")
        #expect(Machinery.workerReport(#"{"State":"SUCCESS","Results":[1,}"#, uuid: uuid) == nil, "not JSON")
        #expect(Machinery.workerReport(#"{"State":"FAILURE","Error":"x \" y"}"#, uuid: uuid) == .failed(#"x " y"#))
        #expect(Machinery.workerReport(#"{"State":"STARTED","TaskUUID":"task_8"}"#, uuid: uuid) == nil, "another task's state")
        #expect(Machinery.workerReport("[]", uuid: uuid) == nil)
        #expect(Machinery.workerReport("{}", uuid: uuid) == nil)
    }

    @Test func thePendingStateIsMachinerysTaskState() throws {
        let record = TaskRecord(
            id: TaskID.generate(), kind: "say \"hi\"", queue: "q", args: .null, priority: 5, state: .running, attempt: 1,
            maxAttempts: 1, runAt: Date(), createdAt: Date())
        let text = Machinery.pendingState(uuid: "task_9", task: record, at: Date(timeIntervalSince1970: 1_800_000_000))
        let state = try JSONDecoder().decode(MachineryTaskState.self, from: Data(text.utf8))
        #expect(state.taskUUID == "task_9" && state.taskName == #"say "hi""# && state.state == "PENDING" && state.results == nil)
        #expect(state.createdAt == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(Machinery.workerReport(text, uuid: "task_9") == .running("PENDING"))
    }

    @Test func aFailureBecomesRetryWithItsOtherFieldsKept() throws {
        let failure =
            #"{"TaskUUID":"task_1","TaskName":"add","State":"FAILURE","Results":null,"Error":"disk full","CreatedAt":"2026-12-06T00:00:00Z","TTL":0}"#
        let retry = try #require(Machinery.retryState(ofFailure: failure))
        #expect(
            try RawJSON(validating: retry).parsed()
                == .object([
                    "TaskUUID": "task_1", "TaskName": "add", "State": "RETRY", "Results": .null, "Error": "disk full",
                    "CreatedAt": "2026-12-06T00:00:00Z", "TTL": 0,
                ]))
        #expect(Machinery.retryState(ofFailure: failure.replacingOccurrences(of: "FAILURE", with: "SUCCESS")) == nil)
        #expect(Machinery.retryState(ofFailure: "not json") == nil)
    }
}
