import Foundation
import Testing
import IsaerftTestSupport
import IsaerftTokenizers

/// The real GPT-2 tokenizer files in `../shared/data/gpt2-tokenizer/` (data.md §1), loaded once per
/// test process. Tests that need them use `.enabled(if: GPT2Files.available, GPT2Files.skipNote)`.
enum GPT2Files {
    static let vocabPath = "gpt2-tokenizer/vocab.json"
    static let mergesPath = "gpt2-tokenizer/merges.txt"
    static let tokenizerPath = "gpt2-tokenizer/tokenizer.json"
    static let casesInputPath = "gpt2-tokenizer/cases.inp"
    static let casesOutputPath = "gpt2-tokenizer/cases.out"
    static let shakespearePath = "text/tinyshakespeare.txt"

    /// Expected byte sizes (data.md table): a cheap guard against a wrong or truncated copy.
    static let sizes: [String: Int] = [vocabPath: 1_042_301, mergesPath: 456_318, tokenizerPath: 1_355_256,
                                       casesInputPath: 1_943, casesOutputPath: 2_147, shakespearePath: 1_115_394]

    static var available: Bool {
        [vocabPath, mergesPath, tokenizerPath, casesInputPath, casesOutputPath].allSatisfy { SharedData.url($0) != nil }
    }
    static var skipNote: Comment { Comment(rawValue: SharedData.missingMessage("gpt2-tokenizer/")) }

    static func url(_ relative: String) throws -> URL {
        guard let url = SharedData.url(relative) else { throw MissingSharedFile(message: SharedData.missingMessage(relative)) }
        if let expected = sizes[relative] {
            let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? -1
            guard size == expected else {
                throw MissingSharedFile(message: "\(url.path) has \(size) bytes, data.md says \(expected): wrong file")
            }
        }
        return url
    }

    struct MissingSharedFile: Error, CustomStringConvertible { let message: String; var description: String { message } }

    private static let vocabMergesResult = Result<ByteLevelBPETokenizer, any Error> {
        try ByteLevelBPETokenizer(vocabJSON: try url(vocabPath), merges: try url(mergesPath))
    }
    private static let tokenizerJSONResult = Result<ByteLevelBPETokenizer, any Error> {
        try ByteLevelBPETokenizer(tokenizerJSON: try url(tokenizerPath))
    }

    /// GPT-2 loaded from `vocab.json` + `merges.txt`.
    static func fromVocabMerges() throws -> ByteLevelBPETokenizer { try vocabMergesResult.get() }
    /// GPT-2 loaded from `tokenizer.json`.
    static func fromTokenizerJSON() throws -> ByteLevelBPETokenizer { try tokenizerJSONResult.get() }

    enum Loader: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case vocabMerges = "vocab.json + merges.txt", tokenizerJSON = "tokenizer.json"
        var testDescription: String { rawValue }
        func load() throws -> ByteLevelBPETokenizer {
            switch self {
            case .vocabMerges: try GPT2Files.fromVocabMerges()
            case .tokenizerJSON: try GPT2Files.fromTokenizerJSON()
            }
        }
    }

    /// The 46 llama.cpp cases: `cases.inp` split on "\n__ggml_vocab_test__\n" (final empty element
    /// dropped), `cases.out` one line of " id id …" per case (data.md §1).
    static func llamaCppCases() throws -> [(text: String, ids: [Int])] {
        let input = try String(contentsOf: try url(casesInputPath), encoding: .utf8)
        let output = try String(contentsOf: try url(casesOutputPath), encoding: .utf8)
        var texts = Array(input.utf8).splitKeepingEmpty(on: Array("\n__ggml_vocab_test__\n".utf8))
        if texts.last?.isEmpty == true { texts.removeLast() }
        var lines = output.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if lines.last == "" { lines.removeLast() }
        guard texts.count == lines.count else {
            throw MissingSharedFile(message: "cases.inp has \(texts.count) texts, cases.out \(lines.count) lines")
        }
        return zip(texts, lines).map { text, line in
            (String(decoding: text, as: UTF8.self), line.split(separator: " ").map { Int($0)! })
        }
    }
}

extension Collection where Element: Equatable {
    /// Splits on a multi-element separator (every occurrence), keeping empty pieces.
    func splitKeepingEmpty(on separator: [Element]) -> [SubSequence] {
        var out: [SubSequence] = []
        var start = startIndex, i = startIndex
        while i != endIndex {
            if self[i...].starts(with: separator) {
                out.append(self[start..<i])
                i = index(i, offsetBy: separator.count)
                start = i
            } else {
                i = index(after: i)
            }
        }
        out.append(self[start..<endIndex])
        return out
    }
}
