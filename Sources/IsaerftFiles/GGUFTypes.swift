/// A ggml tensor element type as stored in a GGUF tensor info (`u32` type id).
///
/// Names, ids, block sizes and block byte counts follow `GGMLQuantizationType` and
/// `GGML_QUANT_SIZES` in the `gguf` Python package (`gguf/constants.py`, gguf 0.19.0), which mirror
/// `ggml_type` and `type_traits` in ggml (`ggml/include/ggml.h`, `ggml/src/ggml.c`). Every known
/// type can be *located* (its byte size computed, so a file holding it opens and validates); only
/// `isDequantizable` types can be converted to fp32.
public struct GGMLType: Hashable, Sendable, CustomStringConvertible {
    /// The id stored in the file.
    public let id: UInt32

    public init(id: UInt32) { self.id = id }

    public static let f32 = GGMLType(id: 0), f16 = GGMLType(id: 1), q4_0 = GGMLType(id: 2)
    public static let q4_1 = GGMLType(id: 3), q5_0 = GGMLType(id: 6), q5_1 = GGMLType(id: 7)
    public static let q8_0 = GGMLType(id: 8), q8_1 = GGMLType(id: 9), q2_K = GGMLType(id: 10)
    public static let q3_K = GGMLType(id: 11), q4_K = GGMLType(id: 12), q5_K = GGMLType(id: 13)
    public static let q6_K = GGMLType(id: 14), q8_K = GGMLType(id: 15), bf16 = GGMLType(id: 30)

    /// (name, elements per block, bytes per block) for every id ggml defines (QK_K = 256).
    /// Ids 4, 5 (Q4_2, Q4_3), 31–33 and 36–38 were removed from ggml and are unknown here.
    static let table: [UInt32: (name: String, blockSize: Int, typeSize: Int)] = [
        0: ("F32", 1, 4), 1: ("F16", 1, 2),
        2: ("Q4_0", 32, 2 + 16), 3: ("Q4_1", 32, 2 + 2 + 16),
        6: ("Q5_0", 32, 2 + 4 + 16), 7: ("Q5_1", 32, 2 + 2 + 4 + 16),
        8: ("Q8_0", 32, 2 + 32), 9: ("Q8_1", 32, 4 + 4 + 32),
        10: ("Q2_K", 256, 2 + 2 + 256 / 16 + 256 / 4), 11: ("Q3_K", 256, 2 + 256 / 4 + 256 / 8 + 12),
        12: ("Q4_K", 256, 2 + 2 + 256 / 2 + 12), 13: ("Q5_K", 256, 2 + 2 + 256 / 2 + 256 / 8 + 12),
        14: ("Q6_K", 256, 2 + 256 / 2 + 256 / 4 + 256 / 16), 15: ("Q8_K", 256, 4 + 256 + 256 / 8),
        16: ("IQ2_XXS", 256, 2 + 256 / 4), 17: ("IQ2_XS", 256, 2 + 256 / 4 + 256 / 32),
        18: ("IQ3_XXS", 256, 2 + 256 / 4 + 256 / 8), 19: ("IQ1_S", 256, 2 + 256 / 8 + 256 / 16),
        20: ("IQ4_NL", 32, 2 + 16), 21: ("IQ3_S", 256, 2 + 256 / 4 + 256 / 8 + 256 / 32 + 4),
        22: ("IQ2_S", 256, 2 + 256 / 4 + 256 / 16), 23: ("IQ4_XS", 256, 2 + 2 + 256 / 2 + 256 / 64),
        24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
        29: ("IQ1_M", 256, 256 / 8 + 256 / 16 + 256 / 32), 30: ("BF16", 1, 2),
        34: ("TQ1_0", 256, 2 + 4 * 13), 35: ("TQ2_0", 256, 2 + 64),
        39: ("MXFP4", 32, 1 + 16), 40: ("NVFP4", 64, 4 + 32), 41: ("Q1_0", 128, 2 + 16),
    ]

    /// Whether ggml defines this id (so its byte size is known).
    public var isKnown: Bool { Self.table[id] != nil }

    /// The ggml name (`Q4_K`), or `type <id>` for an id ggml does not define.
    public var name: String { Self.table[id]?.name ?? "type \(id)" }

    /// Elements per block (1 for plain types), nil for unknown ids.
    public var blockSize: Int? { Self.table[id]?.blockSize }

    /// Bytes per block, nil for unknown ids.
    public var typeSize: Int? { Self.table[id]?.typeSize }

    /// The types `GGUFFile.tensor(_:)` converts to fp32.
    public static let dequantizable: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q5_0, .q4_K, .q5_K, .q6_K]

    public var isDequantizable: Bool { Self.dequantizable.contains(self) }

    public var description: String { name }
}

/// GGUF metadata value types (`GGUFValueType` in gguf/constants.py; `gguf_type` in ggml's gguf.h).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one value (nil for string and array, whose size is in the data).
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }
}

/// One metadata value. Strings are kept as their raw bytes: GGUF promises UTF-8, but tokenizer
/// vocabularies occasionally hold byte strings that are not valid UTF-8.
public indirect enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string([UInt8]), uint64(UInt64), int64(Int64), float64(Double)
    /// An array with its declared element type (the elements all have that type).
    case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        case .array: .array
        }
    }

    /// Any integer value as Int (nil for non-integers and a UInt64 above Int.max).
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// A float value (f32, or f64 rounded to nearest) or an integer converted; nil otherwise.
    public var floatValue: Float? {
        switch self {
        case .float32(let v): v
        case .float64(let v): Float(v)
        default: intValue.map { Float($0) }
        }
    }

    /// A string decoded as UTF-8 (invalid sequences become U+FFFD); nil for other types.
    public var stringValue: String? {
        if case .string(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}
