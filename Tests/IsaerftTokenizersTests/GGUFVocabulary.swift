import Foundation

/// A minimal GGUF (v2/v3) metadata reader for tests: walks the key/value section (hooks-and-models.md
/// §5.1) and keeps the `tokenizer.ggml.*` values needed by `SentencePieceBPETokenizer`. The library's
/// own GGUF reader lives elsewhere; this one stays independent on purpose.
struct GGUFVocabulary {
    var model = ""
    var tokens: [[UInt8]] = []
    var scores: [Float] = []
    var tokenTypes: [Int32] = []
    var bosID: Int?, eosID: Int?, unkID: Int?, padID: Int?
    var addBOS = false, addSpacePrefix = true

    struct ReadError: Error, CustomStringConvertible { let description: String }

    init(url: URL) throws {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var r = Reader(raw: raw)
            guard try r.u32() == 0x4655_4747 else { throw ReadError(description: "\(url.path): not a GGUF file") }
            let version = try r.u32()
            guard version == 2 || version == 3 else { throw ReadError(description: "\(url.path): GGUF version \(version)") }
            _ = try r.u64()   // tensor count
            let kvCount = try r.u64()
            for _ in 0..<kvCount {
                let key = String(decoding: try r.string(), as: UTF8.self)
                let type = try r.u32()
                switch key {
                case "tokenizer.ggml.model": model = String(decoding: try r.string(), as: UTF8.self)
                case "tokenizer.ggml.tokens": tokens = try r.array(of: 8) { try $0.string() }
                case "tokenizer.ggml.scores": scores = try r.array(of: 6) { Float(bitPattern: try $0.u32()) }
                case "tokenizer.ggml.token_type": tokenTypes = try r.array(of: 5) { Int32(bitPattern: try $0.u32()) }
                case "tokenizer.ggml.bos_token_id": bosID = try r.integer(type)
                case "tokenizer.ggml.eos_token_id": eosID = try r.integer(type)
                case "tokenizer.ggml.unknown_token_id": unkID = try r.integer(type)
                case "tokenizer.ggml.padding_token_id": padID = try r.integer(type)
                case "tokenizer.ggml.add_bos_token": addBOS = try r.bool(type)
                case "tokenizer.ggml.add_space_prefix": addSpacePrefix = try r.bool(type)
                default: try r.skip(type)
                }
            }
        }
    }

    private struct Reader {
        let raw: UnsafeRawBufferPointer
        var pos = 0

        mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
            guard n >= 0, pos + n <= raw.count else { throw ReadError(description: "GGUF truncated at byte \(pos)") }
            defer { pos += n }
            return UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + n)])
        }
        mutating func u32() throws -> UInt32 { try bytes(4).loadUnaligned(as: UInt32.self).littleEndian }
        mutating func u64() throws -> UInt64 { try bytes(8).loadUnaligned(as: UInt64.self).littleEndian }
        mutating func string() throws -> [UInt8] { Array(try bytes(Int(try u64()))) }

        mutating func array<T>(of elementType: UInt32, _ read: (inout Reader) throws -> T) throws -> [T] {
            let type = try u32(), count = Int(try u64())
            guard type == elementType else { throw ReadError(description: "GGUF array of type \(type), expected \(elementType)") }
            var out: [T] = []
            out.reserveCapacity(count)
            for _ in 0..<count { out.append(try read(&self)) }
            return out
        }
        mutating func integer(_ type: UInt32) throws -> Int {
            switch type {
            case 4: return Int(try u32())
            case 5: return Int(Int32(bitPattern: try u32()))
            case 10: return Int(try u64())
            case 11: return Int(Int64(bitPattern: try u64()))
            default: throw ReadError(description: "GGUF value type \(type) is not an integer")
            }
        }
        mutating func bool(_ type: UInt32) throws -> Bool {
            guard type == 7 else { throw ReadError(description: "GGUF value type \(type) is not a bool") }
            return try bytes(1)[0] != 0
        }
        /// Skips one value of `type` (0 u8 … 12 f64; 8 string; 9 array).
        mutating func skip(_ type: UInt32) throws {
            let sizes: [UInt32: Int] = [0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8]
            if let n = sizes[type] { _ = try bytes(n); return }
            switch type {
            case 8: _ = try string()
            case 9:
                let element = try u32(), count = try u64()
                if let n = sizes[element] { _ = try bytes(n * Int(count)) } else { for _ in 0..<count { try skip(element) } }
            default: throw ReadError(description: "GGUF value type \(type) is unknown")
            }
        }
    }
}
