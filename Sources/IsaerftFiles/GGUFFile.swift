import Foundation
import IsaerftCore

/// A GGUF v2/v3 file opened read-only and memory-mapped; tensors are dequantised to fp32 on demand.
///
/// Layout (little-endian): `"GGUF"`, `u32` version, `u64` tensor count, `u64` KV count, the
/// metadata, the tensor infos, padding to `general.alignment` (default 32), then the data section
/// (ggml `gguf.cpp`; `hooks-and-models.md` §5). The whole header is validated on opening, including
/// that every tensor's bytes lie inside the file, so later reads cannot leave it.
///
/// ```swift
/// let file = try GGUFFile(url: url)
/// file.string("general.architecture")            // "gemma3"
/// let w = try file.tensor("blk.0.attn_q.weight")  // [1024, 640] fp32, PyTorch layout
/// let e = try file.rows("token_embd.weight", [2, 818])   // [2, 640]
/// ```
public struct GGUFFile: Sendable {
    public let url: URL
    /// 2 or 3.
    public let version: UInt32
    /// Every metadata entry by key.
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos in file order.
    public let tensorInfos: [GGUFTensorInfo]
    /// `general.alignment` (32 when absent).
    public let alignment: Int
    /// Byte offset of the data section from the start of the file.
    public let dataStart: Int
    /// Size of the file in bytes.
    public var fileSize: Int { bytes.count }

    private let bytes: Data
    private let index: [String: Int]

    /// Opens and validates `url`. The file is memory-mapped, not copied.
    public init(url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw GGUFError.unreadable(file: url.path, reason: (error as NSError).localizedDescription)
        }
        try self.init(data: data, url: url)
    }

    /// Reads a GGUF image already in memory; `url` only names it in errors.
    public init(data: Data, url: URL) throws {
        let header = try data.withUnsafeBytes { try GGUFHeader.parse($0, file: url.path) }
        self.url = url
        self.bytes = data
        self.version = header.version
        self.metadata = header.metadata
        self.metadataKeys = header.metadataKeys
        self.tensorInfos = header.tensors
        self.alignment = header.alignment
        self.dataStart = header.dataStart
        self.index = Dictionary(uniqueKeysWithValues: header.tensors.enumerated().map { ($1.name, $0) })
        self.names = header.tensors.map(\.name).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Tensor names, sorted byte-wise.
    public let names: [String]

    /// The info for `name`, or nil.
    public func info(_ name: String) -> GGUFTensorInfo? { index[name].map { tensorInfos[$0] } }

    /// `general.architecture`, or nil.
    public var architecture: String? { string("general.architecture") }

    /// Tensor `name` dequantised to fp32 in PyTorch layout: ggml `[ne0, ne1, …]` becomes shape
    /// `[…, ne1, ne0]` with the same bytes (no transpose). Values equal `gguf.quants.dequantize`
    /// bit for bit (see `GGMLDequantize`). Rows are dequantised in parallel.
    public func tensor(_ name: String) throws -> Tensor {
        let info = try dequantizable(name)
        let values = withTensorBytes(info) { src in
            GGMLDequantize.rows(type: info.type, src: src, rowLength: info.rowLength,
                                rowBytes: info.rowBytes, rows: Array(0..<info.rowCount))
        }
        return Tensor(shape: info.shape, scalars: values)
    }

    /// Rows `indices` of tensor `name` seen as `[rowCount, ne0]`, dequantised: shape
    /// `[indices.count, ne0]` (an embedding lookup without dequantising the whole matrix).
    public func rows(_ name: String, _ indices: [Int]) throws -> Tensor {
        let info = try dequantizable(name)
        if let bad = indices.first(where: { $0 < 0 || $0 >= info.rowCount }) {
            throw GGUFError.badRequest(file: url.path, tensor: name,
                                       reason: "row \(bad) is out of range 0..<\(info.rowCount)")
        }
        let values = withTensorBytes(info) { src in
            GGMLDequantize.rows(type: info.type, src: src, rowLength: info.rowLength,
                                rowBytes: info.rowBytes, rows: indices)
        }
        return Tensor(shape: [indices.count, info.rowLength], scalars: values)
    }

    /// Calls `body` with the raw bytes of tensor `name` (valid only inside `body`).
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        guard let info = info(name) else { throw GGUFError.missingTensor(file: url.path, tensor: name) }
        return try withTensorBytes(info, body)
    }

    private func withTensorBytes<R>(_ info: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = dataStart + info.offset
        return try bytes.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[start..<(start + info.byteCount)]))
        }
    }

    private func dequantizable(_ name: String) throws -> GGUFTensorInfo {
        guard let info = info(name) else { throw GGUFError.missingTensor(file: url.path, tensor: name) }
        guard info.type.isDequantizable else {
            throw GGUFError.unsupportedType(file: url.path, tensor: name, type: info.type.name)
        }
        return info
    }
}

/// The raw GGUF tensors under their GGUF names (no HF conversion; see `converted()` for that).
extension GGUFFile: TensorSource {}
