import Foundation
import IsaerftTokenizers
import Testing

/// Unit checks of the tokenizer.json components added for Llama 3 / Qwen2 / Gemma: Split behaviours
/// (HF documentation's example), the regexes (expected pieces from Python `regex`), normalizers,
/// Metaspace, decoder chains. Exact comparisons.
@Suite("Pipeline components")
struct PipelineComponentTests {
    static let l3 = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    func pieces(_ text: String, _ steps: [PreTokenizerStep], startsText: Bool = true) -> [String] {
        var text = text
        return text.withUTF8 { buf in
            var out: [String] = []
            PreTokenizer(steps).run(buf, startsText: startsText) { out.append(String(decoding: $0, as: UTF8.self)) }
            return out
        }
    }

    @Test("Split behaviours on \"the-final--countdown\" (HF SplitDelimiterBehavior docs)", arguments: [
        (SplitBehavior.removed, false, ["the", "final", "countdown"]),
        (.isolated, false, ["the", "-", "final", "-", "-", "countdown"]),
        (.mergedWithPrevious, false, ["the-", "final-", "-", "countdown"]),
        (.mergedWithNext, false, ["the", "-final", "-", "-countdown"]),
        (.contiguous, false, ["the", "-", "final", "--", "countdown"]),
        (.removed, true, ["-", "-", "-"]),
    ])
    func splitBehaviours(behavior: SplitBehavior, invert: Bool, expected: [String]) {
        #expect(pieces("the-final--countdown", [.split(.literal(Array("-".utf8)), behavior, invert: invert)]) == expected)
    }

