import Foundation
import Testing
import Yams

/// The static check of `Dockerfile` and `docker-compose.yml` (no container engine runs here):
/// the compose stack's services, health checks and start order, and every `baton` subcommand,
/// flag and `BATON_*` variable they use, against the real binary's `--help` and docs/cli.md's
/// settings table. A renamed flag or subcommand fails here.
extension EndToEnd {
    @Suite(.serialized) struct DeployFilesTests {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()

        static func text(_ name: String) throws -> String {
            try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
        }

        // MARK: The compose file

        /// `docker-compose.yml` parsed (YAML merge keys resolved, as compose does).
        static func compose() throws -> [String: Any] {
            try #require(try Yams.load(yaml: text("docker-compose.yml")) as? [String: Any])
        }

        static func services() throws -> [String: [String: Any]] {
            let services = try #require(try compose()["services"] as? [String: Any])
            return try services.mapValues { try #require($0 as? [String: Any]) }
        }

        static func strings(_ value: Any?) -> [String]? {
            (value as? [Any])?.map { "\($0)" }
        }

        /// A service's `depends_on` as service → condition.
        static func dependsOn(_ service: [String: Any]) -> [String: String] {
            guard let map = service["depends_on"] as? [String: Any] else { return [:] }
            return map.mapValues { (($0 as? [String: Any])?["condition"] as? String) ?? "" }
        }

        @Test func theStackHasItsServicesInOrder() throws {
            let services = try Self.services()
            #expect(Set(services.keys) == ["postgres", "migrate", "node1", "node2", "worker1", "worker2"])

            let postgres = try #require(services["postgres"])
            let pgCheck = try #require(postgres["healthcheck"] as? [String: Any])
            #expect(Self.strings(pgCheck["test"])?.first == "CMD-SHELL")
            #expect(Self.strings(pgCheck["test"])?.last?.hasPrefix("pg_isready") == true)

            let migrate = try #require(services["migrate"])
            #expect(Self.strings(migrate["command"]) == ["migrate"])
            #expect(Self.dependsOn(migrate) == ["postgres": "service_healthy"])
            #expect(migrate["restart"] as? String == "no", "a one-shot job")

            for name in ["node1", "node2"] {
                let node = try #require(services[name])
                #expect(Self.strings(node["command"]) == ["serve"], "\(name)")
                #expect(Self.dependsOn(node) == ["migrate": "service_completed_successfully"], "\(name)")
                let check = try #require(node["healthcheck"] as? [String: Any], "\(name)")
                let test = try #require(Self.strings(check["test"]))
                #expect(Array(test.prefix(3)) == ["CMD", "baton", "health"], "\(name): \(test)")
                let environment = try #require(node["environment"] as? [String: Any])
                #expect((environment["BATON_STORE"] as? String)?.hasPrefix("postgres://") == true, "\(name)")
                #expect(environment["BATON_AUTH_TOKENS"] != nil, "\(name): a node on 0.0.0.0 needs tokens")
                // The health check asks the port the node listens on.
                let port = try #require(environment["BATON_HTTP_PORT"].map { "\($0)" })
                #expect(test.contains("http://127.0.0.1:\(port)"), "\(name): \(test)")
            }
            // Both nodes share the store the migration prepared.
            let stores = try ["migrate", "node1", "node2"].map {
                try #require(services[$0]?["environment"] as? [String: Any])["BATON_STORE"] as? String
            }
            #expect(Set(stores).count == 1)

            var preferred: Set<String> = []
            for name in ["worker1", "worker2"] {
                let worker = try #require(services[name])
                let command = try #require(Self.strings(worker["command"]))
                #expect(command.first == "worker", "\(name)")
                #expect(Self.dependsOn(worker) == ["node1": "service_healthy", "node2": "service_healthy"], "\(name)")
                let servers = zip(command, command.dropFirst()).filter { $0.0 == "--server" }.map(\.1)
                #expect(
                    Set(servers) == ["http://node1:8080", "http://node2:8080"] && servers.count == 2, "\(name): claims from both nodes")
                preferred.insert(servers.first ?? "")
                let environment = try #require(worker["environment"] as? [String: Any])
                #expect(environment["BATON_TOKEN"] != nil, "\(name): the nodes require a token")
            }
            #expect(preferred.count == 2, "the workers prefer different nodes")
        }

        /// Each `baton` command line of the stack: the service's command after the image's
        /// entrypoint (`baton`), and each health check that runs `baton`.
        static func composeCommandLines() throws -> [(where: String, argv: [String])] {
            var lines: [(String, [String])] = []
            let image = try Self.dockerfile()
            for (name, service) in try services().sorted(by: { $0.key < $1.key }) {
                guard let build = service["build"] as? String, build == "." else { continue }
                let entrypoint = strings(service["entrypoint"]) ?? image.entrypoint
                if let command = strings(service["command"]) {
                    lines.append(("\(name): command", entrypoint + command))
                }
                if let check = service["healthcheck"] as? [String: Any], let test = strings(check["test"]), test.first == "CMD" {
                    lines.append(("\(name): healthcheck", Array(test.dropFirst())))
                }
            }
            return lines
        }

