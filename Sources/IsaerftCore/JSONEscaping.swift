/// JSON string literals written the way Python's `json.dumps` and Rust's serde_json write them:
/// `"` and `\` escaped, `\n \r \t \b \f` by name, other controls as lowercase `\u00xx`; with
/// `asciiOnly` (Python's default `ensure_ascii=True`, what SAELens' cfg.json files hold) every
/// non-ASCII scalar becomes `\uXXXX` UTF-16 units, else it is written as raw UTF-8.
public enum JSONEscaping {
    public static func quoted(_ s: String, asciiOnly: Bool = false) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where u.value < 0x20 || (asciiOnly && u.value > 0x7E):
                for unit in String(u).utf16 {
                    let hex = String(unit, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
