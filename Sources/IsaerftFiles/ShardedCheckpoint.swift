import Foundation
import IsaerftCore

/// The safetensors weights of a model folder, possibly split into shards, as one name → tensor map.
///
/// Which files, in the order transformers' `PreTrainedModel.from_pretrained` looks for them
/// (`SAFE_WEIGHTS_NAME`, then `SAFE_WEIGHTS_INDEX_NAME`), with `stem` = `"model"` by default:
/// 1. `{stem}.safetensors` — a single file;
/// 2. `{stem}.safetensors.index.json` — `{"metadata": {…}, "weight_map": {tensor: shard file}}`;
///    the shards must sit in the same folder, and the index must agree with the shards' headers
///    (every listed tensor present in its shard, every shard tensor listed);
/// 3. otherwise every `{stem}*.safetensors` file in the folder, sorted by name.
/// Sub-folders are never searched. A tensor found in two shards is an error (no silent overwrite).
/// Snapshot folders of the HF cache hold symlinks into `blobs/`; they are read through.
public struct ShardedCheckpoint: Sendable {
    /// The folder the weights were found in.
    public let folder: URL
    /// The opened shard files, in the order above.
    public let files: [SafeTensorsFile]
    /// Every tensor name across shards, sorted byte-wise.
    public let names: [String]
    private let shardOf: [String: Int]

    /// Finds and opens the weights in `folder` (see the type's documentation for the rules).
    public init(folder: URL, stem: String = "model") throws {
        let fm = FileManager.default
        let single = folder.appendingPathComponent("\(stem).safetensors")
        let index = folder.appendingPathComponent("\(stem).safetensors.index.json")
        if Self.isFile(single) {
            try self.init(folder: folder, files: [try SafeTensorsFile(url: single)], index: nil)
        } else if Self.isFile(index) {
            let map = try Self.readWeightMap(index)
            let shardNames = Set(map.values).sorted()
            let files = try shardNames.map { try SafeTensorsFile(url: folder.appendingPathComponent($0)) }
            try self.init(folder: folder, files: files, index: (index, map))
        } else {
            let listing: [String]
            do { listing = try fm.contentsOfDirectory(atPath: folder.path) } catch {
                throw FileFormatError.noWeights(folder: folder.path, reason: "cannot list the folder")
            }
            let shardNames = listing.filter { $0.hasPrefix(stem) && $0.hasSuffix(".safetensors") }
                .filter { Self.isFile(folder.appendingPathComponent($0)) }.sorted()
            guard !shardNames.isEmpty else {
                throw FileFormatError.noWeights(folder: folder.path,
                    reason: "found neither \(stem).safetensors, \(stem).safetensors.index.json nor \(stem)*.safetensors")
            }
            let files = try shardNames.map { try SafeTensorsFile(url: folder.appendingPathComponent($0)) }
            try self.init(folder: folder, files: files, index: nil)
        }
    }

    /// Combines explicitly given safetensors files (a tensor in two of them is an error).
    public init(files urls: [URL]) throws {
        let files = try urls.map { try SafeTensorsFile(url: $0) }
        try self.init(folder: urls.first?.deletingLastPathComponent() ?? URL(fileURLWithPath: "."),
                      files: files, index: nil)
    }

    private init(folder: URL, files: [SafeTensorsFile], index: (url: URL, map: [String: String])?) throws {
        var shardOf: [String: Int] = [:]
        for (i, file) in files.enumerated() {
            for name in file.names {
                if let j = shardOf[name] {
                    throw FileFormatError.duplicateTensor(tensor: name,
                                                          files: [files[j].url.path, file.url.path])
                }
                shardOf[name] = i
            }
        }
        if let index {
            for (name, shard) in index.map.sorted(by: { $0.key < $1.key }) {
                guard let i = shardOf[name], files[i].url.lastPathComponent == shard else {
                    throw FileFormatError.missingTensor(file: folder.appendingPathComponent(shard).path, tensor: name)
                }
            }
            if let extra = shardOf.keys.sorted().first(where: { index.map[$0] == nil }) {
                throw FileFormatError.badIndex(file: index.url.path,
                    reason: "tensor \(extra) in \(files[shardOf[extra]!].url.lastPathComponent) is not in weight_map")
            }
        }
        self.folder = folder
        self.files = files
        self.shardOf = shardOf
        self.names = shardOf.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The shard holding `name`, or nil.
    public func file(containing name: String) -> SafeTensorsFile? { shardOf[name].map { files[$0] } }

    /// The entry for `name`, or nil.
    public func info(_ name: String) -> TensorInfo? { file(containing: name)?.info(name) }

    /// The tensor `name` as fp32 (see `SafeTensorsFile.tensor(_:)`).
    public func tensor(_ name: String) throws -> Tensor {
        guard let file = file(containing: name) else {
            throw FileFormatError.missingTensor(file: folder.path, tensor: name)
        }
        return try file.tensor(name)
    }

    /// The integer tensor `name` as Int64 (see `SafeTensorsFile.int64s(_:)`).
    public func int64s(_ name: String) throws -> (shape: [Int], values: [Int64]) {
        guard let file = file(containing: name) else {
            throw FileFormatError.missingTensor(file: folder.path, tensor: name)
        }
        return try file.int64s(name)
    }

    // MARK: - Index

    private struct Index: Decodable { var weight_map: [String: String] }

    /// Reads `weight_map`; shard names must be plain file names (no folders, no `..`).
    private static func readWeightMap(_ url: URL) throws -> [String: String] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw FileFormatError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        let map: [String: String]
        do { map = try JSONDecoder().decode(Index.self, from: data).weight_map } catch {
            throw FileFormatError.badIndex(file: url.path,
                reason: "expected a JSON object with a \"weight_map\" of tensor name → file name")
        }
        if let bad = map.values.first(where: { $0.contains("/") || $0 == ".." || $0 == "." || $0.isEmpty }) {
            throw FileFormatError.badIndex(file: url.path, reason: "shard \"\(bad)\" is not a file name in this folder")
        }
        return map
    }

    private static func isFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
}
