import Foundation

/// BOS/EOS/PAD token names from a model folder's `tokenizer_config.json` and
/// `special_tokens_map.json`, following `transformers` 5.x `tokenization_utils_base.py`
/// (`_from_pretrained`): `tokenizer_config.json` first; `special_tokens_map.json` is a legacy file
/// whose values override it, read only when `tokenizer_config.json` has no `added_tokens_decoder`.
/// A value is a string, an AddedToken-like object `{"content": …}`, or `null` (no such token).
public struct SpecialTokenNames: Sendable, Equatable {
    /// What a file says about one token: not mentioned, explicitly none, or a token's content.
    public enum Entry: Sendable, Equatable {
        case unset
        case none
        case token(String)
    }

    public var bos: Entry = .unset
    public var eos: Entry = .unset
    public var pad: Entry = .unset
    /// `tokenizer_config.json` `add_bos_token` / `add_eos_token` (nil when absent). When either is
    /// present, `transformers` 5 replaces the post-processor by `[bos] $A [eos]` built from them
    /// (`TokenizersBackend.update_post_processor`; an absent one counts as false).
    public var addBOS: Bool?
    public var addEOS: Bool?

    public init(bos: Entry = .unset, eos: Entry = .unset, pad: Entry = .unset, addBOS: Bool? = nil, addEOS: Bool? = nil) {
        self.bos = bos; self.eos = eos; self.pad = pad
        self.addBOS = addBOS; self.addEOS = addEOS
    }

    /// The id an entry names: `.unset` keeps `current`, `.none` is nil, a name must be in the vocabulary.
    func resolve(_ entry: Entry, _ field: String, current: Int?, lookup: (String) -> Int?) throws -> Int? {
        switch entry {
        case .unset: return current
        case .none: return nil
        case .token(let name):
            guard let id = lookup(name) else {
                throw TokenizerError.tokenNotInVocabulary(file: "tokenizer_config.json/special_tokens_map.json",
                                                          field: field, token: name)
            }
            return id
        }
    }

    /// The post-processor template after `add_bos_token`/`add_eos_token` (see `addBOS`).
    func template(default current: PostTemplate, bos: Int?, eos: Int?) -> PostTemplate {
        guard addBOS != nil || addEOS != nil else { return current }
        return PostTemplate(prefix: addBOS == true ? bos.map { [$0] } ?? [] : [],
                            suffix: addEOS == true ? eos.map { [$0] } ?? [] : [])
    }

    /// Reads both files from `directory`; either or both may be absent.
    public static func read(directory: URL) throws -> SpecialTokenNames {
        var names = SpecialTokenNames()
        var hasAddedTokensDecoder = false
        let config = directory.appendingPathComponent("tokenizer_config.json")
        if FileManager.default.fileExists(atPath: config.path) {
            let object = try readObject(config)
            hasAddedTokensDecoder = object["added_tokens_decoder"] != nil
            try names.update(from: object, file: config.lastPathComponent)
        }
        let map = directory.appendingPathComponent("special_tokens_map.json")
        if !hasAddedTokensDecoder, FileManager.default.fileExists(atPath: map.path) {
            try names.update(from: try readObject(map), file: map.lastPathComponent)
        }
        return names
    }

    private mutating func update(from object: [String: Any], file: String) throws {
        for (key, path) in [("add_bos_token", \SpecialTokenNames.addBOS), ("add_eos_token", \.addEOS)] {
            guard let value = object[key], !(value is NSNull) else { continue }
            guard let flag = value as? Bool else {
                throw TokenizerError.malformedJSON(file: file, field: key, reason: "expected true or false")
            }
            self[keyPath: path] = flag
        }
        for (key, path) in [("bos_token", \SpecialTokenNames.bos), ("eos_token", \.eos), ("pad_token", \.pad)] {
            guard let value = object[key] else { continue }
            switch value {
            case is NSNull: self[keyPath: path] = .none
            case let s as String: self[keyPath: path] = .token(s)
            case let d as [String: Any]:
                guard let content = d["content"] as? String else {
                    throw TokenizerError.malformedJSON(file: file, field: "\(key).content", reason: "expected a string")
                }
                self[keyPath: path] = .token(content)
            default:
                throw TokenizerError.malformedJSON(file: file, field: key,
                                                   reason: "expected a string, an object with \"content\", or null")
            }
        }
    }

    private static func readObject(_ url: URL) throws -> [String: Any] {
        let data = try readFile(url)
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TokenizerError.malformedJSON(file: url.lastPathComponent, field: "(top level)",
                                               reason: "not valid JSON (\(oneLine(error)))")
        }
        guard let object = parsed as? [String: Any] else {
            throw TokenizerError.malformedJSON(file: url.lastPathComponent, field: "(top level)", reason: "expected an object")
        }
        return object
    }
}

/// Reads a whole file, mapping "absent" and other I/O failures to `TokenizerError`.
func readFile(_ url: URL) throws(TokenizerError) -> Data {
    guard FileManager.default.fileExists(atPath: url.path) else { throw .missingFile(path: url.path) }
    do {
        return try Data(contentsOf: url)
    } catch {
        throw .unreadableFile(path: url.path, reason: oneLine(error))
    }
}

/// An error's description on one line.
func oneLine(_ error: any Error) -> String {
    String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
}
