import Foundation

/// A tokenizer that turns text into token ids and back. Implementations are immutable after
/// loading and safe to share across threads.
///
/// BOS: `encode(_:parseSpecial:)` behaves like Hugging Face's `encode` with
/// `add_special_tokens=True`, so it prepends BOS exactly when `addsBOS` is true. Defaults per family:
///
/// | family (class) | `addsBOS` by default |
/// |---|---|
/// | GPT-2 (`ByteLevelBPETokenizer`) | false (TransformerLens prepends `<|endoftext|>` itself) |
/// | Llama 3 `tokenizer.json` (`ByteLevelBPETokenizer`) | true (`TemplateProcessing` `<|begin_of_text|> $A`) |
/// | Qwen2 `tokenizer.json` (`ByteLevelBPETokenizer`) | false (no template) |
/// | Gemma `tokenizer.json` / GGUF (`SentencePieceBPETokenizer`) | true (`<bos>` = 2; GGUF `add_bos_token`) |
/// | llama2.c `tokenizer.bin` (`Llama2cTokenizer`) | true (`run.c` encodes prompts with BOS = 1) |
///
/// Callers that render a chat template containing BOS themselves pass `addSpecialTokens: false`
/// (double BOS is a silent failure).
public protocol TextTokenizer: Sendable {
    /// One past the largest token id (model vocabulary and added tokens together).
    var vocabularySize: Int { get }
    var bosTokenID: Int? { get }
    var eosTokenID: Int? { get }
    /// Whether `encode(_:parseSpecial:)` (special tokens added) puts BOS before the text.
    var addsBOS: Bool { get }
    /// parseSpecial: whether added/special tokens written in the text (e.g. "<|endoftext|>") become
    /// their ids (HF default: true; false = HF `split_special_tokens`). addSpecialTokens: HF
    /// `add_special_tokens` (the post-processor's BOS/EOS around the text).
    func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool) throws -> [Int]
    /// The text of `ids`; invalid UTF-8 (e.g. a character cut between tokens) becomes U+FFFD.
    /// skipSpecial: drop special tokens (HF `skip_special_tokens`).
    func decode(_ ids: [Int], skipSpecial: Bool) throws -> String
    /// Raw bytes of one token (for streaming decode).
    func tokenBytes(_ id: Int) throws -> [UInt8]
}

extension TextTokenizer {
    /// `encode(text, parseSpecial:, addSpecialTokens: true)`: Hugging Face's default (BOS when `addsBOS`).
    public func encode(_ text: String, parseSpecial: Bool) throws -> [Int] {
        try encode(text, parseSpecial: parseSpecial, addSpecialTokens: true)
    }
    /// `encode(text, parseSpecial: true)`: Hugging Face's default.
    public func encode(_ text: String) throws -> [Int] { try encode(text, parseSpecial: true) }
    /// `decode(ids, skipSpecial: false)`: Hugging Face's default.
    public func decode(_ ids: [Int]) throws -> String { try decode(ids, skipSpecial: false) }
}