    @Test("Llama 3 and Qwen2 regexes cut like Python `regex` (UTF-16 ranges mapped back to bytes)", arguments: [
        ("Hello world 12345", ["Hello", " world", " ", "123", "45"], ["Hello", " world", " ", "1", "2", "3", "4", "5"]),
        ("I'M  fine\n\n  ok!!\n", ["I", "'M", " ", " fine", "\n\n", " ", " ok", "!!\n"], ["I", "'M", " ", " fine", "\n\n", " ", " ok", "!!\n"]),
        ("h\u{E9}llo \u{1F389} w\u{F6}rld", ["h\u{E9}llo", " \u{1F389}", " w\u{F6}rld"], ["h\u{E9}llo", " \u{1F389}", " w\u{F6}rld"]),
        ("\u{4F60}\u{597D}\u{FF0C}\u{4E16}\u{754C} x'S", ["\u{4F60}\u{597D}", "\u{FF0C}\u{4E16}\u{754C}", " x", "'S"],
         ["\u{4F60}\u{597D}", "\u{FF0C}\u{4E16}\u{754C}", " x", "'S"]),
    ])
    func regexes(text: String, llama3: [String], qwen2: [String]) throws {
        let l3 = try RegexPattern(Self.l3), q2 = try RegexPattern(Self.l3.replacingOccurrences(of: #"\p{N}{1,3}"#, with: #"\p{N}"#))
        #expect(pieces(text, [.split(.regex(l3), .isolated, invert: false), .byteLevel(addPrefixSpace: false, useRegex: false)]) == llama3)
        #expect(pieces(text, [.split(.regex(q2), .isolated, invert: false)]) == qwen2)
        #expect(llama3.joined() == text)
    }

    @Test("Digits, Metaspace and ByteLevel prefix space per piece")
    func otherPreTokenizers() {
        #expect(pieces("ab12c3", [.split(.numericCharacter, .isolated, invert: false)]) == ["ab", "1", "2", "c", "3"])
        #expect(pieces("ab12c3", [.split(.numericCharacter, .contiguous, invert: false)]) == ["ab", "12", "c", "3"])
        let meta = Array("\u{2581}".utf8)
        #expect(pieces("Hello  world", [.metaspace(replacement: meta, prependScheme: .always, split: true)])
                == ["\u{2581}Hello", "\u{2581}", "\u{2581}world"])
        #expect(pieces("Hello world", [.metaspace(replacement: meta, prependScheme: .first, split: true)], startsText: false)
                == ["Hello", "\u{2581}world"])
        #expect(pieces("Hello world", [.metaspace(replacement: meta, prependScheme: .never, split: false)]) == ["Hello\u{2581}world"])
        #expect(pieces("a b", [.split(.literal([0x20]), .isolated, invert: false), .byteLevel(addPrefixSpace: true, useRegex: false)])
                == [" a", " ", " b"])
    }

    @Test("normalizers")
    func normalizers() {
        func n(_ normalizer: TextNormalizer, _ text: String) -> String {
            String(decoding: normalizer.apply(Array(text.utf8)), as: UTF8.self)
        }
        #expect(Array(n(.nfc, "e\u{301}").utf8) == [0xC3, 0xA9])
        #expect(Array(n(.nfd, "\u{E9}").utf8) == [0x65, 0xCC, 0x81])
        #expect(n(.nfkc, "\u{FB01} \u{2460}") == "fi 1" && n(.nfkd, "\u{E9}").unicodeScalars.count == 2)
        #expect(n(.lowercase, "\u{C0}B \u{3A3}\u{3A3}") == "\u{E0}b \u{3C3}\u{3C3}")   // per character: no final sigma
        #expect(n(.strip(left: true, right: false), " \u{3000}a b ") == "a b " && n(.strip(left: true, right: true), "  ") == "")
        #expect(n(.sequence([.prepend(Array("\u{2581}".utf8)), .replace(pattern: [0x20], content: Array("\u{2581}".utf8))]), "a b")
                == "\u{2581}a\u{2581}b")
        #expect(n(.prepend([0x41]), "") == "")
    }

    @Test("decoder chains: byte fallback (one U+FFFD per byte of an invalid run), Strip, Metaspace")
    func decoders() {
        func d(_ chain: TokenDecoderChain, _ tokens: [String]) -> String { chain.decode(tokens.map { Array($0.utf8) }) }
        #expect(d(.gemma, ["\u{2581}Hi", "<0xE2>", "<0x82>", "<0xAC>", "\u{2581}x"]) == " Hi\u{20AC} x")
        #expect(d(.gemma, ["a", "<0xE2>", "<0x82>", "b", "<0xFF>"]) == "a\u{FFFD}\u{FFFD}b\u{FFFD}")
        #expect(d(.gemma, ["<0x4a>", "<0x4G>"]) == "J<0x4G>")
        let llama2 = TokenDecoderChain(TokenDecoderChain.gemma.steps + [.strip(content: [0x20], start: 1, stop: 0)])
        #expect(d(llama2, ["\u{2581}Hello", "\u{2581}world"]) == "Hello world")
        let meta = TokenDecoderChain([.metaspace(replacement: Array("\u{2581}".utf8), prependScheme: .always)])
        #expect(d(meta, ["\u{2581}a\u{2581}b", "\u{2581}c"]) == "ab c")
        #expect(d(TokenDecoderChain([]), ["a", "b"]) == "a b")   // no decoder: HF joins with spaces
        #expect(TokenDecoderChain.gemma.bytes(ofPiece: Array("<0x0A>".utf8)) == [0x0A])
        #expect(TokenDecoderChain.gemma.bytes(ofPiece: Array("\u{2581}the".utf8)) == Array(" the".utf8))
    }

    @Test("SplitPattern byte ranges with multi-byte characters")
    func regexRanges() throws {
        var text = "h\u{E9}llo \u{1F389}\u{1F389} w\u{F6}rld"
        let ranges = text.withUTF8 { (try? RegexPattern(#"\p{L}+|\p{So}+"#))!.matches(in: $0) }
        #expect(ranges == [0..<6, 7..<15, 16..<22])
        #expect(throws: (any Error).self) { try RegexPattern("(unclosed") }
    }
}
