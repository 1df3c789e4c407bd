import AsyncHTTPClient
import Foundation
import Logging
import Synchronization

/// The credentials AWS's own tools would use: the first source that has them, in order,
/// cached, and fetched again before they expire.
///
/// The standard order (``standard(environment:httpClient:logger:)``):
/// 1. the environment (``EnvironmentCredentialSource``);
/// 2. the shared credentials and config files' profile (``ProfileCredentialSource``);
/// 3. a container's credential endpoint (``ContainerCredentialSource``);
/// 4. the EC2 instance metadata service, IMDSv2 (``InstanceMetadataCredentialSource``).
///
/// A source that is not configured is passed over; one that is configured but fails stops
/// the search with its error. Credentials without an expiration are kept for good;
/// temporary ones are fetched again once they are within ``refreshWindow`` of their
/// `Expiration` (5 minutes by default). When that fetch fails and the old credentials have
/// not expired yet, the old ones are used (and the failure logged). Concurrent callers share
/// one fetch.
public final class AWSCredentialChain: AWSCredentialProvider {
    /// How long before their expiration credentials are fetched again.
    public static let defaultRefreshWindow: Duration = .seconds(300)

    public let sources: [any AWSCredentialSource]
    public let refreshWindow: Duration
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var cached: AWSCredentials?
        var inFlight: Task<AWSCredentials, any Error>?
        var fetches = 0
    }

    /// - Parameters:
    ///   - now: the clock that expirations are compared with (tests move it).
    public init(
        sources: [any AWSCredentialSource], refreshWindow: Duration = AWSCredentialChain.defaultRefreshWindow,
        logger: Logger = Logger(label: "baton.sqs.credentials"), now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.sources = sources
        self.refreshWindow = refreshWindow
        self.logger = logger
        self.now = now
    }

    /// The standard chain: environment, shared files, container, instance metadata.
    public static func standard(
        environment: [String: String] = ProcessInfo.processInfo.environment, httpClient: HTTPClient = SQSClient.sharedHTTPClient,
        refreshWindow: Duration = AWSCredentialChain.defaultRefreshWindow, logger: Logger = Logger(label: "baton.sqs.credentials"),
        now: @escaping @Sendable () -> Date = { Date() }
    ) -> AWSCredentialChain {
        AWSCredentialChain(
            sources: [
                EnvironmentCredentialSource(environment: environment),
                ProfileCredentialSource(environment: environment),
                ContainerCredentialSource(environment: environment, httpClient: httpClient),
                InstanceMetadataCredentialSource(environment: environment, httpClient: httpClient),
            ], refreshWindow: refreshWindow, logger: logger, now: now)
    }

    /// How many times the sources have been searched (for tests and diagnostics).
    public var fetchCount: Int { state.withLock { $0.fetches } }

    public func credentials() async throws -> AWSCredentials {
        let current = now()
        let window = refreshWindow
        enum Next {
            case use(AWSCredentials)
            case wait(Task<AWSCredentials, any Error>)
        }
        let next: Next = state.withLock { state in
            if let cached = state.cached, !cached.expires(within: window, after: current) { return .use(cached) }
            if let task = state.inFlight { return .wait(task) }
            state.fetches += 1
            let task = Task { try await self.resolve() }
            state.inFlight = task
            return .wait(task)
        }
        let task: Task<AWSCredentials, any Error>
        switch next {
        case .use(let credentials): return credentials
        case .wait(let inFlight): task = inFlight
        }

        do {
            let fresh = try await task.value
            state.withLock { state in
                if state.inFlight == task { state.inFlight = nil }
                state.cached = fresh
            }
            return fresh
        } catch {
            let fallback: AWSCredentials? = state.withLock { state in
                if state.inFlight == task { state.inFlight = nil }
                guard let cached = state.cached, !cached.expires(within: .zero, after: current) else { return nil }
                return cached
            }
            if let fallback {
                logger.warning(
                    "could not refresh AWS credentials; using the current ones until they expire",
                    metadata: ["error": "\(error)", "source": "\(fallback.source)"])
                return fallback
            }
            throw error
        }
    }

    /// Forgets the cached credentials, so that the next call searches the sources again.
    public func invalidate() {
        state.withLock { $0.cached = nil }
    }

    /// The first source's credentials.
    private func resolve() async throws -> AWSCredentials {
        for source in sources {
            if let credentials = try await source.load() {
                logger.debug(
                    "AWS credentials found", metadata: ["source": "\(credentials.source)", "accessKeyID": "\(credentials.accessKeyID)"])
                return credentials
            }
        }
        throw AWSCredentialsError(
            source: "credential chain", message: "no AWS credentials found; looked in " + sources.map(\.summary).joined(separator: ", "))
    }
}
