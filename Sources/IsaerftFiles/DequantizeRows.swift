import IsaerftCore

/// Row-wise dequantisation of ggml tensors to fp32, in parallel over rows.
enum GGMLDequantize {
    /// Decodes row after row of `type`; nil for a type without a decoder.
    typealias RowDecoder = @Sendable (UnsafePointer<UInt8>, UnsafeMutablePointer<Float>, Int) -> Void

    static func decoder(for type: GGMLType) -> RowDecoder? {
        switch type {
        case .f32: GGMLBlocks.f32
        case .f16: GGMLBlocks.f16
        case .bf16: GGMLBlocks.bf16
        case .q8_0: GGMLBlocks.q8_0
        case .q4_0: GGMLBlocks.q4_0
        case .q5_0: GGMLBlocks.q5_0
        case .q4_K: GGMLBlocks.q4_K
        case .q5_K: GGMLBlocks.q5_K
        case .q6_K: GGMLBlocks.q6_K
        default: nil
        }
    }

    /// Dequantises rows `rows` (indices into the tensor seen as `[rowCount, rowLength]`) of the
    /// tensor whose bytes are `src` into one row-major `[rows.count, rowLength]` array.
    /// The caller has checked the type is dequantisable and the indices are in range.
    static func rows(type: GGMLType, src: UnsafeRawBufferPointer, rowLength: Int, rowBytes: Int,
                     rows: [Int]) -> [Float] {
        guard let decode = decoder(for: type) else {
            preconditionFailure("GGMLDequantize: \(type.name) has no decoder (checked by the caller)")
        }
        let total = rows.count * rowLength
        return [Float](unsafeUninitializedCapacity: total) { out, initialised in
            if total > 0, let base = src.baseAddress {
                let bytes = base.assumingMemoryBound(to: UInt8.self)
                let dst = out.baseAddress!
                // Each item is one output row; the chunks write disjoint rows.
                Parallel.forEach(rows.count, costPerItem: rowLength) { range in
                    for i in range {
                        precondition(rows[i] >= 0 && (rows[i] + 1) * rowBytes <= src.count, "row \(rows[i]) outside the tensor")
                        decode(bytes + rows[i] * rowBytes, dst + i * rowLength, rowLength)
                    }
                }
            }
            initialised = total
        }
    }
}