        @Test func everySubcommandAndFlagTheStackUsesExists() async throws {
            let lines = try Self.composeCommandLines()
            #expect(lines.count == 7, "migrate, 2 nodes and their checks, 2 workers: \(lines.map(\.where))")
            for line in lines {
                #expect(line.argv.first == "baton", "\(line.where): \(line.argv)")
                let problems = try await Self.unknownSubcommandsAndFlags(Array(line.argv.dropFirst()))
                #expect(problems.isEmpty, "\(line.where): \(problems)")
            }
        }

        @Test func everyVariableTheStackSetsIsASetting() throws {
            let documented = try Self.documentedVariables()
            for (name, service) in try Self.services() where service["build"] != nil {
                let environment = try #require(service["environment"] as? [String: Any], "\(name)")
                for variable in environment.keys where variable.hasPrefix("BATON_") {
                    #expect(documented.contains(variable), "\(name): \(variable) is no setting of docs/cli.md")
                }
            }
        }

        /// The `BATON_*` variables of docs/cli.md's settings table (which ConfigurationKeysTests
        /// holds to the keys the code reads).
        static func documentedVariables() throws -> Set<String> {
            let table = try text("docs/cli.md").components(separatedBy: "| YAML key |")[1].components(separatedBy: "\n\n")[0]
            var names: Set<String> = []
            for row in table.split(separator: "\n").dropFirst(2) {
                let cells = row.split(separator: "|", omittingEmptySubsequences: false)
                guard cells.count > 2 else { continue }
                for (i, part) in cells[2].components(separatedBy: "`").enumerated() where i % 2 == 1 && part.hasPrefix("BATON_") {
                    names.insert(part)
                }
            }
            return names
        }

        // MARK: The Dockerfile

        struct Dockerfile {
            /// Instructions, continuation lines joined, comments left out: (keyword, arguments).
            var instructions: [(keyword: String, arguments: String)]
            var entrypoint: [String]
            var cmd: [String]
            var healthcheck: [String]

            func all(_ keyword: String) -> [String] { instructions.filter { $0.keyword == keyword }.map(\.arguments) }
        }

