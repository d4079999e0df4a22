import Foundation
import IsaerftTokenizers
import Testing

/// `SentencePieceBPETokenizer` from GGUF-style arrays on a hand-made vocabulary (expected ids derived by
/// hand from llama.cpp's SPM algorithm, tokenizers.md §3), and its errors.
@Suite("SentencePiece BPE (GGUF arrays)")
struct SentencePieceTests {
    /// ids: 0 <unk> 1 <s> 2 </s> 3 <0xC3> 4 <0xA9> 5 ▁ 6 a 7 b 8 c 9 ab 10 bc 11 abc 12 ▁a 13 "\n" 14 <x> 15 cb
    static let tokens: [String] = ["<unk>", "<s>", "</s>", "<0xC3>", "<0xA9>", "\u{2581}", "a", "b", "c", "ab", "bc", "abc",
                                   "\u{2581}a", "\n", "<x>", "cb"]
    static let types: [Int32] = [2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 4, 3, 1]
    static let scores: [Float] = [0, 0, 0, 0, 0, -10, -10, -10, -10, -1, -0.5, -2, -3, 0, 0, -0.5]

    func make(addBOS: Bool = false, addSpacePrefix: Bool = false) throws -> SentencePieceBPETokenizer {
        try SentencePieceBPETokenizer(tokens: Self.tokens.map { Array($0.utf8) }, scores: Self.scores, tokenTypes: Self.types,
                                      bosID: 1, eosID: 2, unkID: 0, padID: nil, addBOS: addBOS, addSpacePrefix: addSpacePrefix)
    }

    @Test("highest score first, stale pairs skipped, ties leftmost, byte fallback, user-defined and control tokens")
    func algorithm() throws {
        let t = try make()
        #expect(!t.addsBOS && t.vocabularySize == 16)
        #expect(try t.encode("abc") == [11])           // bc (-0.5) before ab (-1), then a+bc = abc (-2)
        #expect(try t.encode("ab c") == [9, 5, 8])      // "ab▁c": no pair with ▁ is a token
        #expect(try t.encode(" a") == [12])
        #expect(try t.encode("bcb") == [10, 7])         // bc and cb tie at -0.5: the left one wins
        #expect(try t.encode("\u{E9}") == [3, 4])       // é is no token: its bytes
        #expect(try t.encode("a\nb") == [6, 13, 7])     // user-defined "\n" always split out
        #expect(try t.encode("<x>a") == [14, 6])        // control token parsed by default
        #expect(try t.encode("<x>a", parseSpecial: false) == [0, 0, 0, 6])   // no byte tokens for < x >: <unk>
        #expect(try t.encode("") == [])
        #expect(try t.decode([9, 5, 8, 3, 4]) == "ab c\u{E9}")
        #expect(try t.decode([1, 11, 14], skipSpecial: true) == "abc" && t.decode([1, 11]) == "<s>abc")
        #expect(try t.tokenBytes(5) == [0x20] && t.tokenBytes(4) == [0xA9])
    }

    @Test("add_bos_token and add_space_prefix (Llama 2 style)")
    func bosAndSpacePrefix() throws {
        let t = try make(addBOS: true, addSpacePrefix: true)
        #expect(t.addsBOS && t.bosTokenID == 1)
        // "▁abc": bc, then abc (-2) before ▁a (-3), whose right side has meanwhile grown: stale.
        #expect(try t.encode("abc") == [1, 5, 11])
        #expect(try t.encode("abc", parseSpecial: true, addSpecialTokens: false) == [5, 11])
        #expect(try t.encode("a<x>a") == [1, 12, 14, 12])   // the prefix goes before every text fragment
        #expect(try t.decode([5, 11]) == "abc")              // one leading space stripped on decode
        #expect(try t.encode("") == [1])
    }

    @Test("inconsistent arrays are refused with one-line reasons")
    func errors() throws {
        let bytes = Self.tokens.map { Array($0.utf8) }
        func reason(_ body: () throws -> SentencePieceBPETokenizer) -> String {
            do { _ = try body(); return "no error" } catch { return "\(error)" }
        }
        #expect(reason { try SentencePieceBPETokenizer(tokens: bytes, scores: Array(Self.scores.dropLast()), tokenTypes: Self.types,
                                                       bosID: 1, eosID: 2, unkID: 0, padID: nil, addBOS: true, addSpacePrefix: false) }
                == "GGUF vocabulary: invalid vocabulary: tokens has 16 entries, scores 15, token_type 16")
        #expect(reason { try SentencePieceBPETokenizer(tokens: bytes, scores: Self.scores, tokenTypes: Self.types,
                                                       bosID: 16, eosID: 2, unkID: 0, padID: nil, addBOS: true, addSpacePrefix: false) }
                == "GGUF vocabulary: invalid vocabulary: bos token id 16 is outside 0..<16")
        var types = Self.types
        types[7] = 9
        #expect(reason { try SentencePieceBPETokenizer(tokens: bytes, scores: Self.scores, tokenTypes: types,
                                                       bosID: 1, eosID: 2, unkID: 0, padID: nil, addBOS: true, addSpacePrefix: false) }
                == "GGUF vocabulary: invalid vocabulary: token 7 has unknown type 9")
        types = Self.types
        types[6] = 6
        #expect(reason { try SentencePieceBPETokenizer(tokens: bytes, scores: Self.scores, tokenTypes: types,
                                                       bosID: 1, eosID: 2, unkID: 0, padID: nil, addBOS: true, addSpacePrefix: false) }
                == "GGUF vocabulary: invalid vocabulary: byte token 6 is \"a\", not <0xXX>")
        #expect(reason { try SentencePieceBPETokenizer(tokens: [], scores: [], tokenTypes: [],
                                                       bosID: nil, eosID: nil, unkID: nil, padID: nil, addBOS: false, addSpacePrefix: false) }
                == "GGUF vocabulary: invalid vocabulary: no tokens")
        #expect(throws: TokenizerError.idOutOfRange(id: 16, vocabularySize: 16)) { try make().decode([1, 16]) }
    }
}
