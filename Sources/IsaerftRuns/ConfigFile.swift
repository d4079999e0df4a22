import Foundation

/// A value in a config file.
public indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    /// A number, kept as written in the file (JSON numbers: Swift's shortest form).
    case number(String)
    case bool(Bool)
    case null
    case list([ConfigValue])

    /// The text passed on the command line.
    var argument: String? {
        switch self {
        case .string(let s), .number(let s): s
        case .bool(let b): b ? "true" : "false"
        case .null, .list: nil
        }
    }
}

/// A config file equivalent to command-line options: YAML (the subset people write) or JSON.
///
/// YAML subset: `key: value` lines; one level of nesting (`section:` then indented `key: value`
/// lines; the section name only groups, keys are used as they are); lists as `[a, b]` or as `- item`
/// lines under the key; `#` comments; `"…"` (backslash escapes) and `'…'` (`''` for a quote)
/// strings; numbers; booleans `true/false/yes/no/on/off`; `null` / `~` (the key is then ignored).
/// JSON: an object whose values are scalars, arrays, or objects of those (one level).
///
/// `arguments(…)` turns the entries into `--key value` options (underscores become dashes;
/// `true` → `--key`, `false` → `--no-key` when the command has it, else nothing; a list → the option
/// repeated) and leaves out every key the real command line already sets, so typed options win.
public struct ConfigFile: Sendable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: ConfigValue
        /// 1-based line in the file (0 for JSON).
        public var line: Int
    }

    public let path: String
    public let entries: [Entry]

    /// Reads `url`; JSON when the first non-blank character is `{`, else YAML.
    public init(url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw RunsError.io(url.path, "cannot read the config file") }
        guard let text = String(data: data, encoding: .utf8) else { throw RunsError.badConfig(url.path, line: nil, "not UTF-8 text") }
        try self.init(text: text, path: url.path)
    }

    public init(text: String, path: String = "config") throws {
        self.path = path
        let raw: [Entry]
        if text.drop(while: { $0.isWhitespace }).first == "{" {
            raw = try JSONConfigParser.parse(text, path: path)
        } else {
            raw = try YAMLSubsetParser(path: path).parse(text)
        }
        var seen: [String: Int] = [:]
        for e in raw {
            if let first = seen[e.key] {
                throw RunsError.badConfig(path, line: e.line == 0 ? nil : e.line, "key '\(e.key)' appears twice (first at line \(first))")
            }
            seen[e.key] = e.line
        }
        entries = raw
    }

    /// The option name of a key: underscores become dashes (`lr_warm_up_steps` → `lr-warm-up-steps`).
    public static func optionName(_ key: String) -> String { key.replacingOccurrences(of: "_", with: "-") }

    /// The long option names (without `--`) that `commandLine` sets, including `--name=value` and
    /// `--no-name` forms (the latter counts for `name`).
    public static func optionsSet(by commandLine: [String]) -> Set<String> {
        var out = Set<String>()
        for a in commandLine where a.hasPrefix("--") && a.count > 2 {
            let name = String(a.dropFirst(2).prefix { $0 != "=" })
            out.insert(name)
            if name.hasPrefix("no-") { out.insert(String(name.dropFirst(3))) }
        }
        return out
    }

    /// Command-line arguments for the entries, to be placed before the real options.
    /// - Parameters:
    ///   - validOptions: the long names the command accepts; a key whose option is not among them is
    ///     an error naming the key. nil accepts every key.
    ///   - commandLine: the real arguments; keys they set are left out.
    public func arguments(validOptions: Set<String>?, overriddenBy commandLine: [String] = []) throws -> [String] {
        let given = Self.optionsSet(by: commandLine)
        var out: [String] = []
        for e in entries {
            let name = Self.optionName(e.key)
            if let validOptions, !validOptions.contains(name) {
                throw RunsError.unknownConfigKey(e.key, file: path)
            }
            if given.contains(name) { continue }
            switch e.value {
            case .null: continue
            case .bool(let b):
                if b { out.append("--\(name)") } else if validOptions?.contains("no-\(name)") ?? false { out.append("--no-\(name)") }
            case .list(let items):
                for item in items {
                    guard let v = item.argument else {
                        throw RunsError.badConfig(path, line: e.line == 0 ? nil : e.line, "key '\(e.key)': lists may hold only plain values")
                    }
                    out += ["--\(name)", v]
                }
            case .string, .number:
                out += ["--\(name)", e.value.argument!]
            }
        }
        return out
    }
}

/// JSON config files, decoded with `JSONDecoder` so that `true` and `1` stay distinct on every platform.
enum JSONConfigParser {
    indirect enum Node: Decodable {
        case bool(Bool), number(Double), string(String), null, array([Node]), object([String: Node])

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let d = try? c.decode(Double.self) {
                self = .number(d)
            } else if let s = try? c.decode(String.self) { self = .string(s) } else if let a = try? c.decode([Node].self) {
                self = .array(a)
            } else { self = .object(try c.decode([String: Node].self)) }
        }
    }

    static func parse(_ text: String, path: String) throws -> [ConfigFile.Entry] {
        let root: Node
        do { root = try JSONDecoder().decode(Node.self, from: Data(text.utf8)) } catch {
            throw RunsError.badConfig(path, line: nil, "not valid JSON")
        }
        guard case .object(let top) = root else { throw RunsError.badConfig(path, line: nil, "the top level must be an object") }
        var out: [ConfigFile.Entry] = []
        for key in top.keys.sorted() {
            if case .object(let inner) = top[key]! {
                for k in inner.keys.sorted() { out.append(.init(key: k, value: try value(inner[k]!, key: k, path: path), line: 0)) }
            } else {
                out.append(.init(key: key, value: try value(top[key]!, key: key, path: path), line: 0))
            }
        }
        return out
    }

    static func value(_ n: Node, key: String, path: String) throws -> ConfigValue {
        switch n {
        case .bool(let b): return .bool(b)
        case .null: return .null
        case .string(let s): return .string(s)
        case .number(let d): return .number(d == d.rounded() && abs(d) < 0x1p53 ? String(Int64(d)) : d.description)
        case .array(let items): return .list(try items.map { try value($0, key: key, path: path) })
        case .object: throw RunsError.badConfig(path, line: nil, "key '\(key)': nesting deeper than one level")
        }
    }
}
