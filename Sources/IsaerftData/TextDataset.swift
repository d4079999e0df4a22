import Foundation

/// Errors reading datasets; each `description` is one line naming the file (and line).
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, String)
    case malformedLine(String, line: Int, String)
    case empty(String)

    public var description: String {
        switch self {
        case let .unreadable(file, why): "\(file): \(why)"
        case let .malformedLine(file, line, why): "\(file):\(line): \(why)"
        case let .empty(file): "\(file): no documents"
        }
    }
}

/// Documents of text from a plain-text file, a JSONL file (one object per line with a text field),
/// or either gzip-compressed (by content, not by name). Plain text is one document per file unless
/// `splitParagraphs` is set (documents separated by blank lines).
public struct TextDataset: Sendable {
    public let source: String
    public let documents: [String]

    public init(documents: [String], source: String = "memory") {
        self.documents = documents
        self.source = source
    }

    /// Reads `url`. JSONL is recognised by a `.jsonl` / `.jsonl.gz` / `.json` name or a first line that
    /// is a JSON object; `textField` names the field ("text" by default).
    public init(url: URL, textField: String = "text", splitParagraphs: Bool = false) throws {
        let path = url.path
        guard var data = FileManager.default.contents(atPath: path) else { throw DatasetError.unreadable(path, "cannot read the file") }
        if Gzip.isGzip(data) { data = try Gzip.decompress(data, source: path) }
        guard let text = String(data: data, encoding: .utf8) else { throw DatasetError.unreadable(path, "not UTF-8 text") }
        let name = url.lastPathComponent.lowercased().replacingOccurrences(of: ".gz", with: "")
        let firstLine = text.prefix { $0 != "\n" }.trimmingCharacters(in: .whitespaces)
        let jsonl = name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") || (firstLine.hasPrefix("{") && firstLine.hasSuffix("}"))
        var docs: [String] = []
        if jsonl {
            for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { continue }
                guard let obj = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                    throw DatasetError.malformedLine(path, line: i + 1, "not a JSON object")
                }
                guard let t = obj[textField] as? String else {
                    throw DatasetError.malformedLine(path, line: i + 1, "no string field \"\(textField)\"")
                }
                docs.append(t)
            }
        } else if splitParagraphs {
            docs = text.components(separatedBy: "\n\n").map { $0.trimmingCharacters(in: .newlines) }.filter { !$0.isEmpty }
        } else {
            docs = text.isEmpty ? [] : [text]
        }
        guard !docs.isEmpty else { throw DatasetError.empty(path) }
        self.init(documents: docs, source: path)
    }
}
