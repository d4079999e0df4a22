import Foundation

/// A parsed `tokenizer.json`: the strictly decoded configuration and the model vocabulary as exact
/// bytes (read by `ByteJSON`, never through `String` keys). Shared by the byte-level and
/// SentencePiece-style loaders and by `Tokenizers.load`, which looks at it to pick one.
struct TokenizerJSONDocument {
    var config: TokenizerJSONConfig
    var vocabulary: [([UInt8], Int)]
    var fileName: String

    init(data: Data, fileName: String) throws {
        self.fileName = fileName
        do {
            config = try JSONDecoder().decode(TokenizerJSONConfig.self, from: data)
        } catch let p as ComponentTypeProblem {
            throw p.known
                ? TokenizerError.unsupportedComponent(file: fileName, field: fieldPath(p.codingPath), detail: "type \"\(p.type)\"")
                : TokenizerError.unknownComponentType(file: fileName, field: fieldPath(p.codingPath), type: p.type)
        } catch let u as UnsupportedOption {
            throw TokenizerError.unsupportedComponent(file: fileName, field: fieldPath(u.codingPath), detail: u.detail)
        } catch let e as DecodingError {
            if case .dataCorrupted(let context) = e, context.codingPath.isEmpty,
               let syntax = ByteJSON.syntaxError(in: [UInt8](data)) {
                throw TokenizerError.malformedJSON(file: fileName, field: "(top level)",
                                                   reason: "not valid JSON: byte \(syntax.offset): \(syntax.reason)")
            }
            throw describe(e, file: fileName)
        }
        do {
            guard let v = try ByteJSON.stringToIntObject([UInt8](data), at: ["model", "vocab"]) else {
                throw TokenizerError.malformedJSON(file: fileName, field: "model.vocab", reason: "missing")
            }
            vocabulary = v
        } catch let e as ByteJSON.ParseError {
            throw TokenizerError.malformedJSON(file: fileName, field: "model.vocab (byte \(e.offset))", reason: e.reason)
        }
    }

    /// Added tokens as matcher entries.
    var addedEntries: [AddedTokenMatcher.Entry] {
        config.addedTokens.map {
            AddedTokenMatcher.Entry(id: $0.id, content: Array($0.content.utf8), singleWord: $0.singleWord,
                                    lstrip: $0.lstrip, rstrip: $0.rstrip, normalized: $0.normalized, special: $0.special)
        }
    }

    /// The merges that are not `#version` headers, with their index in `model.merges` (for errors).
    var merges: [(index: Int, left: [UInt8], right: [UInt8])] {
        config.model.merges.enumerated().filter { !$0.element.isHeader }
            .map { ($0.offset, Array($0.element.left.utf8), Array($0.element.right.utf8)) }
    }
}

/// A `DecodingError` as one line naming the field.
func describe(_ error: DecodingError, file: String) -> TokenizerError {
    switch error {
    case let .keyNotFound(key, context):
        return .malformedJSON(file: file, field: fieldPath(context.codingPath + [key]), reason: "required key is missing")
    case let .typeMismatch(type, context):
        return .malformedJSON(file: file, field: fieldPath(context.codingPath), reason: "expected \(type): \(context.debugDescription)")
    case let .valueNotFound(type, context):
        return .malformedJSON(file: file, field: fieldPath(context.codingPath), reason: "expected \(type), found null")
    case let .dataCorrupted(context):
        let underlying = context.underlyingError.map { " (\(oneLine($0)))" } ?? ""
        return .malformedJSON(file: file, field: fieldPath(context.codingPath), reason: context.debugDescription + underlying)
    @unknown default:
        return .malformedJSON(file: file, field: "(unknown)", reason: oneLine(error))
    }
}
