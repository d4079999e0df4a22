import Foundation

/// The tokenizer of llama2.c checkpoints (`tokenizer.bin`, e.g. `tok512.bin` of stories260K), encoding
/// and decoding exactly as `run.c` (tokenizers.md §4):
///
/// - file: `int32 max_token_length`, then per token `float32 score, int32 len, len bytes`;
/// - encode: optional BOS (1); for non-empty text the id of `" "` (dummy prefix); each UTF-8
///   character's id, or its bytes as ids `byte + 3` (`<unk>` = 0 for a vocabulary too small to have
///   byte tokens); then repeatedly merge the adjacent pair whose
///   concatenation is a token with the highest score (strict `>`, first such pair), until none;
///   optional EOS (2). There is no special-token parsing (`parseSpecial` is ignored).
/// - decode: after BOS a leading space of the next piece is dropped; a `<0xXX>` piece is its byte.
///
/// `addsBOS` defaults to true (`run.c` encodes prompts with BOS); `addSpecialTokens: false` gives
/// the ids without it. Lookups compare bytes exactly.
public final class Llama2cTokenizer: TextTokenizer {
    /// Each token's bytes (`"<0x0A>"` pieces kept as written).
    public let pieces: [[UInt8]]
    public let scores: [Float]
    public let maxTokenLength: Int
    public let addsBOS: Bool
    public var vocabularySize: Int { pieces.count }
    public var bosTokenID: Int? { 1 }
    public var eosTokenID: Int? { 2 }
    private let idOf: [[UInt8]: Int]
    private let spaceID: Int?

    /// Reads `tokenizer.bin`. `vocabularySize` comes from the model header in llama2.c (the file does
    /// not store it); nil reads records until the end of the file.
    public convenience init(url: URL, vocabularySize: Int?, addBOS: Bool = true) throws {
        try self.init(data: try readFile(url), vocabularySize: vocabularySize, addBOS: addBOS, fileName: url.lastPathComponent)
    }

    public init(data: Data, vocabularySize: Int?, addBOS: Bool = true, fileName: String = "tokenizer.bin") throws {
        let bytes = [UInt8](data)
        var pos = 0
        func int32() throws -> Int32 {
            guard pos + 4 <= bytes.count else {
                throw TokenizerError.malformedBinary(file: fileName, offset: pos, reason: "file ends inside a 4-byte field")
            }
            defer { pos += 4 }
            return Int32(bitPattern: UInt32(bytes[pos]) | UInt32(bytes[pos + 1]) << 8 | UInt32(bytes[pos + 2]) << 16
                                     | UInt32(bytes[pos + 3]) << 24)
        }
        if let n = vocabularySize, n < 3 {
            throw TokenizerError.malformedBinary(file: fileName, offset: 0, reason: "vocabulary size \(n) is below 3 (<unk>, BOS, EOS)")
        }
        maxTokenLength = Int(try int32())
        guard maxTokenLength > 0 else {
            throw TokenizerError.malformedBinary(file: fileName, offset: 0, reason: "max_token_length \(maxTokenLength) is not positive")
        }
        var pieces: [[UInt8]] = [], scores: [Float] = []
        while vocabularySize.map({ pieces.count < $0 }) ?? (pos < bytes.count) {
            let recordStart = pos
            let score = Float(bitPattern: UInt32(bitPattern: try int32()))
            let length = Int(try int32())
            guard length >= 0, pos + length <= bytes.count else {
                throw TokenizerError.malformedBinary(file: fileName, offset: recordStart,
                    reason: "token \(pieces.count): length \(length) does not fit in the file (\(bytes.count) bytes)")
            }
            pieces.append(Array(bytes[pos..<(pos + length)]))
            scores.append(score)
            pos += length
        }
        guard pieces.count >= 3 else {
            throw TokenizerError.malformedBinary(file: fileName, offset: pos, reason: "only \(pieces.count) tokens")
        }
        self.pieces = pieces
        self.scores = scores
        self.addsBOS = addBOS
        var idOf: [[UInt8]: Int] = [:]
        for (i, p) in pieces.enumerated() where idOf[p] == nil { idOf[p] = i }
        self.idOf = idOf
        spaceID = idOf[[0x20]]
    }

    /// The id of a piece by its exact bytes.
    public func tokenID(forContent content: String) -> Int? { idOf[Array(content.utf8)] }

    // MARK: - Encoding (run.c `encode`)

    public func encode(_ text: String, parseSpecial: Bool, addSpecialTokens: Bool) throws -> [Int] {
        try encode(text, bos: addSpecialTokens && addsBOS, eos: false)
    }

    /// `run.c` `encode(text, bos, eos)`.
    public func encode(_ text: String, bos: Bool, eos: Bool) throws -> [Int] {
        var tokens: [Int] = bos ? [1] : []
        let raw = Array(text.utf8)
        if !raw.isEmpty, let space = spaceID { tokens.append(space) }
        var i = 0
        while i < raw.count {   // one UTF-8 character: a lead byte and at most 3 continuation bytes
            var j = i + 1
            while j < raw.count, raw[j] & 0xC0 == 0x80, j - i < 4 { j += 1 }
            let char = Array(raw[i..<j])
            if let id = idOf[char] {
                tokens.append(id)
            } else {
                for b in char { tokens.append(Int(b) + 3 < pieces.count ? Int(b) + 3 : 0) }
            }
            i = j
        }
        while true {
            var bestScore: Float = -1e10, bestID = -1, bestIndex = -1
            if tokens.count >= 2 {
                for k in 0..<(tokens.count - 1) {
                    guard let id = idOf[pieces[tokens[k]] + pieces[tokens[k + 1]]] else { continue }
                    if scores[id] > bestScore { bestScore = scores[id]; bestID = id; bestIndex = k }
                }
            }
            if bestIndex < 0 { break }
            tokens[bestIndex] = bestID
            tokens.remove(at: bestIndex + 1)
        }
        if eos { tokens.append(2) }
        return tokens
    }

    // MARK: - Decoding (run.c `decode`)

    /// Concatenated `run.c` pieces; `skipSpecial` drops `<unk>` (0), BOS (1) and EOS (2) — the space
    /// after a BOS is dropped either way.
    public func decode(_ ids: [Int], skipSpecial: Bool) throws -> String {
        var out: [UInt8] = []
        var previous = -1
        for id in ids {
            let bytes = try decodedPiece(id, previous: previous)
            if !(skipSpecial && id <= 2) { out += bytes }
            previous = id
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `run.c` prints for `id` after `previous`.
    public func decodedPiece(_ id: Int, previous: Int) throws -> [UInt8] {
        guard id >= 0, id < pieces.count else { throw TokenizerError.idOutOfRange(id: id, vocabularySize: pieces.count) }
        var piece = pieces[id][...]
        if previous == 1, piece.first == 0x20 { piece = piece.dropFirst() }
        if let b = Self.byteValue(piece) { return [b] }
        return Array(piece)
    }

    public func tokenBytes(_ id: Int) throws -> [UInt8] { try decodedPiece(id, previous: -1) }

    /// `sscanf(piece, "<0x%02hhX>", &b) == 1`: `<0x` followed by one or two hex digits.
    private static func byteValue(_ piece: ArraySlice<UInt8>) -> UInt8? {
        guard piece.starts(with: [0x3C, 0x30, 0x78]) else { return nil }
        var value = 0, digits = 0
        for c in piece.dropFirst(3).prefix(2) {
            guard let d = Int(String(UnicodeScalar(c)), radix: 16) else { break }
            value = value * 16 + d
            digits += 1
        }
        return digits > 0 ? UInt8(value) : nil
    }
}
