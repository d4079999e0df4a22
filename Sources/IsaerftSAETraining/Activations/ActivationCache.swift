import Foundation
import IsaerftCore
import IsaerftFiles

/// What an activation cache was computed from (`manifest.json`). Two setups with equal manifests give
/// bit-identical shards; any difference is reported by field name and the cache is rebuilt or refused.
struct ActivationCacheManifest: Codable, Equatable {
    /// Bump when the shard layout or the computation changes.
    static let currentVersion = 1

    var storeVersion: Int
    var modelIdentity: String
    /// `layers=…, vocab=…, context=…` of the model.
    var modelShape: String
    var hook: String
    var contextSize: Int
    var prependBOS: Bool
    var datasetPath: String
    /// Size of the dataset file in bytes (nil for in-memory datasets).
    var datasetBytes: Int?
    var datasetDocuments: Int
    var tokenizerIdentity: String
    var tokenizerVocabularySize: Int
    var dIn: Int
    var contextsPerShard: Int
    var contextsPerForward: Int
    /// FNV-1a 64 of the first context's token ids and of the bits of its hook values: pins the weights,
    /// the tokenizer and the packing beyond the names above.
    var probeDigest: String

    /// The first field that differs from `other`, with both values.
    func firstDifference(from other: ActivationCacheManifest) -> (field: String, mine: String, theirs: String)? {
        let a = Mirror(reflecting: self).children, b = Mirror(reflecting: other).children
        for (x, y) in zip(a, b) where String(describing: x.value) != String(describing: y.value) {
            return (x.label ?? "?", String(describing: x.value), String(describing: y.value))
        }
        return nil
    }
}

/// FNV-1a 64 over token ids and float bits.
struct FNV64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ v: UInt64) {
        for i in 0..<8 { value = (value ^ ((v >> (8 * UInt64(i))) & 0xFF)) &* 0x100_0000_01b3 }
    }
    var hex: String { String(value, radix: 16) }
}

/// The on-disk cache: `manifest.json` and `shard-<index>.safetensors` (`activations` F32
/// `[contexts·context_size, d_in]` in context order, every position; `tokens` I64 of the same rows).
struct ActivationCacheFolder {
    let url: URL

    var manifestURL: URL { url.appendingPathComponent("manifest.json") }
    func shardURL(_ index: Int) -> URL { url.appendingPathComponent("shard-\(index).safetensors") }

    func readManifest() throws -> ActivationCacheManifest? {
        guard FileManager.default.fileExists(atPath: manifestURL.path) else { return nil }
        do { return try JSONDecoder().decode(ActivationCacheManifest.self, from: Data(contentsOf: manifestURL)) } catch {
            throw ActivationStoreError.badShard(manifestURL.path, "unreadable manifest: \(error)")
        }
    }

    func writeManifest(_ m: ActivationCacheManifest) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            try AtomicFile.write(try encoder.encode(m), to: manifestURL)
        } catch { throw ActivationStoreError.io(url.path, "cannot write the manifest: \(error)") }
    }

    /// Removes every shard and the manifest.
    func clear() throws {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: url.path)) ?? [] where name.hasPrefix("shard-") || name == "manifest.json" {
            try? fm.removeItem(at: url.appendingPathComponent(name))
        }
    }

    func readShard(_ index: Int, rows: Int, dIn: Int) throws -> (activations: Tensor, tokens: [Int])? {
        let u = shardURL(index)
        guard FileManager.default.fileExists(atPath: u.path) else { return nil }
        do {
            let f = try SafeTensorsFile(url: u)
            let a = try f.tensor("activations")
            let t = try f.int64s("tokens")
            guard a.shape == [rows, dIn], t.values.count == rows else {
                throw ActivationStoreError.badShard(u.path, "shape \(a.shape), expected [\(rows), \(dIn)]")
            }
            return (a, t.values.map { Int($0) })
        } catch let e as ActivationStoreError { throw e } catch {
            throw ActivationStoreError.badShard(u.path, "\(error)")
        }
    }

    func writeShard(_ index: Int, activations: Tensor, tokens: [Int]) throws {
        do {
            try SafeTensors.write([("activations", activations)], int64: [("tokens", [tokens.count], tokens.map { Int64($0) })],
                                  to: shardURL(index))
        } catch { throw ActivationStoreError.io(shardURL(index).path, "\(error)") }
    }
}