        static func dockerfile() throws -> Dockerfile {
            var instructions: [(String, String)] = []
            var current = ""
            for raw in try text("Dockerfile").split(separator: "\n", omittingEmptySubsequences: false) {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.hasPrefix("#") || (line.isEmpty && current.isEmpty) { continue }
                if line.hasSuffix("\\") {
                    current += line.dropLast() + " "
                    continue
                }
                current += line
                let parts = current.split(separator: " ", maxSplits: 1)
                if let keyword = parts.first {
                    instructions.append((keyword.uppercased(), parts.count > 1 ? String(parts[1]) : ""))
                }
                current = ""
            }
            func exec(_ text: String) throws -> [String] {
                try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String], "exec form: \(text)")
            }
            var file = Dockerfile(instructions: instructions, entrypoint: [], cmd: [], healthcheck: [])
            file.entrypoint = try exec(try #require(file.all("ENTRYPOINT").last))
            file.cmd = try exec(try #require(file.all("CMD").last))
            let check = try #require(file.all("HEALTHCHECK").last)
            let command = try #require(check.range(of: "CMD "), "HEALTHCHECK … CMD [...]")
            file.healthcheck = try exec(String(check[command.upperBound...]))
            return file
        }

        @Test func theImageRunsBatonAsItsOwnUserAndChecksItsHealth() async throws {
            let file = try Self.dockerfile()
            #expect(file.entrypoint == ["baton"])
            #expect(Array(file.healthcheck.prefix(2)) == ["baton", "health"], "\(file.healthcheck)")
            for argv in [file.entrypoint + file.cmd, file.healthcheck] {
                let problems = try await Self.unknownSubcommandsAndFlags(Array(argv.dropFirst()))
                #expect(problems.isEmpty, "\(argv): \(problems)")
            }
            // Not root; the port the node listens on is exposed and asked by the health check.
            let user = try #require(file.all("USER").last)
            #expect(!user.hasPrefix("root") && !user.hasPrefix("0"), "\(user)")
            let environment = file.all("ENV").joined(separator: " ")
            #expect(environment.contains("BATON_HTTP_PORT=8080") && environment.contains("BATON_HTTP_HOST=0.0.0.0"))
            #expect(file.all("EXPOSE") == ["8080"])
            #expect(file.healthcheck.contains("http://127.0.0.1:8080"))
            // The SQLite database is on the volume.
            #expect(environment.contains("BATON_STORE=sqlite:/var/lib/baton/"))
            #expect(file.all("VOLUME") == [#"["/var/lib/baton"]"#])
            for variable in environment.split(separator: " ").compactMap({ $0.split(separator: "=").first }) {
                #expect(try Self.documentedVariables().contains(String(variable)), "\(variable)")
            }
        }

        /// The build stage builds the product in release mode with the Swift runtime linked in,
        /// with the toolchain the tests were built with, and the image carries the PostgreSQL
        /// migrations' bundle next to the binary, under the name the build gives it.
        @Test func theImageCarriesTheBinaryAndTheMigrationsBundle() async throws {
            let file = try Self.dockerfile()
            let runs = file.all("RUN").joined(separator: "\n")
            #expect(runs.contains("swift build -c release --product baton --static-swift-stdlib"))
            let bundle = "baton_BatonPostgres.resources"
            #expect(runs.contains("cp -R \"$BIN\"/*.resources /staging/"))
            #expect(runs.contains("test -d /staging/\(bundle)/Migrations"), "the build stops if the bundle is missing")
            #expect(file.all("COPY").contains("--from=build /staging/ /usr/local/bin/"))
            let built = URL(fileURLWithPath: BatonBinary.path).deletingLastPathComponent().appendingPathComponent(bundle)
            #expect(FileManager.default.fileExists(atPath: built.appendingPathComponent("Migrations").path), "\(built.path)")

            let froms = file.all("FROM")
            #expect(froms.first == "swift:${SWIFT_VERSION}-bookworm AS build")
            #expect(froms.last == "debian:bookworm-slim", "the runtime's distribution is the build image's")
            let arg = try #require(file.all("ARG").first { $0.hasPrefix("SWIFT_VERSION=") })
            let version = String(arg.dropFirst("SWIFT_VERSION=".count))
            let swift = try await runToEnd("/usr/bin/env", ["swift", "--version"])
            #expect(swift.output.contains("Swift version \(version) "), "the image builds with \(version): \(swift.output)")
        }

        // MARK: The binary's own word

        /// The subcommand path and flags of `arguments` (after `baton`) that the binary's
        /// `--help` does not know: an empty list when all exist.
        static func unknownSubcommandsAndFlags(_ arguments: [String]) async throws -> [String] {
            var path: [String] = []
            var rest = arguments[...]
            // Words before the first flag are subcommands, as long as `--help` knows them.
            while let word = rest.first, !word.hasPrefix("-") {
                let help = try await baton(path + [word, "--help"])
                guard help.status == 0, help.stdout.contains("USAGE: baton \((path + [word]).joined(separator: " "))") else { break }
                path.append(word)
                rest = rest.dropFirst()
            }
            if path.isEmpty, let word = rest.first, !word.hasPrefix("-") { return ["subcommand \(word)"] }
            let help = try await baton(path + ["--help"])
            guard help.status == 0 else { return ["baton \(path.joined(separator: " ")) --help failed: \(help.stderr)"] }
            let known = Self.flags(inHelp: help.stdout)
            return rest.filter { $0.hasPrefix("--") }.map { String($0.split(separator: "=", maxSplits: 1)[0]) }
                .filter { !known.contains($0) }.map { "baton \(path.joined(separator: " ")) has no \($0)" }
        }

        /// The `--flags` a help text lists: the synopsis of each option line (`-h, --help`,
        /// `--server <server>`), not the flags its descriptions mention.
        static func flags(inHelp help: String) -> Set<String> {
            var flags: Set<String> = []
            for line in help.split(separator: "\n") {
                let trimmed = line.drop { $0 == " " }
                guard trimmed.hasPrefix("-") else { continue }
                let synopsis = trimmed.components(separatedBy: "  ")[0]
                let words = synopsis.split { !($0.isLetter || $0.isNumber || $0 == "-") }
                flags.formUnion(words.filter { $0.hasPrefix("--") && $0.count > 2 }.map(String.init))
            }
            return flags
        }

        /// The check itself catches what it is for: a flag or subcommand the binary does not have.
        @Test func theCheckCatchesARenamedFlagOrSubcommand() async throws {
            #expect(try await Self.unknownSubcommandsAndFlags(["serve", "--host", "0.0.0.0"]).isEmpty)
            #expect(try await Self.unknownSubcommandsAndFlags(["health", "--server", "http://x:1", "--timeout", "3"]).isEmpty)
            #expect(try await Self.unknownSubcommandsAndFlags(["schedule", "list", "--server", "http://x:1"]).isEmpty)
            #expect(try await Self.unknownSubcommandsAndFlags(["worker", "--servers", "http://x:1"]) == ["baton worker has no --servers"])
            #expect(try await Self.unknownSubcommandsAndFlags(["health", "--time-out=3"]) == ["baton health has no --time-out"])
            #expect(try await Self.unknownSubcommandsAndFlags(["healthcheck", "--server", "x"]) == ["subcommand healthcheck"])
        }

    }
}
