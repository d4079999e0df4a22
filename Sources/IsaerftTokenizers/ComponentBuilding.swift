/// Turns decoded `tokenizer.json` components into the runtime pieces, throwing `TokenizerError` with
/// the component's field path (e.g. `pre_tokenizer.pretokenizers[0].pattern`) for anything a given
/// tokenizer class cannot run.
enum ComponentBuilder {
    // MARK: - Normalizer

    static func normalizer(_ config: NormalizerConfig?, file: String) throws -> TextNormalizer? {
        guard let config else { return nil }
        return try normalizer(config, file: file, field: "normalizer")
    }

    private static func normalizer(_ config: NormalizerConfig, file: String, field: String) throws -> TextNormalizer {
        switch config {
        case .nfc: return .nfc
        case .nfd: return .nfd
        case .nfkc: return .nfkc
        case .nfkd: return .nfkd
        case .lowercase: return .lowercase
        case let .strip(left, right): return .strip(left: left, right: right)
        case .prepend(let s): return .prepend(Array(s.utf8))
        case let .replace(.string(pattern), content): return .replace(pattern: Array(pattern.utf8), content: Array(content.utf8))
        case let .replace(.regex(pattern), content):
            return .replaceRegex(try regex(pattern, file: file, field: field + ".pattern.Regex"), content: Array(content.utf8))
        case .sequence(let parts):
            return .sequence(try parts.enumerated().map { try normalizer($1, file: file, field: "\(field).normalizers[\($0)]") })
        }
    }

    // MARK: - Pre-tokenizer

    /// The flattened steps, each with its field path.
    static func preTokenizerSteps(_ config: PreTokenizerConfig?, file: String) throws -> [(PreTokenizerStep, String)] {
        guard let config else { return [] }
        return try steps(config, file: file, field: "pre_tokenizer")
    }

    private static func steps(_ config: PreTokenizerConfig, file: String, field: String) throws -> [(PreTokenizerStep, String)] {
        switch config {
        case let .byteLevel(addPrefixSpace, useRegex):
            return [(.byteLevel(addPrefixSpace: addPrefixSpace, useRegex: useRegex), field)]
        case let .split(pattern, behavior, invert):
            let p: SplitPattern
            switch pattern {
            case .string(let s): p = .literal(Array(s.utf8))
            case .regex(let r): p = .regex(try regex(r, file: file, field: field + ".pattern.Regex"))
            }
            return [(.split(p, behavior, invert: invert), field)]
        case let .metaspace(replacement, scheme, split):
            return [(.metaspace(replacement: Array(replacement.utf8), prependScheme: scheme, split: split), field)]
        case .digits(let individual):
            return [(.split(.numericCharacter, individual ? .isolated : .contiguous, invert: false), field)]
        case .sequence(let members):
            return try members.enumerated().flatMap { try steps($1, file: file, field: "\(field).pretokenizers[\($0)]") }
        }
    }

    // MARK: - Post-processor

    /// The template of `single` (prefix and suffix ids around `$A`); `.none` for ByteLevel or null.
    static func template(_ config: PostProcessorConfig?, file: String, vocabularySize: Int) throws -> PostTemplate {
        guard let config else { return .none }
        var templates: [PostTemplate] = []
        try collectTemplates(config, file: file, field: "post_processor", vocabularySize: vocabularySize, into: &templates)
        guard templates.count <= 1 else {
            throw TokenizerError.unsupportedComponent(file: file, field: "post_processor.processors",
                                                      detail: "a Sequence with \(templates.count) TemplateProcessing members")
        }
        return templates.first ?? .none
    }

    private static func collectTemplates(_ config: PostProcessorConfig, file: String, field: String, vocabularySize: Int,
                                         into out: inout [PostTemplate]) throws {
        switch config {
        case .byteLevel: return
        case .sequence(let members):
            for (i, m) in members.enumerated() {
                try collectTemplates(m, file: file, field: "\(field).processors[\(i)]", vocabularySize: vocabularySize, into: &out)
            }
        case let .template(single, specialTokens):
            var template = PostTemplate()
            var seenA = false
            for piece in single {
                switch piece {
                case .sequence("A"):
                    guard !seenA else {
                        throw TokenizerError.malformedJSON(file: file, field: field + ".single", reason: "$A appears twice")
                    }
                    seenA = true
                case .sequence(let other):
                    throw TokenizerError.malformedJSON(file: file, field: field + ".single",
                                                       reason: "a single-sequence template refers to $\(other)")
                case .special(let name):
                    guard let ids = specialTokens[name] else {
                        throw TokenizerError.malformedJSON(file: file, field: field + ".special_tokens",
                                                           reason: "no entry for \(TokenizerError.quoted(name)) used in single")
                    }
                    if let bad = ids.first(where: { $0 < 0 || $0 >= vocabularySize }) {
                        throw TokenizerError.malformedJSON(file: file, field: "\(field).special_tokens.\(name).ids",
                                                           reason: "token id \(bad) is outside the vocabulary (size \(vocabularySize))")
                    }
                    if seenA { template.suffix += ids } else { template.prefix += ids }
                }
            }
            guard seenA else {
                throw TokenizerError.malformedJSON(file: file, field: field + ".single", reason: "the template has no $A")
            }
            out.append(template)
        }
    }

