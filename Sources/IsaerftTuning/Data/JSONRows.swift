import Foundation
import IsaerftData

/// The JSON objects of a data file: JSON Lines (one object per line, blank lines skipped) or one JSON
/// array of objects; gzip is detected by content. Each row carries its location ("line N" or "row N").
struct JSONRows {
    var file: String
    var rows: [(location: String, object: [String: Any])]

    init(url: URL) throws {
        let path = url.path
        guard var data = FileManager.default.contents(atPath: path) else {
            throw TuningDataError.unreadable(file: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file")
        }
        if Gzip.isGzip(data) {
            do { data = try Gzip.decompress(data, source: path) } catch { throw TuningDataError.unreadable(file: path, reason: "\(error)") }
        }
        try self.init(data: data, file: path)
    }

    init(data: Data, file: String) throws {
        self.file = file
        rows = []
        let firstByte = data.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }
        if firstByte == UInt8(ascii: "[") {
            let any: Any
            do { any = try JSONSerialization.jsonObject(with: data) } catch {
                throw TuningDataError.unreadable(file: file, reason: "not valid JSON (\((error as NSError).localizedDescription))")
            }
            guard let array = any as? [Any] else { throw TuningDataError.unreadable(file: file, reason: "not a JSON array") }
            for (i, item) in array.enumerated() {
                guard let object = item as? [String: Any] else {
                    throw TuningDataError.malformedRow(file: file, location: "row \(i + 1)", reason: "not a JSON object")
                }
                rows.append(("row \(i + 1)", object))
            }
        } else {
            var line = 0
            var start = data.startIndex
            while start < data.endIndex {
                let end = data[start...].firstIndex(of: 0x0A) ?? data.endIndex
                line += 1
                let bytes = data[start..<end]
                start = end < data.endIndex ? data.index(after: end) : end
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                let object: [String: Any]
                do {
                    guard let o = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                        throw TuningDataError.malformedRow(file: file, location: "line \(line)", reason: "not a JSON object")
                    }
                    object = o
                } catch let e as TuningDataError { throw e } catch {
                    throw TuningDataError.malformedRow(file: file, location: "line \(line)", reason: "not valid JSON")
                }
                rows.append(("line \(line)", object))
            }
        }
        if rows.isEmpty { throw TuningDataError.noRows(file: file) }
    }
}

/// Typed field access on one row, with errors naming the file, location and field.
struct RowReader {
    let file: String
    let location: String
    let object: [String: Any]

    func fail(_ reason: String) -> TuningDataError { .malformedRow(file: file, location: location, reason: reason) }

    func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    /// A non-empty string field.
    func string(_ key: String, allowEmpty: Bool = false) throws -> String {
        guard let v = object[key], !(v is NSNull) else { throw fail("missing field \"\(key)\"") }
        guard let s = v as? String else { throw fail("field \"\(key)\" is not a string") }
        if !allowEmpty && s.isEmpty { throw fail("field \"\(key)\" is empty") }
        return s
    }

    /// A string (standard) or a non-empty list of `{role, content}` messages (conversational).
    func content(_ key: String, allowEmpty: Bool = false) throws -> TextOrMessages {
        guard let v = object[key], !(v is NSNull) else { throw fail("missing field \"\(key)\"") }
        if v is String { return .text(try string(key, allowEmpty: allowEmpty)) }
        guard let list = v as? [Any] else { throw fail("field \"\(key)\" is neither a string nor a list of messages") }
        return .messages(try messages(list, field: key))
    }

    func messages(_ list: [Any], field: String) throws -> [ChatMessage] {
        if list.isEmpty { throw fail("field \"\(field)\" is an empty list") }
        return try list.enumerated().map { k, item in
            guard let m = item as? [String: Any] else { throw fail("\(field)[\(k)] is not an object") }
            guard let role = m["role"] as? String, !role.isEmpty else { throw fail("\(field)[\(k)] has no string \"role\"") }
            guard let content = m["content"] as? String else { throw fail("\(field)[\(k)] has no string \"content\"") }
            return ChatMessage(role: role, content: content)
        }
    }

    /// A ShareGPT message `{from, value}` mapped to a chat message.
    func shareGPTMessage(_ item: Any, field: String) throws -> ChatMessage {
        guard let m = item as? [String: Any] else { throw fail("\(field) is not an object") }
        guard let from = m["from"] as? String else { throw fail("\(field) has no string \"from\"") }
        guard let value = m["value"] as? String else { throw fail("\(field) has no string \"value\"") }
        if value.isEmpty { throw fail("\(field) has an empty \"value\"") }
        let role: String
        switch from {
        case "human", "user": role = "user"
        case "gpt", "assistant": role = "assistant"
        case "system": role = "system"
        default: throw fail("\(field): unknown \"from\" \(from) (human, gpt or system)")
        }
        return ChatMessage(role: role, content: value)
    }
}
