import ArgumentParser
import Foundation
import IsaerftTokenizers

struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize", abstract: "Print the token ids of a text as a JSON array.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The text to tokenize.") var text: String
    @Flag(name: .customLong("no-special"), help: "Treat special-token strings such as <|endoftext|> as plain text.")
    var noSpecial = false
    @Flag(help: "Print a JSON object with ids and token strings.") var json = false

    func run() async throws {
        try await reportingErrors {
            let loaded = try await modelOptions.load()
            let tok = try loaded.requireTokenizer()
            let ids = try tok.encode(text, parseSpecial: !noSpecial)
            if json {
                let pieces = try ids.map { String(decoding: try tok.tokenBytes($0), as: UTF8.self) }
                Output.json(["ids": ids, "tokens": pieces, "count": ids.count])
            } else {
                Output.line("[" + ids.map(String.init).joined(separator: ", ") + "]")
            }
        }
    }
}
