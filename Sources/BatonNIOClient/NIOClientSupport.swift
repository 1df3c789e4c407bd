import BatonCore
import Foundation
import NIOCore
import NIOSSL

/// What Baton's hand-written protocol clients on SwiftNIO (Redis's, AMQP's) share: a failure in
/// words, the TLS context of a connection, whether a host is an address.
public enum NIOClientSupport {
    /// A connection failure in words: a system error by its name, NIO's channel errors plainly,
    /// `own` for the client's own error type; TLS failures by their likely cause, pointing at
    /// `caSetting` (where that client takes a CA file) rather than the node's flags.
    public static func describe(_ error: any Error, caSetting: String, own: (any Error) -> String?) -> String {
        ConnectionFailureText.describe(error) { error in
            switch error {
            case let error as IOError: ConnectionFailureText.errno(error.errnoCode)
            case let error as ChannelError:
                switch error {
                case .connectTimeout: "no answer in time"
                case .ioOnClosedChannel, .alreadyClosed, .eof: "the connection closed"
                default: nil
                }
            default: own(error)
            }
        }
        .replacingOccurrences(of: "(give its CA with --ca-file or BATON_CA_FILE)", with: "(give the CA that signed it: \(caSetting))")
    }

    /// A client's TLS context: the system's trust store, or the certificates of `caFile`.
    public static func tlsContext(caFile: String?) throws -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        return try NIOSSLContext(configuration: tls)
    }

    /// Whether a host is written as an IP address (TLS sends no server name for one).
    public static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Writes `request` to the channel, whose handler completes `promise` with the answer, and
    /// waits for it: a write that fails (the connection closed) fails it with `closed`; no answer
    /// within `limit` fails it with `timedOut` and closes the connection, since a later answer
    /// could no longer be matched to its request. Any other failure is given to `closed`.
    public static func request<Request: Sendable, Answer: Sendable, Failure: Error>(
        _ request: Request, on channel: any Channel, promise: EventLoopPromise<Answer>, within limit: Duration,
        closed: @escaping @Sendable ((any Error)?) -> Failure, timedOut: @escaping @Sendable () -> Failure
    ) async throws(Failure) -> Answer {
        channel.writeAndFlush(request).whenFailure { error in promise.fail((error as? Failure) ?? closed(nil)) }
        let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(limit / .nanoseconds(1)))) { [channel] in
            promise.fail(timedOut())
            channel.close(promise: nil)
        }
        // On the event loop as the answer completes it: a deadline due at that moment cannot
        // close the connection after its answer came.
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        do {
            return try await promise.futureResult.get()
        } catch let error as Failure {
            throw error
        } catch {
            throw closed(error)
        }
    }
}
