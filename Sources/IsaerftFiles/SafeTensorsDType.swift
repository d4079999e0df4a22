/// The element types of the safetensors format, spelled as in the header's `"dtype"`.
///
/// The declaration order is the Rust crate's `Dtype` enum order (`safetensors/src/tensor.rs`,
/// 0.8.0) restricted to the byte-sized types; the writer sorts tensors by this order, largest
/// first, exactly as the reference `serialize` does. Sub-byte types (F4, F6_*) and F8_E8M0 are
/// not supported and make a header fail with `FileFormatError.badDType`.
public enum SafeTensorsDType: String, Sendable, CaseIterable, Comparable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16", i32 = "I32", u32 = "U32"
    case f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }

    /// Whether `SafeTensorsFile.tensor(_:)` can convert this type to fp32 (every type but F8).
    public var convertsToFloat: Bool { self != .f8e5m2 && self != .f8e4m3 }

    /// Whether `SafeTensorsFile.int64s(_:)` can read this type (the integer types and BOOL).
    public var isInteger: Bool {
        switch self {
        case .bool, .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64: true
        default: false
        }
    }

    private var rank: Int { Self.allCases.firstIndex(of: self)! }

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}
