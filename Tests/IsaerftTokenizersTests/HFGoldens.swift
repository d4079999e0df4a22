import Foundation
import IsaerftTestSupport

/// `fixtures/tokenizer/gpt2_goldens.json`, written by `scripts/make_tokenizer_fixtures.py` with
/// Hugging Face `tokenizers` (versions inside the file) from the real GPT-2 `tokenizer.json`.
struct HFGoldens: Decodable {
    struct Case: Decodable {
        var text: String
        var ids: [Int]
        var idsNoSpecial: [Int]
        var decoded: String
        var decodedSkip: String
        enum CodingKeys: String, CodingKey {
            case text, ids, idsNoSpecial = "ids_no_special", decoded, decodedSkip = "decoded_skip"
        }
    }
    struct DecodeCase: Decodable {
        var ids: [Int]
        var decoded: String
        var decodedSkip: String?
        enum CodingKeys: String, CodingKey { case ids, decoded, decodedSkip = "decoded_skip" }
    }
    struct TextIDs: Decodable { var text: String; var ids: [Int] }
    struct Synthetic: Decodable {
        var ignoreMerges: Bool
        var tokenizerJSON: String
        var cases: [TextIDs]
        enum CodingKeys: String, CodingKey { case ignoreMerges = "ignore_merges", tokenizerJSON = "tokenizer_json", cases }
    }
    struct AddedCase: Decodable {
        var text: String
        var ids: [Int]
        var idsNoSpecial: [Int]
        var decodedSkip: String
        enum CodingKeys: String, CodingKey { case text, ids, idsNoSpecial = "ids_no_special", decodedSkip = "decoded_skip" }
    }
    struct Added: Decodable {
        var entriesJSON: String
        var cases: [AddedCase]
        enum CodingKeys: String, CodingKey { case entriesJSON = "entries_json", cases }
    }

    var versions: [String: String]
    var cases: [Case]
    var decodeCases: [DecodeCase]
    var prefixSpace: [TextIDs]
    var ignoreMerges: [Synthetic]
    var addedTokens: Added

    enum CodingKeys: String, CodingKey {
        case versions, cases, decodeCases = "decode_cases", prefixSpace = "prefix_space"
        case ignoreMerges = "ignore_merges", addedTokens = "added_tokens"
    }

    static let path = "tokenizer/gpt2_goldens.json"
    static var available: Bool { SharedData.fixture(path) != nil }

    static func load() throws -> HFGoldens {
        guard let url = SharedData.fixture(path) else { throw GPT2Files.MissingSharedFile(message: "fixtures/\(path) is missing") }
        return try JSONDecoder().decode(HFGoldens.self, from: Data(contentsOf: url))
    }
}

/// Byte-level editing of JSON text (exact: no round trip through `String`-keyed dictionaries).
enum JSONPatch {
    /// `data` with the first occurrence of `pattern` replaced, or nil when absent.
    static func replacingFirst(_ pattern: String, with replacement: String, in data: Data) -> Data? {
        let bytes = [UInt8](data), p = Array(pattern.utf8)
        guard !p.isEmpty, bytes.count >= p.count else { return nil }
        for i in 0...(bytes.count - p.count) where bytes[i] == p[0] && bytes[i..<(i + p.count)].elementsEqual(p) {
            return Data(bytes[..<i] + Array(replacement.utf8) + bytes[(i + p.count)...])
        }
        return nil
    }

    /// A JSON string literal for raw UTF-8 bytes (only `"`, `\` and control bytes need escapes).
    static func stringLiteral(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var out: [UInt8] = [0x22]
        for b in bytes {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0..<0x20: out += Array(String(format: "\\u%04x", b).utf8)
            default: out.append(b)
            }
        }
        out.append(0x22)
        return out
    }
}
