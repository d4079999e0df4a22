import Foundation

/// The four component slots of a `tokenizer.json` (normalizer, pre_tokenizer, post_processor,
/// decoder), decoded strictly: a `type` that HF does not define throws
/// `ComponentTypeProblem(known: false)`, one HF defines but this library does not implement throws
/// `ComponentTypeProblem(known: true)`. Which implemented components a given tokenizer class accepts
/// is decided when it is built (`ComponentBuilding.swift`). Serde references: HF `tokenizers`
/// `normalizers/*.rs`, `pre_tokenizers/{split,metaspace,byte_level,digits}.rs`,
/// `processors/template.rs`, `decoders/*.rs`.

/// Reads the `type` of a component and checks it against HF's list for that slot.
func componentType(_ decoder: any Swift.Decoder, known: Set<String>) throws -> String {
    let c = try decoder.container(keyedBy: AnyKey.self)
    let type = try c.decode(String.self, forKey: AnyKey("type"))
    guard known.contains(type) else {
        throw ComponentTypeProblem(codingPath: c.codingPath + [AnyKey("type")], type: type, known: false)
    }
    return type
}

func unsupported(_ decoder: any Swift.Decoder, _ type: String) -> ComponentTypeProblem {
    ComponentTypeProblem(codingPath: decoder.codingPath + [AnyKey("type")], type: type, known: true)
}

/// A `pattern` field: `{"String": "…"}` (literal) or `{"Regex": "…"}` (Oniguruma syntax in HF).
enum PatternConfig: Decodable, Equatable {
    case string(String)
    case regex(String)

    init(from decoder: any Swift.Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        if let s = try c.decodeIfPresent(String.self, forKey: AnyKey("String")) {
            self = .string(s)
        } else if let r = try c.decodeIfPresent(String.self, forKey: AnyKey("Regex")) {
            self = .regex(r)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath,
                                                    debugDescription: "a pattern must be {\"String\": …} or {\"Regex\": …}"))
        }
    }
}

/// `normalizer`. Implemented: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Replace, Prepend, Sequence.
indirect enum NormalizerConfig: Decodable {
    static let hfTypes: Set<String> = ["BertNormalizer", "Strip", "StripAccents", "NFC", "NFD", "NFKC", "NFKD",
                                        "Sequence", "Lowercase", "Nmt", "Precompiled", "Replace", "Prepend", "ByteLevel"]
    case nfc, nfd, nfkc, nfkd, lowercase
    case strip(left: Bool, right: Bool)
    case replace(pattern: PatternConfig, content: String)
    case prepend(String)
    case sequence([NormalizerConfig])

    init(from decoder: any Swift.Decoder) throws {
        let type = try componentType(decoder, known: Self.hfTypes)
        let c = try decoder.container(keyedBy: AnyKey.self)
        switch type {
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "Strip":
            self = .strip(left: try c.decodeIfPresent(Bool.self, forKey: AnyKey("strip_left")) ?? true,
                          right: try c.decodeIfPresent(Bool.self, forKey: AnyKey("strip_right")) ?? true)
        case "Replace":
            self = .replace(pattern: try c.decode(PatternConfig.self, forKey: AnyKey("pattern")),
                            content: try c.decode(String.self, forKey: AnyKey("content")))
        case "Prepend": self = .prepend(try c.decode(String.self, forKey: AnyKey("prepend")))
        case "Sequence": self = .sequence(try c.decode([NormalizerConfig].self, forKey: AnyKey("normalizers")))
        default: throw unsupported(decoder, type)
        }
    }
}

