import BatonCore
import Testing

/// Expects `body` to throw a `BatonError` with `code`; records an issue at the caller otherwise
/// (no error, another code, or another error type).
public func expectError<T>(
    _ code: BatonError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        Issue.record("expected a \(code) error, got none", sourceLocation: sourceLocation)
    } catch let error as BatonError {
        #expect(error.code == code, "got \(error.code): \(error.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a \(code) BatonError, got \(error)", sourceLocation: sourceLocation)
    }
}
