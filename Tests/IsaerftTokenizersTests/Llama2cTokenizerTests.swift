import Foundation
import IsaerftTestSupport
import IsaerftTokenizers
import Testing

/// llama2.c `tokenizer.bin` (stories260K `tok512.bin`, data.md §2) against a Python transcription of
/// `run.c` encode/decode (`fixtures/tokenizer/llama2c_tok512_cases.json`) and the greedy reference.
@Suite("llama2.c tokenizer.bin")
struct Llama2cTokenizerTests {
    static var available: Bool { SharedData.url("stories260K/tok512.bin") != nil }
    static var skip: Comment { Comment(rawValue: SharedData.missingMessage("stories260K/tok512.bin")) }

    func load(addBOS: Bool = true) throws -> Llama2cTokenizer {
        try Llama2cTokenizer(url: SharedData.url("stories260K/tok512.bin")!, vocabularySize: 512, addBOS: addBOS)
    }

    @Test("file layout as data.md describes it", .enabled(if: available, skip))
    func layout() throws {
        let t = try load()
        #expect(t.vocabularySize == 512 && t.maxTokenLength == 7 && t.addsBOS)
        #expect(t.pieces[0] == Array("<unk>".utf8) && t.pieces[1] == Array("\n<s>\n".utf8) && t.pieces[2] == Array("\n</s>\n".utf8))
        #expect(t.pieces[3] == Array("<0x00>".utf8) && t.pieces[258] == Array("<0xFF>".utf8))
        #expect(t.pieces[259] == Array(" t".utf8) && t.pieces[260] == Array("he".utf8) && t.pieces[410] == [0x20])
        #expect(t.scores[259] == 0 && t.scores[260] == -1 && t.scores[511] == -252)
        // nil vocabulary size: records until the end of the file.
        #expect(try Llama2cTokenizer(url: SharedData.url("stories260K/tok512.bin")!, vocabularySize: nil).vocabularySize == 512)
    }

    @Test("encode and decode match run.c (Python transcription)",
          .enabled(if: available && SharedData.fixture("tokenizer/llama2c_tok512_cases.json") != nil, skip))
    func runC() throws {
        let goldens = try Fixtures2.load(Fixtures2.Llama2c.self, "llama2c_tok512_cases.json")
        let t = try load(), noBOS = try load(addBOS: false)
        #expect(goldens.maxTokenLength == 7 && goldens.piece410 == " " && goldens.score511 == -252)
        for c in goldens.cases {
            let label = String(reflecting: c.text)
            #expect(try t.encode(c.text) == c.idsBOS, "\(label)")
            #expect(try t.encode(c.text, parseSpecial: true, addSpecialTokens: false) == c.ids, "\(label) no BOS")
            #expect(try noBOS.encode(c.text) == c.ids, "\(label) addBOS false")
            #expect(try t.encode(c.text, bos: true, eos: true) == c.idsBOSEOS, "\(label) BOS+EOS")
            #expect(try t.decode(c.ids) == String(decoding: c.decodedBytes, as: UTF8.self), "\(label) decode")
            #expect(try c.ids.flatMap { try t.tokenBytes($0) } == c.decodedBytes, "\(label) tokenBytes")
            #expect(try t.decode(c.idsBOS, skipSpecial: true) == c.decodedAfterBOS, "\(label) decode after BOS")
        }
    }

    @Test("greedy reference (data.md §2): pieces of line 3's ids spell line 4; decode and re-encode",
          .enabled(if: available && SharedData.url("stories260K/greedy-reference.txt") != nil, skip))
    func greedyReference() throws {
        let t = try load()
        let lines = try String(contentsOf: SharedData.url("stories260K/greedy-reference.txt")!, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let ids = try JSONDecoder().decode([Int].self, from: Data(lines[2].dropFirst("ids ".count).utf8))
        #expect(ids.count == 256 && Array(ids.prefix(4)) == [403, 407, 261, 378])
        // Line 4 is a Python literal 'text …' of the raw pieces (byte tokens unconverted, e.g. "<0x0A>").
        var literal = lines[3].dropFirst("text '".count).dropLast()
        literal = Substring(literal.replacingOccurrences(of: "\\'", with: "'").replacingOccurrences(of: "\\\\", with: "\\"))
        let rawPieces = ids.flatMap { t.pieces[$0] }
        #expect(rawPieces == Array(literal.utf8))
        let decoded = try t.decode([1] + ids, skipSpecial: true)
        #expect(decoded.hasPrefix("Once upon a time, there was a little girl named Lily. She loved to play outside in the park."))
        #expect(decoded.contains("\n") && !decoded.contains("<0x0A>"))
        let goldens = try Fixtures2.load(Fixtures2.Llama2c.self, "llama2c_tok512_cases.json")
        #expect(try t.decode([1] + Array(ids.prefix(40)), skipSpecial: true) == goldens.referenceFirst40Decoded)
        // The generated ids are also how run.c tokenises their own text (first sentence).
        #expect(try t.encode("Once upon a time, there was a little girl named Lily.") == [1] + Array(ids.prefix(15)))
    }

    @Test("a folder holding tokenizer.bin loads through Tokenizers.load(directory:)", .enabled(if: available, skip))
    func folder() throws {
        let dir = try temporaryDirectory()
        try FileManager.default.copyItem(at: SharedData.url("stories260K/tok512.bin")!, to: dir.appendingPathComponent("tokenizer.bin"))
        let t = try Tokenizers.load(directory: dir)
        #expect(t is Llama2cTokenizer && t.vocabularySize == 512 && t.bosTokenID == 1 && t.eosTokenID == 2)
        #expect(try t.encode("Once upon a time") == [1, 403, 407, 261, 378])
    }

    @Test("truncated and inconsistent files throw one-line errors naming the byte")
    func errors() throws {
        var file = Data()
        func i32(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { file.append(contentsOf: $0) } }
        func f32(_ v: Float) { withUnsafeBytes(of: v.bitPattern.littleEndian) { file.append(contentsOf: $0) } }
        i32(4)
        for (score, piece) in [(Float(0), "<unk>"), (0, "\n<s>\n"), (0, "\n</s>\n"), (-1, " "), (-2, "a")] {
            f32(score); i32(Int32(piece.utf8.count)); file.append(contentsOf: Array(piece.utf8))
        }
        let t = try Llama2cTokenizer(data: file, vocabularySize: 5)
        #expect(try t.encode("aa") == [1, 3, 4, 4])
        // No byte tokens in this vocabulary: bytes fall back to <unk> instead of ids past the end.
        #expect(try t.encode("\u{E9}", parseSpecial: false, addSpecialTokens: false) == [3, 0, 0])
        #expect(throws: TokenizerError.malformedBinary(file: "tokenizer.bin", offset: file.count, reason: "file ends inside a 4-byte field")) {
            try Llama2cTokenizer(data: file, vocabularySize: 6)
        }
        let e = #expect(throws: TokenizerError.self) { try Llama2cTokenizer(data: file.prefix(40), vocabularySize: 5) }
        #expect(e?.description == "tokenizer.bin: at byte 30: token 2: length 6 does not fit in the file (40 bytes)",
                "\(String(describing: e))")
        #expect(throws: TokenizerError.idOutOfRange(id: 5, vocabularySize: 5)) { try t.decode([1, 5]) }
        #expect(throws: TokenizerError.self) { try Llama2cTokenizer(data: Data([1, 0]), vocabularySize: 5) }
    }
}
