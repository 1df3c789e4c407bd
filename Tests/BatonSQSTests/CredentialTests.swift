import AsyncHTTPClient
import BatonSQS
import BatonTesting
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import Testing

/// The credential chain's sources, its order, its cache and refresh, the region, and the
/// redaction of secrets. The container endpoint and the instance metadata service are
/// stand-ins on 127.0.0.1; no test ever reaches a real metadata address.
@Suite("AWS credentials")
struct CredentialTests {
    static let credentialsFile = """
        # two profiles
        [default]
        aws_access_key_id = AKIDDEFAULT
        aws_secret_access_key = secret-default

        [ci]
        aws_access_key_id=AKIDCI
        aws_secret_access_key=secret-ci   ; a comment
        aws_session_token = token-ci
        """

    static let configFile = """
        [default]
        region = eu-west-1

        [profile ci]
        region = ap-southeast-2
        s3 =
          max_concurrent_requests = 5

        [profile keys-in-config]
        aws_access_key_id = AKIDCONFIG
        aws_secret_access_key = secret-config
        """

    func files() throws -> (TemporaryDirectory, [String: String]) {
        let directory = try TemporaryDirectory()
        let credentials = try directory.write("aws/credentials", Self.credentialsFile)
        let config = try directory.write("aws/config", Self.configFile)
        return (directory, ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": config])
    }

    @Test func environment() async throws {
        let found = try await EnvironmentCredentialSource(environment: [
            "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secret-env", "AWS_SESSION_TOKEN": "token-env",
        ]).load()
        #expect(found?.accessKeyID == "AKIDENV")
        #expect(found?.secretAccessKey == "secret-env")
        #expect(found?.sessionToken == "token-env")
        #expect(found?.source == "environment")
        #expect(try await EnvironmentCredentialSource(environment: [:]).load() == nil)
        #expect(try await EnvironmentCredentialSource(environment: ["AWS_ACCESS_KEY_ID": ""]).load() == nil)
        await #expect(throws: AWSCredentialsError.self) {
            try await EnvironmentCredentialSource(environment: ["AWS_ACCESS_KEY_ID": "AKIDENV"]).load()
        }
    }

    @Test func sharedFilesWithTwoProfiles() async throws {
        let (directory, paths) = try files()
        let home = directory.path
        let byDefault = try await ProfileCredentialSource(environment: TestSupport.isolatedEnvironment(home: home, paths)).load()
        #expect(byDefault?.accessKeyID == "AKIDDEFAULT")
        #expect(byDefault?.secretAccessKey == "secret-default")
        #expect(byDefault?.sessionToken == nil)

        var chosen = paths
        chosen["AWS_PROFILE"] = "ci"
        let ci = try await ProfileCredentialSource(environment: TestSupport.isolatedEnvironment(home: home, chosen)).load()
        #expect(ci?.accessKeyID == "AKIDCI")
        #expect(ci?.secretAccessKey == "secret-ci")
        #expect(ci?.sessionToken == "token-ci")
        #expect(ci?.source.contains("profile \"ci\"") == true)

        // Keys may sit in the config file's [profile NAME] section.
        chosen["AWS_PROFILE"] = "keys-in-config"
        let inConfig = try await ProfileCredentialSource(environment: TestSupport.isolatedEnvironment(home: home, chosen)).load()
        #expect(inConfig?.accessKeyID == "AKIDCONFIG")

        // A named profile that neither file has is an error; the default one missing is not.
        chosen["AWS_PROFILE"] = "missing"
        await #expect(throws: AWSCredentialsError.self) {
            try await ProfileCredentialSource(environment: TestSupport.isolatedEnvironment(home: home, chosen)).load()
        }
        #expect(try await ProfileCredentialSource(environment: TestSupport.isolatedEnvironment(home: home)).load() == nil)