/// `pre_tokenizer`. Implemented: ByteLevel, Split, Metaspace, Digits, Sequence.
indirect enum PreTokenizerConfig: Decodable {
    static let hfTypes: Set<String> = ["BertPreTokenizer", "ByteLevel", "Delimiter", "Metaspace", "Whitespace",
                                        "Sequence", "Split", "Punctuation", "WhitespaceSplit", "Digits",
                                        "UnicodeScripts", "FixedLength"]
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case split(pattern: PatternConfig, behavior: SplitBehavior, invert: Bool)
    case metaspace(replacement: String, prependScheme: PrependScheme, split: Bool)
    case digits(individual: Bool)
    case sequence([PreTokenizerConfig])

    init(from decoder: any Swift.Decoder) throws {
        let type = try componentType(decoder, known: Self.hfTypes)
        let c = try decoder.container(keyedBy: AnyKey.self)
        switch type {
        case "ByteLevel":
            // add_prefix_space and trim_offsets are required by HF's serde struct; use_regex defaults to true.
            let addPrefixSpace = try c.decode(Bool.self, forKey: AnyKey("add_prefix_space"))
            _ = try c.decode(Bool.self, forKey: AnyKey("trim_offsets"))   // offsets only
            self = .byteLevel(addPrefixSpace: addPrefixSpace,
                              useRegex: try c.decodeIfPresent(Bool.self, forKey: AnyKey("use_regex")) ?? true)
        case "Split":
            self = .split(pattern: try c.decode(PatternConfig.self, forKey: AnyKey("pattern")),
                          behavior: try c.decode(SplitBehavior.self, forKey: AnyKey("behavior")),
                          invert: try c.decodeIfPresent(Bool.self, forKey: AnyKey("invert")) ?? false)
        case "Metaspace":
            // HF MetaspaceHelper: legacy add_prefix_space false means prepend_scheme never; default always.
            var scheme = try c.decodeIfPresent(PrependScheme.self, forKey: AnyKey("prepend_scheme"))
            if try c.decodeIfPresent(Bool.self, forKey: AnyKey("add_prefix_space")) == false {
                if let s = scheme, s != .never {
                    throw DecodingError.dataCorruptedError(forKey: AnyKey("prepend_scheme"), in: c,
                        debugDescription: "add_prefix_space false contradicts prepend_scheme \(s.rawValue)")
                }
                scheme = .never
            }
            let replacement = try c.decode(String.self, forKey: AnyKey("replacement"))
            guard replacement.unicodeScalars.count == 1 else {
                throw DecodingError.dataCorruptedError(forKey: AnyKey("replacement"), in: c,
                                                       debugDescription: "the replacement must be one character")
            }
            self = .metaspace(replacement: replacement, prependScheme: scheme ?? .always,
                              split: try c.decodeIfPresent(Bool.self, forKey: AnyKey("split")) ?? true)
        case "Digits":
            self = .digits(individual: try c.decodeIfPresent(Bool.self, forKey: AnyKey("individual_digits")) ?? false)
        case "Sequence":
            self = .sequence(try c.decode([PreTokenizerConfig].self, forKey: AnyKey("pretokenizers")))
        default:
            throw unsupported(decoder, type)
        }
    }
}

/// One item of a TemplateProcessing template: a special token by name, or the sequence `$A`/`$B`.
enum TemplatePieceConfig: Equatable {
    case special(String)
    case sequence(String)
}

