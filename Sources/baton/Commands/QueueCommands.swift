import ArgumentParser
import BatonCore

struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Pause and resume queues: workers claim nothing from a paused queue; submits still work.",
        subcommands: [Pause.self, Resume.self, QueueList.self])

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a queue.")
        @Argument(help: "The queue's name.") var name: String
        @OptionGroup var target: TargetOptions

        func run() async throws {
            try await reportingErrors { try await QueueCommand.setPaused(name, true, target) }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused queue.")
        @Argument(help: "The queue's name.") var name: String
        @OptionGroup var target: TargetOptions

        func run() async throws {
            try await reportingErrors { try await QueueCommand.setPaused(name, false, target) }
        }
    }

    struct QueueList: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List queues: task counts and whether paused.")
        @OptionGroup var target: TargetOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let counts: [QueueCounts]
                let paused: [String]
                switch try await AdminTarget.resolve(target) {
                case .remote(let client):
                    (counts, paused) = (try await client.queues(), try await client.queuePausedList())
                case .local(let store):
                    (counts, paused) = (try await store.queueCounts(), try await store.queuePausedList())
                }
                let names = Set(counts.map(\.name)).union(paused).sorted()
                if output.json {
                    print(Output.jsonLine(QueuesJSON(queues: counts, paused: paused)))
                    return
                }
                var table = [["QUEUE", "PAUSED"] + TaskState.allCases.map { $0.rawValue.uppercased() }]
                for name in names {
                    let c = counts.first { $0.name == name }
                    table.append([name, paused.contains(name) ? "yes" : "no"] + TaskState.allCases.map { String(c?.count($0) ?? 0) })
                }
                print(formatColumns(table))
            }
        }
    }

    struct QueuesJSON: Encodable {
        var queues: [QueueCounts]
        var paused: [String]
    }

    static func setPaused(_ name: String, _ paused: Bool, _ target: TargetOptions) async throws {
        switch try await AdminTarget.resolve(target) {
        case .remote(let client): _ = try await client.queueSetPaused(name, paused: paused)
        case .local(let store):
            if paused { try await store.queuePause(name) } else { try await store.queueResume(name) }
        }
        print("\(name) \(paused ? "paused" : "resumed")")
    }
}
