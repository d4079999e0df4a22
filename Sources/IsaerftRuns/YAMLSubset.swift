import Foundation

/// The YAML subset of `ConfigFile` (see there), parsed line by line.
struct YAMLSubsetParser {
    let path: String

    private struct Line { var number: Int; var indent: Int; var text: String }

    func parse(_ text: String) throws -> [ConfigFile.Entry] {
        var lines: [Line] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var s = String(raw)
            if s.hasSuffix("\r") { s.removeLast() }
            if s.contains("\t"), s.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                throw RunsError.badConfig(path, line: i + 1, "tabs cannot indent YAML")
            }
            let stripped = try stripComment(s, line: i + 1)
            let body = stripped.drop(while: { $0 == " " })
            if body.allSatisfy({ $0 == " " }) { continue }
            if body == "---" { continue }
            lines.append(Line(number: i + 1, indent: stripped.count - body.count, text: String(body).trimmingTrailingSpaces))
        }
        var out: [ConfigFile.Entry] = []
        var i = 0
        while i < lines.count {
            let l = lines[i]
            guard l.indent == 0 else { throw RunsError.badConfig(path, line: l.number, "unexpected indentation") }
            let (key, rest) = try keyValue(l)
            i += 1
            if !rest.isEmpty {
                out.append(.init(key: key, value: try scalarOrInlineList(rest, line: l.number), line: l.number))
                continue
            }
            // `key:` alone: a block list, a section of `key: value` lines, or null.
            var children: [Line] = []
            while i < lines.count, lines[i].indent > 0 || lines[i].text.hasPrefix("- ") || lines[i].text == "-" {
                children.append(lines[i]); i += 1
            }
            if children.isEmpty { out.append(.init(key: key, value: .null, line: l.number)); continue }
            if children[0].text.hasPrefix("-") {
                var items: [ConfigValue] = []
                for c in children {
                    guard c.text.hasPrefix("- ") || c.text == "-", c.indent == children[0].indent else {
                        throw RunsError.badConfig(path, line: c.number, "expected a list item '- value' under '\(key)'")
                    }
                    let item = c.text.dropFirst(1).trimmingCharacters(in: .whitespaces)
                    items.append(try scalar(item, line: c.number))
                }
                out.append(.init(key: key, value: .list(items), line: l.number))
                continue
            }
            let indent = children[0].indent
            var j = 0
            while j < children.count {
                let c = children[j]
                guard c.indent == indent, !c.text.hasPrefix("-") else {
                    throw RunsError.badConfig(path, line: c.number, "unexpected indentation in section '\(key)'")
                }
                let (k, v) = try keyValue(c)
                j += 1
                if !v.isEmpty { out.append(.init(key: k, value: try scalarOrInlineList(v, line: c.number), line: c.number)); continue }
                var items: [ConfigValue] = []
                while j < children.count, children[j].text.hasPrefix("-"), children[j].indent >= indent {
                    let item = children[j].text.dropFirst(1).trimmingCharacters(in: .whitespaces)
                    items.append(try scalar(item, line: children[j].number)); j += 1
                }
                if j < children.count, children[j].indent > indent {
                    throw RunsError.badConfig(path, line: children[j].number, "nesting deeper than one level (under '\(k)')")
                }
                out.append(.init(key: k, value: items.isEmpty ? .null : .list(items), line: c.number))
            }
        }
        return out
    }

    /// `key: rest` → (key, rest); the key may be quoted.
    private func keyValue(_ l: Line) throws -> (String, String) {
        var key: String
        var rest: Substring
        if let q = l.text.first, q == "\"" || q == "'" {
            guard let end = l.text.dropFirst().firstIndex(of: q) else { throw RunsError.badConfig(path, line: l.number, "unterminated quoted key") }
            key = String(l.text[l.text.index(after: l.text.startIndex)..<end])
            rest = l.text[l.text.index(after: end)...].drop(while: { $0 == " " })
            guard rest.first == ":" else { throw RunsError.badConfig(path, line: l.number, "expected 'key: value'") }
            rest = rest.dropFirst()
        } else {
            guard let colon = l.text.firstIndex(where: { $0 == ":" }),
                  l.text.index(after: colon) == l.text.endIndex || l.text[l.text.index(after: colon)] == " " else {
                throw RunsError.badConfig(path, line: l.number, "expected 'key: value', found '\(l.text)'")
            }
            key = String(l.text[..<colon]).trimmingTrailingSpaces
            rest = l.text[l.text.index(after: colon)...]
        }
        guard !key.isEmpty else { throw RunsError.badConfig(path, line: l.number, "empty key") }
        return (key, rest.trimmingCharacters(in: .whitespaces))
    }

    private func scalarOrInlineList(_ s: String, line: Int) throws -> ConfigValue {
        guard s.hasPrefix("[") else { return try scalar(s, line: line) }
        guard s.hasSuffix("]") else { throw RunsError.badConfig(path, line: line, "unterminated list '\(s)'") }
        let inner = s.dropFirst().dropLast()
        var items: [String] = []
        var current = ""
        var quote: Character? = nil
        for ch in inner {
            if let q = quote { current.append(ch); if ch == q { quote = nil }; continue }
            if ch == "\"" || ch == "'" { quote = ch; current.append(ch); continue }
            if ch == "," { items.append(current); current = ""; continue }
            if ch == "[" || ch == "{" { throw RunsError.badConfig(path, line: line, "nested lists and maps are not supported") }
            current.append(ch)
        }
        if quote != nil { throw RunsError.badConfig(path, line: line, "unterminated string in list") }
        items.append(current)
        let trimmed = items.map { $0.trimmingCharacters(in: .whitespaces) }
        if trimmed.count == 1 && trimmed[0].isEmpty { return .list([]) }
        return .list(try trimmed.map { try scalar($0, line: line) })
    }

    /// A plain or quoted scalar.
    func scalar(_ s: String, line: Int) throws -> ConfigValue {
        if s.hasPrefix("\"") {
            guard s.count >= 2, s.hasSuffix("\"") else { throw RunsError.badConfig(path, line: line, "unterminated string \(s)") }
            var out = ""
            var escaped = false
            for ch in s.dropFirst().dropLast() {
                if escaped {
                    switch ch { case "n": out.append("\n"); case "t": out.append("\t"); case "r": out.append("\r"); default: out.append(ch) }
                    escaped = false
                } else if ch == "\\" { escaped = true } else { out.append(ch) }
            }
            return .string(out)
        }
        if s.hasPrefix("'") {
            guard s.count >= 2, s.hasSuffix("'") else { throw RunsError.badConfig(path, line: line, "unterminated string \(s)") }
            return .string(String(s.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'"))
        }
        if s.hasPrefix("{") || s.hasPrefix("[") || s.hasPrefix("&") || s.hasPrefix("*") || s.hasPrefix("|") || s.hasPrefix(">") {
            throw RunsError.badConfig(path, line: line, "'\(s)': this YAML feature is not supported (use a plain value)")
        }
        switch s.lowercased() {
        case "true", "yes", "on": return .bool(true)
        case "false", "no", "off": return .bool(false)
        case "null", "~", "": return .null
        default: break
        }
        let plain = s.replacingOccurrences(of: "_", with: "")
        if Int(plain) != nil || (Double(plain) != nil && plain.rangeOfCharacter(from: .letters.subtracting(CharacterSet(charactersIn: "eE"))) == nil) {
            return .number(plain)
        }
        return .string(s)
    }

    /// Removes a `#` comment (at the line start or after a space, outside quotes).
    private func stripComment(_ s: String, line: Int) throws -> String {
        var quote: Character? = nil
        var previous: Character = " "
        var out = ""
        for ch in s {
            if let q = quote {
                if ch == q { quote = nil }
            } else if ch == "\"" || ch == "'", previous == " " || previous == ":" || previous == "[" || previous == "," || previous == "-" {
                quote = ch
            } else if ch == "#", previous == " " || previous == "\t" {
                break
            }
            out.append(ch)
            previous = ch
        }
        return out
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
