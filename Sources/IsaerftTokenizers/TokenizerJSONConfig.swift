import Foundation

/// The configuration parts of a Hugging Face `tokenizer.json` (tokenizers.md §2; serde structs in
/// HF `tokenizers` `tokenizer/serialization.rs`, `models/bpe/serialization.rs`,
/// `tokenizer/added_vocabulary.rs`). The component slots (normalizer, pre-tokenizer, post-processor,
/// decoder) are in `TokenizerJSONComponents.swift`.
///
/// Decoding is strict: every component is read through its `type`, and a type that HF does not
/// define throws `ComponentTypeProblem(known: false)`, a type HF defines but this library does not
/// implement throws `ComponentTypeProblem(known: true)`; nothing is silently ignored. The model's
/// `vocab` is deliberately not decoded here (a `String`-keyed dictionary would merge canonically
/// equivalent tokens); `ByteJSON` reads it as bytes.
struct TokenizerJSONConfig: Decodable {
    var addedTokens: [AddedTokenConfig]
    var normalizer: NormalizerConfig?
    var preTokenizer: PreTokenizerConfig?
    var postProcessor: PostProcessorConfig?
    var decoder: DecoderConfig?
    var model: BPEModelConfig

    private enum Key: String, CodingKey {
        case addedTokens = "added_tokens", normalizer, preTokenizer = "pre_tokenizer"
        case postProcessor = "post_processor", decoder, model, truncation, padding
    }

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        addedTokens = try c.decodeIfPresent([AddedTokenConfig].self, forKey: .addedTokens) ?? []
        normalizer = try c.decodeIfPresent(NormalizerConfig.self, forKey: .normalizer)
        preTokenizer = try c.decodeIfPresent(PreTokenizerConfig.self, forKey: .preTokenizer)
        postProcessor = try c.decodeIfPresent(PostProcessorConfig.self, forKey: .postProcessor)
        self.decoder = try c.decodeIfPresent(DecoderConfig.self, forKey: .decoder)
        model = try c.decode(BPEModelConfig.self, forKey: .model)
        // Truncation and padding change the ids of a single encode; refuse rather than ignore them.
        for key in [Key.truncation, .padding] where try c.decodeNil(orAbsent: key) == false {
            throw UnsupportedOption(codingPath: c.codingPath + [key], detail: "a non-null \(key.stringValue)")
        }
    }
}

/// A component type that is unknown to HF `tokenizers` (`known == false`) or known but not
/// implemented here (`known == true`). Mapped to `TokenizerError` by the loader, which knows the file.
struct ComponentTypeProblem: Error {
    let codingPath: [any CodingKey]
    let type: String
    let known: Bool
}

/// A known option set to a value this library does not implement.
struct UnsupportedOption: Error {
    let codingPath: [any CodingKey]
    let detail: String
}

/// One `added_tokens` entry. Defaults follow HF's serde defaults (`normalized` true, others false).
struct AddedTokenConfig: Decodable {
    var id: Int
    var content: String
    var singleWord, lstrip, rstrip, normalized, special: Bool

    private enum Key: String, CodingKey {
        case id, content, singleWord = "single_word", lstrip, rstrip, normalized, special
    }

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        id = try c.decode(Int.self, forKey: .id)
        content = try c.decode(String.self, forKey: .content)
        singleWord = try c.decodeIfPresent(Bool.self, forKey: .singleWord) ?? false
        lstrip = try c.decodeIfPresent(Bool.self, forKey: .lstrip) ?? false
        rstrip = try c.decodeIfPresent(Bool.self, forKey: .rstrip) ?? false
        normalized = try c.decodeIfPresent(Bool.self, forKey: .normalized) ?? true
        special = try c.decodeIfPresent(Bool.self, forKey: .special) ?? false
        guard id >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .id, in: c, debugDescription: "negative token id \(id)")
        }
    }
}

