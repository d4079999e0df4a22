import Foundation

/// A tokenizer that turns text into token ids and back. Implementations are immutable after
/// loading and safe to share across threads.
public protocol TextTokenizer: Sendable {
    /// One past the largest token id (model vocabulary and added tokens together).
    var vocabularySize: Int { get }
    var bosTokenID: Int? { get }
    var eosTokenID: Int? { get }
    /// parseSpecial: whether added/special tokens written in the text (e.g. "<|endoftext|>") become
    /// their ids (HF default for GPT-2: true). No BOS/EOS is ever added here.
    func encode(_ text: String, parseSpecial: Bool) throws -> [Int]
    /// The text of `ids`; invalid UTF-8 (e.g. a character cut between tokens) becomes U+FFFD.
    /// skipSpecial: drop special tokens (HF `skip_special_tokens`).
    func decode(_ ids: [Int], skipSpecial: Bool) throws -> String
    /// Raw bytes of one token (for streaming decode).
    func tokenBytes(_ id: Int) throws -> [UInt8]
}

extension TextTokenizer {
    /// `encode(text, parseSpecial: true)`: Hugging Face's default.
    public func encode(_ text: String) throws -> [Int] { try encode(text, parseSpecial: true) }
    /// `decode(ids, skipSpecial: false)`: Hugging Face's default.
    public func decode(_ ids: [Int]) throws -> String { try decode(ids, skipSpecial: false) }
}

/// Loading tokenizers from model folders.
public enum Tokenizers {
    /// Loads the tokenizer in a model folder: `tokenizer.json` when present, else `vocab.json` +
    /// `merges.txt`. BOS/EOS/PAD come from `tokenizer_config.json` and `special_tokens_map.json` when
    /// present (see `SpecialTokenNames.read`); a name that is absent from both defaults to
    /// `<|endoftext|>` when the vocabulary has it (GPT-2: id 50256 is BOS, EOS and PAD).
    public static func load(directory: URL) throws -> any TextTokenizer {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TokenizerError.missingFile(path: directory.path)
        }
        let tokenizerJSON = directory.appendingPathComponent("tokenizer.json")
        let vocab = directory.appendingPathComponent("vocab.json")
        let merges = directory.appendingPathComponent("merges.txt")
        let base: ByteLevelBPETokenizer
        if fm.fileExists(atPath: tokenizerJSON.path) {
            base = try ByteLevelBPETokenizer(tokenizerJSON: tokenizerJSON)
        } else if fm.fileExists(atPath: vocab.path), fm.fileExists(atPath: merges.path) {
            base = try ByteLevelBPETokenizer(vocabJSON: vocab, merges: merges)
        } else {
            throw TokenizerError.noTokenizerFiles(directory: directory.path)
        }
        let names = try SpecialTokenNames.read(directory: directory)
        return try base.withSpecialTokens(names)
    }
}
