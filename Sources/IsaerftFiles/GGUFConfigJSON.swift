import IsaerftCore
import Foundation

/// A JSON value with ordered object keys, for writing HF `config.json` files deterministically
/// (keys in the order given, numbers in their shortest round-trip form: `1e-06`, `10000.0`).
enum GGUFConfigJSON: Sendable, Equatable {
    case int(Int), double(Double), bool(Bool), string(String), null
    case array([GGUFConfigJSON])
    case object([(String, GGUFConfigJSON)])

    /// A value stored as f32 in the GGUF, written as the shortest decimal that reads back as the same
    /// f32 (`9.999999974752427e-07` → `1e-06`), which is what the HF config it came from holds.
    static func float(_ value: Float) -> GGUFConfigJSON {
        .double(Double(value.description) ?? Double(value))
    }

    static func optionalInt(_ value: Int?) -> GGUFConfigJSON { value.map { .int($0) } ?? .null }

    static func == (a: Self, b: Self) -> Bool { a.rendered() == b.rendered() }

    /// The JSON text (pretty-printed with two-space indentation, like `PretrainedConfig.to_json_string`).
    func rendered(indent: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent), inner = String(repeating: " ", count: indent + 2)
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return v.isFinite ? v.description : "null"
        case .bool(let v): return v ? "true" : "false"
        case .string(let s): return Self.quoted(s)
        case .null: return "null"
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.rendered(indent: indent + 2) }.joined(separator: ",\n") + "\n\(pad)]"
        case .object(let pairs):
            if pairs.isEmpty { return "{}" }
            return "{\n" + pairs.map { inner + Self.quoted($0.0) + ": " + $0.1.rendered(indent: indent + 2) }
                .joined(separator: ",\n") + "\n\(pad)}"
        }
    }

    /// UTF-8 bytes of the rendered text plus a final newline.
    var data: Data { Data((rendered() + "\n").utf8) }

    private static func quoted(_ s: String) -> String { JSONEscaping.quoted(s) }
}