/// `model` of type `BPE` (the `type` key may be absent in older files: HF then infers the model from
/// its fields). `vocab` is read separately, as bytes.
struct BPEModelConfig: Decodable {
    static let hfTypes: Set<String> = ["BPE", "WordPiece", "WordLevel", "Unigram"]
    var merges: [MergeConfig]
    var unkToken: String?
    var fuseUnk: Bool
    var ignoreMerges: Bool
    /// Characters missing from the vocabulary become their `<0xXX>` byte tokens (SentencePiece style).
    var byteFallback: Bool

    private enum Key: String, CodingKey {
        case type, merges, dropout, unkToken = "unk_token", prefix = "continuing_subword_prefix"
        case suffix = "end_of_word_suffix", fuseUnk = "fuse_unk", byteFallback = "byte_fallback"
        case ignoreMerges = "ignore_merges", vocab
    }

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let type = try c.decodeIfPresent(String.self, forKey: .type) {
            guard Self.hfTypes.contains(type) else {
                throw ComponentTypeProblem(codingPath: c.codingPath + [Key.type], type: type, known: false)
            }
            guard type == "BPE" else { throw unsupported(decoder, type) }
        }
        guard c.contains(.vocab) else {
            throw DecodingError.keyNotFound(Key.vocab, .init(codingPath: c.codingPath, debugDescription: "BPE model has no vocab"))
        }
        merges = try c.decode([MergeConfig].self, forKey: .merges)
        unkToken = try c.decodeIfPresent(String.self, forKey: .unkToken)
        fuseUnk = try c.decodeIfPresent(Bool.self, forKey: .fuseUnk) ?? false
        ignoreMerges = try c.decodeIfPresent(Bool.self, forKey: .ignoreMerges) ?? false
        if let dropout = try c.decodeIfPresent(Double.self, forKey: .dropout), dropout != 0 {
            throw UnsupportedOption(codingPath: c.codingPath + [Key.dropout], detail: "BPE dropout \(dropout) (random merges)")
        }
        for key in [Key.prefix, .suffix] {
            if let affix = try c.decodeIfPresent(String.self, forKey: key), !affix.isEmpty {
                throw UnsupportedOption(codingPath: c.codingPath + [key], detail: "a non-empty \(key.stringValue)")
            }
        }
        byteFallback = try c.decodeIfPresent(Bool.self, forKey: .byteFallback) ?? false
    }
}

/// One merge: `"A B"` (GPT-2's files; split on the single space as HF's `convert_merges_to_hashmap`
/// does) or `["A", "B"]` (files written by `tokenizers` ≥ 0.20). A `"#version…"` string is a
/// header that HF skips (`isHeader`).
struct MergeConfig: Decodable {
    var left: String
    var right: String
    var isHeader = false

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let line = try? c.decode(String.self) {
            // Byte-wise, as in Rust: `Character` comparison would glue a space to a following combining mark.
            if line.utf8.starts(with: "#version".utf8) { (left, right, isHeader) = ("", "", true); return }
            let parts = line.utf8.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription:
                    "merge \(TokenizerError.quoted(line)) is not two tokens separated by one space")
            }
            (left, right) = (String(Substring(parts[0])), String(Substring(parts[1])))
        } else if let pair = try? c.decode([String].self), pair.count == 2 {
            (left, right) = (pair[0], pair[1])
        } else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "a merge must be \"A B\" or [\"A\", \"B\"]")
        }
    }
}

/// A coding key made from any string or index.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { stringValue = "\(intValue)"; self.intValue = intValue }
}

/// `pre_tokenizer.pretokenizers[0].type`-style text for a coding path.
func fieldPath(_ path: [any CodingKey]) -> String {
    var out = ""
    for key in path {
        if let i = key.intValue { out += "[\(i)]" } else { out += out.isEmpty ? key.stringValue : "." + key.stringValue }
    }
    return out.isEmpty ? "(top level)" : out
}

extension KeyedDecodingContainer {
    /// True when the key is absent or holds `null`.
    func decodeNil(orAbsent key: Key) throws -> Bool {
        contains(key) ? try decodeNil(forKey: key) : true
    }
}
