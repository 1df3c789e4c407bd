import BatonCore
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// The HTTP server of `configuration`: HTTPS with its PEM certificate chain and key when
/// `configuration.tls` is set, plain HTTP/1.1 otherwise. Throws `invalidArgument` naming the
/// file that cannot be read.
public func makeServerBuilder(_ configuration: ServerConfiguration) throws -> HTTPServerBuilder {
    guard let tls = configuration.tls else { return ClientConnection.http1Server() }
    let chain: [NIOSSLCertificate]
    do {
        chain = try NIOSSLCertificate.fromPEMFile(tls.certificatePath)
    } catch {
        throw BatonError.invalidArgument("cannot read the TLS certificate \(tls.certificatePath): \(error)")
    }
    guard !chain.isEmpty else { throw BatonError.invalidArgument("the TLS certificate file \(tls.certificatePath) holds no certificate") }
    let key: NIOSSLPrivateKey
    do {
        key = try NIOSSLPrivateKey(file: tls.privateKeyPath, format: .pem)
    } catch {
        throw BatonError.invalidArgument("cannot read the TLS private key \(tls.privateKeyPath): \(error)")
    }
    let tlsConfiguration = TLSConfiguration.makeServerConfiguration(
        certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    return try .tls(ClientConnection.http1Server(), tlsConfiguration: tlsConfiguration)
}