        // The default paths are under HOME.
        _ = try directory.write(".aws/credentials", "[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = s\n")
        #expect(
            try await ProfileCredentialSource(environment: TestSupport.isolatedEnvironment(home: home)).load()?.accessKeyID == "AKIDHOME")
    }

    @Test func region() throws {
        let (directory, paths) = try files()
        let home = directory.path
        #expect(AWSRegion.resolve(environment: ["AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-north-1"]) == "us-west-2")
        #expect(
            AWSRegion.resolve(environment: TestSupport.isolatedEnvironment(home: home, ["AWS_DEFAULT_REGION": "eu-north-1"]))
                == "eu-north-1")
        #expect(AWSRegion.resolve(environment: TestSupport.isolatedEnvironment(home: home, paths)) == "eu-west-1")
        var ci = paths
        ci["AWS_PROFILE"] = "ci"
        #expect(AWSRegion.resolve(environment: TestSupport.isolatedEnvironment(home: home, ci)) == "ap-southeast-2")
        #expect(AWSRegion.resolve(environment: TestSupport.isolatedEnvironment(home: home)) == nil)
    }

    /// A container credential endpoint that wants `Authorization: <token>`.
    @Test func containerCredentials() async throws {
        let seen = Recorder<String>()
        let router = Router()
        router.get("/creds") { request, _ -> Response in
            let authorization = request.headers[.authorization] ?? ""
            seen.record(authorization)
            guard authorization == "container-token" else { return Response(status: .unauthorized) }
            return Self.json(
                #"{"AccessKeyId":"AKIDCONTAINER","SecretAccessKey":"secret-container","Token":"token-container","Expiration":"2099-01-01T00:00:00Z"}"#
            )
        }
        try await withStandInServer(router) { port in
            let url = "http://127.0.0.1:\(port)/creds"
            let withToken = try await ContainerCredentialSource(environment: [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "container-token",
            ]).load()
            #expect(withToken?.accessKeyID == "AKIDCONTAINER")
            #expect(withToken?.sessionToken == "token-container")
            #expect(withToken?.expiration == Date(timeIntervalSince1970: 4_070_908_800))

            // The token file wins over the variable.
            let directory = try TemporaryDirectory()
            let file = try directory.write("token", "container-token\n")
            let fromFile = try await ContainerCredentialSource(environment: [
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": url, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": file,
                "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong",
            ]).load()
            #expect(fromFile?.accessKeyID == "AKIDCONTAINER")

            // A refused token is an error that does not show the token.
            do {
                _ = try await ContainerCredentialSource(
                    environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "bad-token"], attempts: 1
                ).load()
                Issue.record("a refused container token gave credentials")
            } catch let error as AWSCredentialsError {
                #expect(error.description.contains("401"))
                #expect(!error.description.contains("bad-token"))
            }
            #expect(seen.all == ["container-token", "container-token", "bad-token"])
        }
        // Not configured; http to a non-loopback host is refused; the relative URI's host.
        #expect(try await ContainerCredentialSource(environment: [:]).load() == nil)
        await #expect(throws: AWSCredentialsError.self) {
            try await ContainerCredentialSource(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.1/creds"]).load()
        }
        let relative = ContainerCredentialSource(environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"])
        #expect(try relative.endpointURL() == "http://169.254.170.2/v2/credentials/abc")
    }

    /// An IMDSv2 stand-in: a token from PUT, then the role, then its credentials, each GET
    /// refused without the token. Its credentials expire `lifetime` from its clock's now.
    final class MetadataStandIn: Sendable {
        let puts = Recorder<String>()
        let gets = Recorder<String>()
        let lifetime = Mutex<TimeInterval>(120)
        let issued = Mutex(0)
        let token = "imds-session-token"

        var router: Router<BasicRequestContext> {
            let router = Router()
            router.put("/latest/api/token") { request, _ -> Response in
                let ttl = request.headers[HTTPField.Name("X-aws-ec2-metadata-token-ttl-seconds")!] ?? ""
                self.puts.record(ttl)
                guard Int(ttl) != nil else { return Response(status: .badRequest) }
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: self.token)))
            }
            router.get("/latest/meta-data/iam/security-credentials/") { request, _ -> Response in
                self.gets.record("role")
                guard request.headers[HTTPField.Name("X-aws-ec2-metadata-token")!] == self.token else {
                    return Response(status: .unauthorized)
                }
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "worker-role\n")))
            }
            router.get("/latest/meta-data/iam/security-credentials/worker-role") { request, _ -> Response in
                self.gets.record("credentials")
                guard request.headers[HTTPField.Name("X-aws-ec2-metadata-token")!] == self.token else {
                    return Response(status: .unauthorized)
                }
                let number = self.issued.withLock { count -> Int in
                    count += 1
                    return count
                }
                let expiration = Date().addingTimeInterval(self.lifetime.withLock { $0 }).ISO8601Format()
                return CredentialTests.json(
                    #"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"AKIDIMDS\#(number)","SecretAccessKey":"secret-imds","Token":"token-imds","Expiration":"\#(expiration)"}"#
                )
            }
            return router
        }
    }

    @Test func instanceMetadataV2() async throws {
        let standIn = MetadataStandIn()
        try await withStandInServer(standIn.router) { port in
            let environment = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)/"]
            let found = try await InstanceMetadataCredentialSource(environment: environment).load()
            #expect(found?.accessKeyID == "AKIDIMDS1")
            #expect(found?.sessionToken == "token-imds")
            #expect(found?.source == "instance metadata (role \"worker-role\")")
            #expect(standIn.puts.all == ["21600"])
            #expect(standIn.gets.all == ["role", "credentials"])
            let expiration = try #require(found?.expiration)
            #expect(abs(expiration.timeIntervalSinceNow - 120) < 30)

            // Disabled: not even asked.
            var disabled = environment
            disabled["AWS_EC2_METADATA_DISABLED"] = "true"
            #expect(try await InstanceMetadataCredentialSource(environment: disabled).load() == nil)
            #expect(standIn.puts.count == 1)
        }
    }

    @Test("credentials are fetched again inside the refresh window, and kept outside it")
    func refreshBeforeExpiration() async throws {
        let standIn = MetadataStandIn()
        try await withStandInServer(standIn.router) { port in
            let clock = Mutex(Date())
            let environment = ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)", "HOME": "/nonexistent-home"]
            let chain = AWSCredentialChain.standard(environment: environment, now: { clock.withLock { $0 } })

            // Expiring in 2 minutes, inside the 5-minute window: every call fetches again.
            let first = try await chain.credentials()
            let second = try await chain.credentials()
            #expect(first.accessKeyID == "AKIDIMDS1")
            #expect(second.accessKeyID == "AKIDIMDS2")
            #expect(standIn.puts.count == 2, "each fetch starts with a new IMDSv2 token")

            // Expiring in an hour: kept until the clock is within 5 minutes of it.
            standIn.lifetime.withLock { $0 = 3600 }
            let longLived = try await chain.credentials()
            #expect(longLived.accessKeyID == "AKIDIMDS3")
            #expect(try await chain.credentials().accessKeyID == "AKIDIMDS3")
            clock.withLock { $0 = $0.addingTimeInterval(3600 - 400) }
            #expect(try await chain.credentials().accessKeyID == "AKIDIMDS3", "6 minutes before expiration: still cached")
            clock.withLock { $0 = $0.addingTimeInterval(200) }
            #expect(try await chain.credentials().accessKeyID == "AKIDIMDS4", "3 minutes before expiration: fetched again")
            #expect(chain.fetchCount == 4)
        }
    }

    @Test("the chain's order: environment, files, container, instance metadata")
    func precedence() async throws {
        let (directory, paths) = try files()
        let standIn = MetadataStandIn()
        let router = standIn.router
        router.get("/container") { _, _ -> Response in
            CredentialTests.json(#"{"AccessKeyId":"AKIDCONTAINER","SecretAccessKey":"s","Token":"t","Expiration":"2099-01-01T00:00:00Z"}"#)
        }
        try await withStandInServer(router) { port in
            let everything = paths.merging([
                "HOME": directory.path,
                "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "secret-env",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:\(port)/container",
                "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)",
            ]) { _, new in new }
            func first(_ environment: [String: String]) async throws -> String {
                try await AWSCredentialChain.standard(environment: environment).credentials().accessKeyID
            }
            #expect(try await first(everything) == "AKIDENV")
            var noEnvironment = everything
            noEnvironment["AWS_ACCESS_KEY_ID"] = nil
            noEnvironment["AWS_SECRET_ACCESS_KEY"] = nil
            #expect(try await first(noEnvironment) == "AKIDDEFAULT")
            var noFiles = noEnvironment
            noFiles["AWS_SHARED_CREDENTIALS_FILE"] = directory.path + "/none"
            noFiles["AWS_CONFIG_FILE"] = directory.path + "/none"
            #expect(try await first(noFiles) == "AKIDCONTAINER")
            var noContainer = noFiles
            noContainer["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = nil
            #expect(try await first(noContainer) == "AKIDIMDS1")
            var nothing = noContainer
            nothing["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = nil
            nothing["AWS_EC2_METADATA_DISABLED"] = "true"
            do {
                _ = try await first(nothing)
                Issue.record("an empty chain gave credentials")
            } catch let error as AWSCredentialsError {
                #expect(error.description.contains("no AWS credentials found"))
                #expect(error.description.contains("AWS_EC2_METADATA_DISABLED"))
            }
            // Exactly one metadata fetch happened: only when every earlier source was empty.
            #expect(standIn.puts.count == 1)
        }
    }

    @Test("descriptions never show the secret or the token")
    func redaction() async throws {
        let credentials = AWSCredentials(
            accessKeyID: "AKIDVISIBLE", secretAccessKey: "SUPERSECRETVALUE", sessionToken: "SESSIONTOKENVALUE", source: "environment")
        var dumped = ""
        dump(credentials, to: &dumped)
        for text in [credentials.description, credentials.debugDescription, "\(credentials)", String(reflecting: credentials), dumped] {
            #expect(text.contains("AKIDVISIBLE"))
            #expect(!text.contains("SUPERSECRETVALUE"), "\(text)")
            #expect(!text.contains("SESSIONTOKENVALUE"), "\(text)")
            #expect(text.contains("<redacted>"))
        }
        let signed = SigV4Signer(credentials: credentials, region: "us-east-1", service: "sqs").sign(
            SigV4Signer.Request(method: "POST", host: "sqs.us-east-1.amazonaws.com", body: Data()), date: Date())
        #expect(!signed.authorization.contains("SUPERSECRETVALUE"))
    }

    static func json(_ text: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
