import Foundation

/// A llama2.c `tokenizer.bin` (written by llama2.c `tokenizer.py` `export`, read by `run.c`
/// `build_tokenizer`): `int32 max_token_length`, then per token `float32 score`, `int32 len`,
/// `len` bytes (no NUL). The token count is not in the file; it comes from the model header
/// (`hooks-and-models.md` §3). Encoding rules: `tokenizers.md` §4.
public struct LlamaCTokenizerData: Sendable, Equatable {
    public var maxTokenLength: Int
    /// Token pieces as raw bytes, by id.
    public var pieces: [[UInt8]]
    /// Scores by id (higher merges first).
    public var scores: [Float]

    public init(maxTokenLength: Int, pieces: [[UInt8]], scores: [Float]) {
        self.maxTokenLength = maxTokenLength; self.pieces = pieces; self.scores = scores
    }

    /// Reads `url` expecting exactly `vocabSize` tokens (strict: the file must end after the last one).
    public init(url: URL, vocabSize: Int) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw FileFormatError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        try self.init(data: data, url: url, vocabSize: vocabSize)
    }

    /// Reads a `tokenizer.bin` image in memory; `url` names it in errors.
    public init(data: Data, url: URL, vocabSize: Int) throws {
        let file = url.path
        precondition(vocabSize >= 0, "LlamaCTokenizerData: negative vocabulary size \(vocabSize)")
        let parsed = try data.withUnsafeBytes { raw throws -> (Int, [[UInt8]], [Float]) in
            func int32(at p: Int) throws -> Int32 {
                guard p + 4 <= raw.count else {
                    throw FileFormatError.truncated(file: file, needed: UInt64(p + 4), available: UInt64(raw.count))
                }
                return Int32(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: Int32.self))
            }
            let maxLength = Int(try int32(at: 0))
            var pos = 4
            var pieces: [[UInt8]] = [], scores: [Float] = []
            pieces.reserveCapacity(vocabSize); scores.reserveCapacity(vocabSize)
            for id in 0..<vocabSize {
                let score = Float(bitPattern: UInt32(bitPattern: try int32(at: pos)))
                let length = Int(try int32(at: pos + 4))
                pos += 8
                guard length >= 0 else {
                    throw FileFormatError.badHeader(file: file, reason: "token \(id) has length \(length)")
                }
                guard pos + length <= raw.count else {
                    throw FileFormatError.truncated(file: file, needed: UInt64(pos + length), available: UInt64(raw.count))
                }
                pieces.append([UInt8](UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + length)])))
                scores.append(score)
                pos += length
            }
            guard pos == raw.count else {
                throw FileFormatError.badHeader(file: file,
                    reason: "\(raw.count - pos) bytes follow the \(vocabSize) tokens the model header promises")
            }
            return (maxLength, pieces, scores)
        }
        self.init(maxTokenLength: parsed.0, pieces: parsed.1, scores: parsed.2)
    }
}
