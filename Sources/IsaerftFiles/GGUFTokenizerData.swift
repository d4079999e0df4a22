/// The tokenizer stored in a GGUF file's `tokenizer.ggml.*` metadata, as plain values
/// (`hooks-and-models.md` §5.3; llama.cpp `llama_vocab::load`). Building a tokenizer from it is
/// the tokenizer module's job; this only reads.
public struct GGUFTokenizerData: Sendable, Equatable {
    /// `tokenizer.ggml.model`: `llama` (SentencePiece-style), `gpt2` (byte-level BPE), …
    public var model: String
    /// `tokenizer.ggml.pre` (pre-tokeniser name, e.g. `default`, `llama-bpe`, `qwen2`), if present.
    public var pre: String?
    /// Token pieces as raw bytes (byte-exact: never compared as `String`).
    public var tokens: [[UInt8]]
    /// `tokenizer.ggml.scores` (SentencePiece log-probabilities / merge ranks), if present.
    public var scores: [Float]?
    /// `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.merges` (BPE only), each `"left right"` as raw bytes.
    public var merges: [[UInt8]]?
    public var bosTokenID: Int?
    public var eosTokenID: Int?
    public var unknownTokenID: Int?
    public var paddingTokenID: Int?
    /// `tokenizer.ggml.add_bos_token` / `add_eos_token` / `add_space_prefix`, when stored.
    public var addBOS: Bool?
    public var addEOS: Bool?
    public var addSpacePrefix: Bool?
    /// `tokenizer.chat_template`, if present.
    public var chatTemplate: String?

    public init(model: String, pre: String? = nil, tokens: [[UInt8]], scores: [Float]? = nil,
                tokenTypes: [Int32]? = nil, merges: [[UInt8]]? = nil, bosTokenID: Int? = nil,
                eosTokenID: Int? = nil, unknownTokenID: Int? = nil, paddingTokenID: Int? = nil,
                addBOS: Bool? = nil, addEOS: Bool? = nil, addSpacePrefix: Bool? = nil, chatTemplate: String? = nil) {
        self.model = model; self.pre = pre; self.tokens = tokens; self.scores = scores
        self.tokenTypes = tokenTypes; self.merges = merges; self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID; self.unknownTokenID = unknownTokenID; self.paddingTokenID = paddingTokenID
        self.addBOS = addBOS; self.addEOS = addEOS; self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
    }
}

extension GGUFFile {
    /// The tokenizer metadata. Throws when `tokenizer.ggml.model` or `tokenizer.ggml.tokens` is
    /// missing, or when scores / token types do not have one entry per token.
    public func tokenizerData() throws -> GGUFTokenizerData {
        guard let model = string("tokenizer.ggml.model") else {
            throw GGUFError.missingKey(file: url.path, key: "tokenizer.ggml.model", expected: "a string")
        }
        guard let tokens = byteStrings("tokenizer.ggml.tokens") else {
            throw GGUFError.missingKey(file: url.path, key: "tokenizer.ggml.tokens", expected: "an array of strings")
        }
        let scores = floats("tokenizer.ggml.scores"), types = int32s("tokenizer.ggml.token_type")
        for (key, count) in [("tokenizer.ggml.scores", scores?.count), ("tokenizer.ggml.token_type", types?.count)] {
            if let count, count != tokens.count {
                throw GGUFError.badMetadata(file: url.path, key: key, reason: "\(count) entries for \(tokens.count) tokens")
            }
        }
        return GGUFTokenizerData(
            model: model, pre: string("tokenizer.ggml.pre"), tokens: tokens, scores: scores, tokenTypes: types,
            merges: byteStrings("tokenizer.ggml.merges"),
            bosTokenID: int("tokenizer.ggml.bos_token_id"), eosTokenID: int("tokenizer.ggml.eos_token_id"),
            unknownTokenID: int("tokenizer.ggml.unknown_token_id"),
            paddingTokenID: int("tokenizer.ggml.padding_token_id"),
            addBOS: bool("tokenizer.ggml.add_bos_token"), addEOS: bool("tokenizer.ggml.add_eos_token"),
            addSpacePrefix: bool("tokenizer.ggml.add_space_prefix"),
            chatTemplate: string("tokenizer.chat_template"))
    }
}