    // MARK: - Decoder

    /// For byte-level BPE: the decoder must be one `ByteLevel` (alone or as the only Sequence member).
    static func checkByteLevelDecoder(_ config: DecoderConfig?, file: String) throws {
        guard let config else {
            throw TokenizerError.unsupportedComponent(file: file, field: "decoder",
                                                      detail: "null (byte-level BPE needs a ByteLevel decoder)")
        }
        switch config {
        case .byteLevel: return
        case .sequence(let parts):
            if parts.count == 1, case .byteLevel = parts[0] { return }
            if let i = parts.firstIndex(where: { if case .byteLevel = $0 { false } else { true } }) {
                throw TokenizerError.unsupportedComponent(file: file, field: "decoder.decoders[\(i)].type",
                                                          detail: "type \"\(name(parts[i]))\" in a byte-level BPE decoder")
            }
            throw TokenizerError.unsupportedComponent(file: file, field: "decoder.decoders",
                                                      detail: "a decoder Sequence of \(parts.count) ByteLevel decoders")
        default:
            throw TokenizerError.unsupportedComponent(file: file, field: "decoder.type",
                                                      detail: "type \"\(name(config))\" in a byte-level BPE decoder")
        }
    }

    /// For SentencePiece-style BPE: the flattened decoder steps (null: tokens are joined as they are).
    static func decoderSteps(_ config: DecoderConfig?, file: String) throws -> [TokenDecoderStep] {
        guard let config else { return [] }
        return try decoderSteps(config, file: file, field: "decoder")
    }

    private static func decoderSteps(_ config: DecoderConfig, file: String, field: String) throws -> [TokenDecoderStep] {
        switch config {
        case .byteLevel:
            throw TokenizerError.unsupportedComponent(file: file, field: field + ".type",
                                                      detail: "type \"ByteLevel\" in a SentencePiece-style decoder")
        case .replace(.regex, _):
            throw TokenizerError.unsupportedComponent(file: file, field: field + ".pattern", detail: "a Regex pattern in a Replace decoder")
        case let .replace(.string(pattern), content): return [.replace(pattern: Array(pattern.utf8), content: Array(content.utf8))]
        case .byteFallback: return [.byteFallback]
        case .fuse: return [.fuse]
        case let .strip(content, start, stop): return [.strip(content: Array(content.utf8), start: start, stop: stop)]
        case let .metaspace(replacement, scheme): return [.metaspace(replacement: Array(replacement.utf8), prependScheme: scheme)]
        case .sequence(let parts):
            return try parts.enumerated().flatMap { try decoderSteps($1, file: file, field: "\(field).decoders[\($0)]") }
        }
    }

    private static func name(_ config: DecoderConfig) -> String {
        switch config {
        case .byteLevel: "ByteLevel"
        case .replace: "Replace"
        case .byteFallback: "ByteFallback"
        case .fuse: "Fuse"
        case .strip: "Strip"
        case .metaspace: "Metaspace"
        case .sequence: "Sequence"
        }
    }

    // MARK: - Helpers

    static func regex(_ pattern: String, file: String, field: String) throws -> RegexPattern {
        do {
            return try RegexPattern(pattern)
        } catch {
            throw TokenizerError.malformedJSON(file: file, field: field, reason: "invalid regular expression (\(oneLine(error)))")
        }
    }

    /// Whether the pre-tokenizer or decoder holds a ByteLevel component: such a file is byte-level BPE
    /// (GPT-2, Llama 3, Qwen2); the others are SentencePiece-style (Gemma, Llama 2).
    static func isByteLevel(_ config: TokenizerJSONConfig) -> Bool {
        func pre(_ c: PreTokenizerConfig) -> Bool {
            switch c {
            case .byteLevel: true
            case .sequence(let m): m.contains(where: pre)
            default: false
            }
        }
        func dec(_ c: DecoderConfig) -> Bool {
            switch c {
            case .byteLevel: true
            case .sequence(let m): m.contains(where: dec)
            default: false
            }
        }
        return config.preTokenizer.map(pre) == true || config.decoder.map(dec) == true
    }
}
