import ArgumentParser
import BatonClient
import BatonCore
import Foundation

/// Exit codes scripts can rely on (also in `baton --help` and docs/cli.md).
enum ExitStatus {
    static let success: Int32 = 0
    /// `--wait` ended with the task `failed` or `cancelled`.
    static let taskUnsuccessful: Int32 = 1
    /// The operation was refused: e.g. cancel of a finished task (conflict).
    static let refused: Int32 = 2
    static let notFound: Int32 = 3
    /// The store or server could not be reached.
    static let unreachable: Int32 = 4
    /// The database file is not Baton's, is damaged, or is from a newer Baton.
    static let incompatibleStore: Int32 = 5
    /// The server answered, but it is not a Baton node (a wrong `--server` URL).
    static let notABatonNode: Int32 = 6
    /// `--wait` gave up (`--wait-timeout`) before the task finished.
    static let waitTimedOut: Int32 = 7
    /// Usage errors and invalid input: ArgumentParser's own code (EX_USAGE).
    static let usage: Int32 = ExitCode.validationFailure.rawValue
}

/// An error the CLI reports as one line on stderr, with its exit code.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let code: Int32
    var description: String { message }

    static func usage(_ message: String) -> CLIError { CLIError(message: message, code: ExitStatus.usage) }

    /// Maps a Baton error to its exit code.
    init(_ error: BatonError) {
        message = error.message
        switch error.code {
        case .invalidArgument, .tooLarge: code = ExitStatus.usage
        case .notFound: code = ExitStatus.notFound
        case .unavailable: code = ExitStatus.unreachable
        case .storeIncompatible: code = ExitStatus.incompatibleStore
        default: code = ExitStatus.refused
        }
    }

    init(message: String, code: Int32) {
        self.message = message
        self.code = code
    }
}

extension AsyncParsableCommand {
    /// Runs `body`, turning Baton and CLI errors into a message on stderr and an exit code.
    func reportingErrors(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as CLIError {
            printError("error: \(error.message)")
            throw ExitCode(error.code)
        } catch let error as BatonError {
            printError("error: \(error.message)")
            throw ExitCode(CLIError(error).code)
        } catch let error as NotABatonNode {
            printError("error: \(error)")
            throw ExitCode(ExitStatus.notABatonNode)
        }
    }
}

func printError(_ message: String) {
    var stderr = StandardError()
    print(message, to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandle.standardError.write(string.data(using: .utf8) ?? .init())
    }
}
