import Foundation
import IsaerftTestSupport
import IsaerftTokenizers
import Testing

/// Unit checks of the pieces: byte table (openai/gpt-2 `bytes_to_unicode`), byte-keyed JSON,
/// the regex scanner (Python `regex` / Oniguruma semantics, tokenizers.md §1.3), and the two merge
/// loops (HF `Word::merge_all`). All comparisons exact.
@Suite("Tokenizer components")
struct ComponentTests {
    @Test("byte ↔ symbol table: bijective, spot values from tokenizers.md §1.2")
    func byteTable() {
        let table = ByteLevelTable.byteToScalar
        #expect(Set(table).count == 256)
        #expect(table[32] == "\u{120}" && table[10] == "\u{10A}" && table[9] == "\u{109}" && table[173] == "\u{143}")
        #expect(table[33] == "!" && table[255] == "\u{FF}" && table[0] == "\u{100}")
        #expect(table.map { String($0) } == SyntheticTokenizer.byteSymbols)
        for b in 0..<256 { #expect(ByteLevelTable.bytes(ofSymbols: ByteLevelTable.byteToSymbolUTF8[b]) == [UInt8(b)]) }
        #expect(ByteLevelTable.bytes(ofSymbols: Array("<|x|>".utf8)) == Array("<|x|>".utf8))
        #expect(ByteLevelTable.bytes(ofSymbols: Array("\u{2581}a".utf8)) == nil)   // ▁ is no byte symbol
    }

    @Test("ByteJSON keeps canonically equivalent keys apart and decodes escapes exactly")
    func byteJSON() throws {
        let text = #"{"\u00e9":1, "e\u0301":2, "\ud83d\ude00":3, "a\"\\\/\n":4, "é":5}"#
        let entries = try ByteJSON.stringToIntObject(Array(text.utf8))
        #expect(entries.map(\.0) == [[0xC3, 0xA9], [0x65, 0xCC, 0x81], [0xF0, 0x9F, 0x98, 0x80],
                                     Array("a\"\\/\n".utf8), [0xC3, 0xA9]])
        #expect(entries.map(\.1) == [1, 2, 3, 4, 5])
        // What a String-keyed dictionary would do (the trap this avoids):
        #expect(Set(["\u{E9}", "e\u{301}"]).count == 1)
        #expect(throws: ByteJSON.ParseError.self) { try ByteJSON.stringToIntObject(Array(#"{"\ud800":1}"#.utf8)) }
        #expect(throws: ByteJSON.ParseError.self) { try ByteJSON.stringToIntObject(Array(#"{"a":1.5}"#.utf8)) }
        #expect(throws: ByteJSON.ParseError.self) { try ByteJSON.stringToIntObject(Array(#"{"a":1} x"#.utf8)) }
        let nested = #"{"x":[1,{"vocab":2}],"model":{"merges":["a b"],"vocab":{"q":7}}}"#
        #expect(try ByteJSON.stringToIntObject(Array(nested.utf8), at: ["model", "vocab"])?.map(\.1) == [7])
        #expect(try ByteJSON.stringToIntObject(Array(nested.utf8), at: ["model", "nope"]) == nil)
    }

    @Test("NFC and NFD added tokens stay distinct tokens")
    func canonicalEquivalence() throws {
        var s = SyntheticTokenizer()
        s.addedTokens = #"[{"id":261,"content":"\u00e9!","normalized":false},{"id":262,"content":"e\u0301!","normalized":false}]"#
        s.extraVocab += ["x", "y"]   // ids 261, 262 exist in the model vocabulary too
        let t = try ByteLevelBPETokenizer(tokenizerJSONData: s.data)
        #expect(try t.encode("\u{E9}!") == [261])
        #expect(try t.encode("e\u{301}!") == [262])
        #expect(t.tokenID(forContent: "\u{E9}!") == 261 && t.tokenID(forContent: "e\u{301}!") == 262)
    }

    func pieces(_ text: String) -> [String] {
        var text = text
        return text.withUTF8 { buf in
            var out: [String] = []
            GPT2PreTokenizer.split(buf) { out.append(String(decoding: buf[$0], as: UTF8.self)) }
            return out
        }
    }

    @Test("GPT-2 regex pieces (expected lists written from Python `regex` semantics)", arguments: [
        ("   Hello", ["  ", " Hello"]),
        ("Hello   ", ["Hello", "   "]),
        ("a \nb", ["a", " ", "\n", "b"]),
        ("\tHello", ["\t", "Hello"]),
        ("I'm it's 'S 're'", ["I", "'m", " it", "'s", " '", "S", " '", "re", "'"]),
        ("''s !'s", ["''", "s", " !'", "s"]),
        ("cafe\u{301} x", ["cafe", "\u{301}", " x"]),
        ("3333 12a", ["3333", " 12", "a"]),
        ("\u{A0}x \u{3000}y", ["\u{A0}", "x", " ", "\u{3000}", "y"]),
        ("\u{1C}\u{1D} z", ["\u{1C}\u{1D}", " z"]),
        (" ", [" "]), ("", []), ("  \n  ", ["  \n  "]),
        ("\u{0663}\u{0664} \u{216B}", ["\u{0663}\u{0664}", " \u{216B}"]),
    ])
    func regexPieces(text: String, expected: [String]) {
        #expect(pieces(text) == expected)
    }

    @Test("merge loops agree: O(n²) scan vs HF heap on GPT-2 merges, random long words",
          .enabled(if: GPT2Files.available, GPT2Files.skipNote))
    func mergeLoopsAgree() throws {
        let t = try GPT2Files.fromVocabMerges()
        let alphabet = Array("the quick  tttheee aaaa 3333 \n\n ing".utf8) + [0xC3, 0xA9, 0xE2, 0x80]
        var rng = SplitMix(seed: 42)
        for trial in 0..<300 {
            let n = 2 + Int(rng.next() % 200)
            var bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            if trial % 3 == 0 { bytes = Array(repeating: bytes[0], count: n) }   // runs like "aaaa…"
            var scan = t.byteSymbolIDs(bytes), heap = scan
            t.bpeMerges.apply(&scan, heapThreshold: .max)
            t.bpeMerges.applyWithHeap(&heap)
            #expect(scan == heap, "trial \(trial)")
        }
    }

    @Test("load(directory:) prefers tokenizer.json and reads tokenizer_config / special_tokens_map",
          .enabled(if: GPT2Files.available, GPT2Files.skipNote))
    func loadDirectory() throws {
        let fm = FileManager.default
        func folder(_ files: [String], config: String? = nil, map: String? = nil) throws -> URL {
            let dir = try temporaryDirectory()
            for f in files {
                try fm.createSymbolicLink(at: dir.appendingPathComponent(f),
                                          withDestinationURL: try GPT2Files.url("gpt2-tokenizer/\(f)"))
            }
            if let config { try Data(config.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json")) }
            if let map { try Data(map.utf8).write(to: dir.appendingPathComponent("special_tokens_map.json")) }
            return dir
        }
        let plain = try Tokenizers.load(directory: try folder(["tokenizer.json"]))
        #expect(plain.bosTokenID == 50256 && plain.eosTokenID == 50256 && plain.vocabularySize == 50257)
        #expect(try plain.encode("Hello world<|endoftext|>") == [15496, 995, 50256])

        let files = try Tokenizers.load(directory: try folder(["vocab.json", "merges.txt"],
            config: #"{"model_max_length": 1024, "bos_token": null, "eos_token": {"content": "<|endoftext|>", "special": true}}"#,
            map: #"{"bos_token": "Hello"}"#))
        #expect(files.bosTokenID == 15496 && files.eosTokenID == 50256)   // legacy map overrides the config

        let modern = try Tokenizers.load(directory: try folder(["vocab.json", "merges.txt"],
            config: #"{"added_tokens_decoder": {}, "bos_token": null}"#, map: #"{"bos_token": "Hello"}"#))
        #expect(modern.bosTokenID == nil && modern.eosTokenID == 50256)     // map ignored when added_tokens_decoder exists

        #expect(throws: TokenizerError.self) {
            try Tokenizers.load(directory: try folder(["tokenizer.json"], config: #"{"eos_token": "<nope>"}"#))
        }
    }
}

/// Seeded generator for test inputs (style.md §4 rule 10).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
