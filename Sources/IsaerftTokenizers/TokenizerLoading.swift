import Foundation

/// Loading tokenizers from model folders.
public enum Tokenizers {
    /// Loads the tokenizer in a model folder:
    ///
    /// - `tokenizer.json` when present (`load(tokenizerJSON:)` picks the class);
    /// - else `vocab.json` + `merges.txt` (GPT-2 byte-level BPE);
    /// - else `tokenizer.bin` (llama2.c; vocabulary size = the number of records in the file).
    ///
    /// BOS/EOS/PAD come from `tokenizer_config.json` and `special_tokens_map.json` when present (see
    /// `SpecialTokenNames.read`, which also reads `add_bos_token`/`add_eos_token`); a name absent
    /// from both keeps the loader's default (GPT-2: `<|endoftext|>` = 50256 is BOS, EOS and PAD).
    public static func load(directory: URL) throws -> any TextTokenizer {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw TokenizerError.missingFile(path: directory.path)
        }
        let tokenizerJSON = directory.appendingPathComponent("tokenizer.json")
        let vocab = directory.appendingPathComponent("vocab.json")
        let merges = directory.appendingPathComponent("merges.txt")
        let llama2c = directory.appendingPathComponent("tokenizer.bin")
        let names = { try SpecialTokenNames.read(directory: directory) }
        if fm.fileExists(atPath: tokenizerJSON.path) {
            switch try load(tokenizerJSON: tokenizerJSON) {
            case let t as ByteLevelBPETokenizer: return try t.withSpecialTokens(try names())
            case let t as SentencePieceBPETokenizer: return try t.withSpecialTokens(try names())
            case let t: return t
            }
        }
        if fm.fileExists(atPath: vocab.path), fm.fileExists(atPath: merges.path) {
            return try ByteLevelBPETokenizer(vocabJSON: vocab, merges: merges).withSpecialTokens(try names())
        }
        if fm.fileExists(atPath: llama2c.path) {
            return try Llama2cTokenizer(url: llama2c, vocabularySize: nil)
        }
        throw TokenizerError.noTokenizerFiles(directory: directory.path)
    }

    /// A `tokenizer.json` as the class that implements it: `ByteLevelBPETokenizer` when the
    /// pre-tokenizer or decoder has a `ByteLevel` component (GPT-2, Llama 3, Qwen2), else
    /// `SentencePieceBPETokenizer` (Gemma, Llama 2: `▁` and byte fallback).
    public static func load(tokenizerJSON url: URL) throws -> any TextTokenizer {
        try load(tokenizerJSONData: try readFile(url), fileName: url.lastPathComponent)
    }

    /// The same from the bytes of a `tokenizer.json`; `fileName` names it in errors.
    public static func load(tokenizerJSONData data: Data, fileName: String = "tokenizer.json") throws -> any TextTokenizer {
        let document = try TokenizerJSONDocument(data: data, fileName: fileName)
        if ComponentBuilder.isByteLevel(document.config) {
            return try ByteLevelBPETokenizer(document: document)
        }
        return try SentencePieceBPETokenizer(document: document)
    }
}
