/// Typed metadata accessors. Each returns nil when the key is absent or holds another type, so
/// callers decide whether a key is optional (the conversion throws `GGUFError.missingKey`).
extension GGUFFile {
    /// A string value (UTF-8; invalid sequences become U+FFFD).
    public func string(_ key: String) -> String? { metadata[key]?.stringValue }

    /// Any integer value (u8 … i64) as Int.
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }

    /// An f32 or f64 value (f64 rounded to nearest); integers are converted.
    public func float(_ key: String) -> Float? { metadata[key]?.floatValue }

    /// A bool value.
    public func bool(_ key: String) -> Bool? {
        if case .bool(let b) = metadata[key] { return b }
        return nil
    }

    /// An array of strings.
    public func strings(_ key: String) -> [String]? {
        byteStrings(key)?.map { String(decoding: $0, as: UTF8.self) }
    }

    /// An array of strings as their raw bytes (tokenizer vocabularies).
    public func byteStrings(_ key: String) -> [[UInt8]]? {
        guard case .array(.string, let items) = metadata[key] else { return nil }
        return items.map { if case .string(let b) = $0 { b } else { [] } }
    }

    /// An array of f32 (or f64, rounded) values.
    public func floats(_ key: String) -> [Float]? {
        guard case .array(let t, let items) = metadata[key], t == .float32 || t == .float64 else { return nil }
        return items.compactMap(\.floatValue)
    }

    /// An array of integers that all fit in Int32 (any integer element type).
    public func int32s(_ key: String) -> [Int32]? {
        guard case .array(_, let items) = metadata[key] else { return nil }
        var out: [Int32] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let v = item.intValue, let narrow = Int32(exactly: v) else { return nil }
            out.append(narrow)
        }
        return out
    }

    /// An array of integers as Int (any integer element type).
    public func ints(_ key: String) -> [Int]? {
        guard case .array(_, let items) = metadata[key] else { return nil }
        let values = items.compactMap(\.intValue)
        return values.count == items.count ? values : nil
    }

    /// An array of bools.
    public func bools(_ key: String) -> [Bool]? {
        guard case .array(.bool, let items) = metadata[key] else { return nil }
        return items.map { $0 == .bool(true) }
    }

    // MARK: - Required values (conversion)

    func requireInt(_ key: String) throws -> Int {
        guard let v = int(key) else { throw GGUFError.missingKey(file: url.path, key: key, expected: "an integer") }
        return v
    }

    func requireFloat(_ key: String) throws -> Float {
        guard let v = float(key) else { throw GGUFError.missingKey(file: url.path, key: key, expected: "a number") }
        return v
    }
}