/// `post_processor`. Implemented: ByteLevel (offsets only), TemplateProcessing, Sequence.
indirect enum PostProcessorConfig: Decodable {
    static let hfTypes: Set<String> = ["RobertaProcessing", "BertProcessing", "ByteLevel", "TemplateProcessing", "Sequence"]
    case byteLevel
    /// `single` template and the ids of each named special token.
    case template(single: [TemplatePieceConfig], specialTokens: [String: [Int]])
    case sequence([PostProcessorConfig])

    init(from decoder: any Swift.Decoder) throws {
        let type = try componentType(decoder, known: Self.hfTypes)
        let c = try decoder.container(keyedBy: AnyKey.self)
        switch type {
        case "ByteLevel": self = .byteLevel
        case "Sequence": self = .sequence(try c.decode([PostProcessorConfig].self, forKey: AnyKey("processors")))
        case "TemplateProcessing":
            let single = try Self.template(c, AnyKey("single"))
            var ids: [String: [Int]] = [:]
            let specials = try c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("special_tokens"))
            for key in specials.allKeys {
                let entry = try specials.nestedContainer(keyedBy: AnyKey.self, forKey: key)
                ids[key.stringValue] = try entry.decode([Int].self, forKey: AnyKey("ids"))
            }
            self = .template(single: single, specialTokens: ids)
        default:
            throw unsupported(decoder, type)
        }
    }

    /// A template as serialised by HF (a list of `{"SpecialToken": {"id": …}}` / `{"Sequence": {"id": "A"}}`),
    /// or in the string form `"<bos>:0 $A:0"` accepted by `TemplateProcessing.__init__`.
    private static func template(_ c: KeyedDecodingContainer<AnyKey>, _ key: AnyKey) throws -> [TemplatePieceConfig] {
        if let text = try? c.decode(String.self, forKey: key) {
            return text.split(separator: " ").map { word in
                let name = word.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
                if name.hasPrefix("$") { return .sequence(name == "$" || name == "$A" || name == "$0" ? "A" : "B") }
                return .special(name)
            }
        }
        var list = try c.nestedUnkeyedContainer(forKey: key)
        var out: [TemplatePieceConfig] = []
        while !list.isAtEnd {
            let item = try list.nestedContainer(keyedBy: AnyKey.self)
            if item.contains(AnyKey("SpecialToken")) {
                let inner = try item.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("SpecialToken"))
                out.append(.special(try inner.decode(String.self, forKey: AnyKey("id"))))
            } else if item.contains(AnyKey("Sequence")) {
                let inner = try item.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("Sequence"))
                out.append(.sequence(try inner.decode(String.self, forKey: AnyKey("id"))))
            } else {
                throw DecodingError.dataCorrupted(.init(codingPath: item.codingPath,
                    debugDescription: "a template piece must be {\"SpecialToken\": …} or {\"Sequence\": …}"))
            }
        }
        return out
    }
}

/// `decoder`. Implemented: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence.
indirect enum DecoderConfig: Decodable {
    static let hfTypes: Set<String> = ["BPEDecoder", "ByteLevel", "WordPiece", "Metaspace", "CTC", "Sequence",
                                        "Replace", "Fuse", "Strip", "ByteFallback"]
    case byteLevel
    case replace(pattern: PatternConfig, content: String)
    case byteFallback
    case fuse
    case strip(content: String, start: Int, stop: Int)
    case metaspace(replacement: String, prependScheme: PrependScheme)
    case sequence([DecoderConfig])

    init(from decoder: any Swift.Decoder) throws {
        let type = try componentType(decoder, known: Self.hfTypes)
        let c = try decoder.container(keyedBy: AnyKey.self)
        switch type {
        case "ByteLevel": self = .byteLevel
        case "ByteFallback": self = .byteFallback
        case "Fuse": self = .fuse
        case "Replace":
            self = .replace(pattern: try c.decode(PatternConfig.self, forKey: AnyKey("pattern")),
                            content: try c.decode(String.self, forKey: AnyKey("content")))
        case "Strip":
            let content = try c.decode(String.self, forKey: AnyKey("content"))
            guard content.unicodeScalars.count == 1 else {
                throw DecodingError.dataCorruptedError(forKey: AnyKey("content"), in: c, debugDescription: "must be one character")
            }
            let start = try c.decode(Int.self, forKey: AnyKey("start")), stop = try c.decode(Int.self, forKey: AnyKey("stop"))
            guard start >= 0, stop >= 0 else {
                throw DecodingError.dataCorruptedError(forKey: AnyKey("start"), in: c, debugDescription: "negative count")
            }
            self = .strip(content: content, start: start, stop: stop)
        case "Metaspace":
            var scheme = try c.decodeIfPresent(PrependScheme.self, forKey: AnyKey("prepend_scheme"))
            if try c.decodeIfPresent(Bool.self, forKey: AnyKey("add_prefix_space")) == false { scheme = .never }
            self = .metaspace(replacement: try c.decode(String.self, forKey: AnyKey("replacement")),
                              prependScheme: scheme ?? .always)
        case "Sequence":
            self = .sequence(try c.decode([DecoderConfig].self, forKey: AnyKey("decoders")))
        default:
            throw unsupported(decoder, type)
        }
    }
}
