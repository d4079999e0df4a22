import Foundation
import IsaerftData
import IsaerftTestSupport
import IsaerftTokenizers
import Testing

/// A whitespace tokenizer for packing tests: each word is its length + 10; BOS is 1.
struct WordTokenizer: TextTokenizer {
    var vocabularySize: Int { 100 }
    var bosTokenID: Int? { 1 }
    var eosTokenID: Int? { 1 }
    var addsBOS: Bool { false }
    func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool) throws -> [Int] {
        text.split(separator: " ").map { $0.count + 10 }
    }
    func decode(_ ids: [Int], skipSpecial: Bool) throws -> String { ids.map(String.init).joined(separator: " ") }
    func tokenBytes(_ id: Int) throws -> [UInt8] { Array(String(id).utf8) }
}

@Suite("Datasets and context packing")
struct DataTests {
    func temp(_ name: String, _ data: Data) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let u = dir.appendingPathComponent(name)
        try data.write(to: u)
        return u
    }

    @Test("JSONL with a text field, malformed lines named by number")
    func jsonl() throws {
        let u = try temp("d.jsonl", Data("{\"text\": \"a b\"}\n\n{\"text\": \"c\", \"x\": 1}\n".utf8))
        #expect(try TextDataset(url: u).documents == ["a b", "c"])
        let bad = try temp("bad.jsonl", Data("{\"text\": \"a\"}\n{\"body\": \"b\"}\n".utf8))
        #expect(throws: DatasetError.malformedLine(bad.path, line: 2, "no string field \"text\"")) { try TextDataset(url: bad) }
    }

    @Test("gzip files are read by content (the real hh-rlhf file)",
          .enabled(if: SharedData.url("preferences/hh-rlhf-harmless-base-test.jsonl.gz") != nil, "../shared/data/preferences is absent"))
    func gzip() throws {
        let u = SharedData.url("preferences/hh-rlhf-harmless-base-test.jsonl.gz")!
        let ds = try TextDataset(url: u, textField: "chosen")
        #expect(ds.documents.count == 2312)
        #expect(ds.documents[0].hasPrefix("\n\nHuman:"))
        // Truncated gzip: a clear error.
        let data = try Data(contentsOf: u)
        let cut = try temp("cut.jsonl.gz", data.prefix(data.count / 2))
        #expect(throws: DatasetError.self) { try TextDataset(url: cut, textField: "chosen") }
    }

    @Test("packing: BOS at the start of every row, separators between documents, short tail dropped")
    func packing() throws {
        let ds = TextDataset(documents: ["a bb ccc", "dddd e"])   // 11 12 13 | 14 11
        let rows = try ContextPacker(contextSize: 3, prependBOS: true, bosTokenID: 1).pack(ds, tokenizer: WordTokenizer())
        // stream: 11 12 13 | 1 14 11 → each row is BOS + the next two tokens.
        #expect(rows == [[1, 11, 12], [1, 13, 1], [1, 14, 11]])
        // A row whose first stream token is already BOS does not get a second one.
        let sep = try ContextPacker(contextSize: 3, prependBOS: true, bosTokenID: 1)
            .pack(TextDataset(documents: ["a bb", "ccc dddd e"]), tokenizer: WordTokenizer())
        #expect(sep == [[1, 11, 12], [1, 13, 14]])
        let plain = try ContextPacker(contextSize: 2, prependBOS: false, bosTokenID: 1).pack(ds, tokenizer: WordTokenizer())
        #expect(plain == [[11, 12], [13, 1], [14, 11]])
        let limited = try ContextPacker(contextSize: 2, prependBOS: false, bosTokenID: 1).pack(ds, tokenizer: WordTokenizer(), maxTokens: 2)
        #expect(limited == [[11, 12]])
    }
}
