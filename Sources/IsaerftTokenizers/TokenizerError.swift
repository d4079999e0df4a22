/// Everything that can go wrong while loading or using a tokenizer. Each case prints as one line
/// that names the file and, for JSON, the field (a dotted path such as `pre_tokenizer.type`).
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A file the loader needs does not exist.
    case missingFile(path: String)
    /// A file exists but could not be read (permissions, I/O error).
    case unreadableFile(path: String, reason: String)
    /// No `tokenizer.json`, nor `vocab.json` + `merges.txt`, in a model folder.
    case noTokenizerFiles(directory: String)
    /// JSON that does not parse, or a field with the wrong type or value.
    case malformedJSON(file: String, field: String, reason: String)
    /// A `merges.txt` line (1-based, counting the `#version` header) that is not `A B`.
    case malformedMerges(file: String, line: Int, reason: String)
    /// A component `type` that Hugging Face `tokenizers` does not define (a typo, or a newer format).
    case unknownComponentType(file: String, field: String, type: String)
    /// A component or option that `tokenizers` defines but this library does not implement;
    /// refused so that it never silently tokenises differently from Hugging Face.
    case unsupportedComponent(file: String, field: String, detail: String)
    /// A merge, added token or special-token name that refers to a token missing from the vocabulary.
    case tokenNotInVocabulary(file: String, field: String, token: String)
    /// A token id outside `0..<vocabularySize`, or an id with no token (a hole in the vocabulary).
    case idOutOfRange(id: Int, vocabularySize: Int)
    /// A vocabulary given as arrays (e.g. GGUF `tokenizer.ggml.*` metadata) that is inconsistent.
    case invalidVocabulary(source: String, reason: String)
    /// A binary tokenizer file (llama2.c `tokenizer.bin`) that is truncated or inconsistent.
    case malformedBinary(file: String, offset: Int, reason: String)

    public var description: String {
        switch self {
        case let .missingFile(path):
            "tokenizer file not found: \(path)"
        case let .unreadableFile(path, reason):
            "cannot read tokenizer file \(path): \(reason)"
        case let .noTokenizerFiles(directory):
            "no tokenizer in \(directory): expected tokenizer.json, or vocab.json + merges.txt"
        case let .malformedJSON(file, field, reason):
            "\(file): malformed JSON at \(field): \(reason)"
        case let .malformedMerges(file, line, reason):
            "\(file): line \(line): \(reason)"
        case let .unknownComponentType(file, field, type):
            "\(file): \(field) has unknown type \"\(type)\""
        case let .unsupportedComponent(file, field, detail):
            "\(file): \(field): \(detail) is not supported by IsaerftTokenizers"
        case let .tokenNotInVocabulary(file, field, token):
            "\(file): \(field) refers to token \(TokenizerError.quoted(token)) that is not in the vocabulary"
        case let .idOutOfRange(id, size):
            "token id \(id) is out of range (vocabulary size \(size))"
        case let .invalidVocabulary(source, reason):
            "\(source): invalid vocabulary: \(reason)"
        case let .malformedBinary(file, offset, reason):
            "\(file): at byte \(offset): \(reason)"
        }
    }

    /// A token written with control characters escaped, so the description stays on one line.
    static func quoted(_ token: String) -> String {
        var out = "\""
        for scalar in token.unicodeScalars {
            out += scalar.properties.generalCategory == .control || scalar == "\"" || scalar == "\\"
                ? scalar.escaped(asASCII: false) : String(scalar)
        }
        return out + "\""
    }
}
