import BatonSQS
import BatonTesting
import Foundation
import Testing

/// The signer against AWS's published SigV4 test suite (the vectors' expected values are
/// constants here), and against botocore's `SigV4Auth` run on the same inputs.
@Suite("SigV4 signer")
struct SigV4SignerTests {
    static let suiteCredentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    /// 20150830T123600Z
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)
    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var method: String = "GET"
        var path: String = "/"
        var query: [(name: String, value: String)] = []
        var headers: [(name: String, value: String)] = []
        var sessionToken: String?
        var payloadHash: String = SigV4SignerTests.emptyHash
        var normalizesPath = true
        var signedHeaders = "host;x-amz-date"
        var signature: String
        var testDescription: String { name }
    }

    /// From AWS's SigV4 test suite (service `service`, region `us-east-1`, host
    /// `example.amazonaws.com`). The `-unnormalized` cases sign the path as it stands.
    static let vectors: [Vector] = [
        Vector(name: "get-vanilla", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Vector(
            name: "get-unreserved", path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
        Vector(name: "get-utf8", path: "/ሴ", signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
        Vector(name: "get-space", path: "/example space/", signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
        Vector(
            name: "get-slashes-unnormalized", path: "//example//", normalizesPath: false,
            signature: "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5"),
        Vector(
            name: "get-relative-unnormalized", path: "/example/..", normalizesPath: false,
            signature: "eca7ead57bb5aa5c8e28007acd4ff04e1ff9a0ff3b237ec1554a184887ff9282"),
        // Normalised, `/example/..` is `/`: the request is get-vanilla's, and so is the signature.
        Vector(
            name: "get-relative (normalized)", path: "/example/..",
            signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        Vector(
            name: "get-vanilla-query-order-key-case", query: [("Param2", "value2"), ("Param1", "value1")],
            signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        Vector(
            name: "get-vanilla-query-order-encoded", query: [("Param-3", "Value3"), ("Param", "Value2"), ("ሴ", "Value1")],
            signature: "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"),
        Vector(
            name: "get-vanilla-query-unreserved",
            query: [
                (
                    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                )
            ],
            signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
        Vector(
            name: "get-vanilla-utf8-query", query: [("ሴ", "bar")],
            signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
        Vector(
            name: "get-vanilla-with-session-token", sessionToken: "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
            signedHeaders: "host;x-amz-date;x-amz-security-token",
            signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"),
        Vector(
            name: "get-header-key-duplicate", headers: [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            signedHeaders: "host;my-header1;x-amz-date", signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
        Vector(
            name: "get-header-value-order",
            headers: [("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2")],
            signedHeaders: "host;my-header1;x-amz-date", signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
        Vector(
            name: "get-header-value-trim", headers: [("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            signedHeaders: "host;my-header1;my-header2;x-amz-date",
            signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        Vector(name: "post-vanilla", method: "POST", signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
        Vector(
            name: "post-vanilla-query", method: "POST", query: [("Param1", "value1")],
            signature: "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
        Vector(
            name: "post-header-value-case", method: "POST", headers: [("My-Header1", "VALUE1")],
            signedHeaders: "host;my-header1;x-amz-date",
            signature: "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
        Vector(
            name: "post-x-www-form-urlencoded", method: "POST",
            headers: [
                ("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", "13"),
                ("x-amz-content-sha256", "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"),
            ],
            payloadHash: "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
            signedHeaders: "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
            signature: "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"),
    ]

    static func sign(_ vector: Vector) -> SigV4Signer.Signed {
        var credentials = suiteCredentials
        credentials.sessionToken = vector.sessionToken
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service", normalizesPath: vector.normalizesPath)
        return signer.sign(
            SigV4Signer.Request(
                method: vector.method, host: "example.amazonaws.com", path: vector.path, query: vector.query, headers: vector.headers,
                payloadHash: vector.payloadHash),
            date: suiteDate)
    }

    @Test("AWS test suite", arguments: vectors)
    func awsTestSuite(_ vector: Vector) {
        let signed = Self.sign(vector)
        #expect(signed.signature == vector.signature)
        #expect(signed.signedHeaders == vector.signedHeaders)
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=\(vector.signedHeaders), Signature=\(vector.signature)"
        )
        #expect(signed.amzDate == "20150830T123600Z")
        let headerNames = signed.headers.map(\.name)
        if vector.sessionToken != nil {
            #expect(headerNames == ["X-Amz-Date", "X-Amz-Security-Token", "Authorization"])
            #expect(signed.headers[1].value == vector.sessionToken)
        } else {
            #expect(headerNames == ["X-Amz-Date", "Authorization"])
        }
    }

    @Test("the suite's canonical requests and strings to sign")
    func intermediateStrings() throws {
        let vanilla = Self.sign(Self.vectors[0])
        #expect(
            vanilla.canonicalRequest
                == "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(Self.emptyHash)")
        #expect(
            vanilla.stringToSign
                == "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        )
        let keyCase = Self.sign(try #require(Self.vectors.first { $0.name == "get-vanilla-query-order-key-case" }))
        #expect(keyCase.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2] == "Param1=value1&Param2=value2")
        #expect(keyCase.stringToSign.hasSuffix("\n816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"))
        let utf8 = Self.sign(try #require(Self.vectors.first { $0.name == "get-vanilla-query-order-encoded" }))
        #expect(utf8.canonicalRequest.contains("\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n"))
        let trimmed = Self.sign(try #require(Self.vectors.first { $0.name == "get-header-value-trim" }))
        #expect(trimmed.canonicalRequest.contains("\nmy-header1:value1\nmy-header2:\"a b c\"\n"))
        // The payload hash is the body's SHA-256.
        #expect(SigV4Signer.hexSHA256(Data("Param1=value1".utf8)) == "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e")
        #expect(SigV4Signer.emptyPayloadHash == Self.emptyHash)
    }

    @Test("the signing key is AWS's documented example's")
    func signingKey() {
        // AWS's documentation derives this key for the secret below, 20120215, us-east-1, iam.
        let key = SigV4Signer.signingKey(
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", dateStamp: "20120215", region: "us-east-1", service: "iam")
        let hex = key.withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() }
        #expect(hex == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    // MARK: botocore

    /// SQS JSON requests as the client sends them: signed here and by botocore's SigV4Auth,
    /// for fixed credentials and time, with and without a session token.
    struct BotocoreCase: Codable {
        var url: String
        var host: String
        var region: String
        var target: String
        var body: String
        var key: String
        var secret: String
        var token: String?
    }

    static let botocoreScript = #"""
        import datetime, json, sys
        import botocore.auth
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        fixed = datetime.datetime(2026, 3, 14, 15, 9, 26, tzinfo=datetime.timezone.utc)
        botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed
        with open(sys.argv[1]) as f:
            cases = json.load(f)
        out = []
        for case in cases:
            request = AWSRequest(method="POST", url=case["url"], data=case["body"].encode("utf-8"),
                                 headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": case["target"]})
            credentials = Credentials(case["key"], case["secret"], case.get("token"))
            SigV4Auth(credentials, "sqs", case["region"]).add_auth(request)
            out.append({"authorization": request.headers["Authorization"], "date": request.headers["X-Amz-Date"],
                        "token": request.headers.get("X-Amz-Security-Token")})
        print(json.dumps(out))
        """#

    @Test("the same Authorization header as botocore's SigV4Auth")
    func matchesBotocore() async throws {
        guard let python = BuildVenv.python else {
            TestSupport.unavailable("matchesBotocore", "no .build-venv/bin/python (run scripts/python-venv.sh)")
            return
        }
        let key = "AKIAIOSFODNN7EXAMPLE"
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        let token = "FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKEN+/=="
        let cases = [
            BotocoreCase(
                url: "https://sqs.us-east-1.amazonaws.com/", host: "sqs.us-east-1.amazonaws.com", region: "us-east-1",
                target: "AmazonSQS.SendMessage",
                body: #"{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/orders","MessageBody":"hello"}"#, key: key,
                secret: secret),
            BotocoreCase(
                url: "https://sqs.eu-west-1.amazonaws.com/", host: "sqs.eu-west-1.amazonaws.com", region: "eu-west-1",
                target: "AmazonSQS.ReceiveMessage",
                body:
                    #"{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/123456789012/jobs","WaitTimeSeconds":20,"MaxNumberOfMessages":10}"#,
                key: key, secret: secret, token: token),
            BotocoreCase(
                url: "http://127.0.0.1:4566/", host: "127.0.0.1:4566", region: "us-east-1", target: "AmazonSQS.SendMessageBatch",
                body: #"{"QueueUrl":"http://127.0.0.1:4566/000000000000/q","Entries":[{"Id":"1","MessageBody":"ünïcødé ✓"}]}"#, key: "test",
                secret: "test", token: "session token"),
        ]
        let directory = try TemporaryDirectory()
        let input = try directory.write("cases.json", String(decoding: try JSONEncoder().encode(cases), as: UTF8.self))
        let script = try directory.write("sign.py", Self.botocoreScript)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, input]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            if stderr.contains("No module named 'botocore'") {
                TestSupport.unavailable("matchesBotocore", "botocore is not installed in .build-venv (run scripts/python-venv.sh)")
                return
            }
            Issue.record("the botocore script failed (\(process.terminationStatus)): \(stderr)")
            return
        }
        struct Answer: Decodable {
            var authorization: String
            var date: String
            var token: String?
        }
        let answers = try JSONDecoder().decode([Answer].self, from: stdout)
        try #require(answers.count == cases.count)

        let date = try Date("2026-03-14T15:09:26Z", strategy: .iso8601)
        for (index, botocoreCase) in cases.enumerated() {
            let credentials = AWSCredentials(
                accessKeyID: botocoreCase.key, secretAccessKey: botocoreCase.secret, sessionToken: botocoreCase.token)
            let signer = SigV4Signer(credentials: credentials, region: botocoreCase.region, service: "sqs")
            let signed = signer.sign(
                SigV4Signer.Request(
                    method: "POST", host: botocoreCase.host, path: "/",
                    headers: [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", botocoreCase.target)],
                    body: Data(botocoreCase.body.utf8)),
                date: date)
            #expect(signed.authorization == answers[index].authorization, "case \(index): \(botocoreCase.target)")
            #expect(signed.amzDate == answers[index].date)
            #expect(signed.headers.first { $0.name == "X-Amz-Security-Token" }?.value == answers[index].token)
        }
        // A different secret gives a different signature (the comparison can fail).
        var wrong = AWSCredentials(accessKeyID: key, secretAccessKey: secret + "x")
        wrong.sessionToken = nil
        let other = SigV4Signer(credentials: wrong, region: "us-east-1", service: "sqs").sign(
            SigV4Signer.Request(
                method: "POST", host: cases[0].host, path: "/",
                headers: [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", cases[0].target)], body: Data(cases[0].body.utf8)
            ),
            date: date)
        #expect(other.authorization != answers[0].authorization)
    }
}
