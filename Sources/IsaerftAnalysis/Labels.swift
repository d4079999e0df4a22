import Foundation
import IsaerftData
import IsaerftSAE

/// One explanation of a latent, with its provenance (Neuronpedia explanation export fields,
/// `analysis-and-dashboards.md` §4).
public struct LatentExplanation: Sendable, Equatable {
    public var index: Int
    /// The label text (Neuronpedia `description`).
    public var description: String
    /// How it was made (`oai_token-act-pair`, `np_acts-logits-general`, `csv`, …).
    public var typeName: String?
    /// The explainer model (`gpt-4o-mini`, …).
    public var explanationModelName: String?
    /// Neuronpedia `modelId` and `layer` (source id) of the line, when the file gave them.
    public var modelID: String?
    public var sourceID: String?

    public init(index: Int, description: String, typeName: String? = nil, explanationModelName: String? = nil,
                modelID: String? = nil, sourceID: String? = nil) {
        self.index = index; self.description = description; self.typeName = typeName
        self.explanationModelName = explanationModelName; self.modelID = modelID; self.sourceID = sourceID
    }
}

/// Latent index → explanations, imported from Neuronpedia explanation exports (`.jsonl`,
/// `.jsonl.gz`, or a folder of them: `v1/{modelId}/{sourceId}/explanations/batch-N.jsonl.gz`) or from a
/// plain CSV `index,label`. Explanations keep file order; `label(for:)` is the first one.
public struct LatentLabels: Sendable {
    public private(set) var explanations: [Int: [LatentExplanation]] = [:]

    public init() {}

    public init(_ items: [LatentExplanation]) { for e in items { add(e) } }

    public mutating func add(_ e: LatentExplanation) { explanations[e.index, default: []].append(e) }

    /// Number of latents with at least one explanation.
    public var count: Int { explanations.count }
    public var isEmpty: Bool { explanations.isEmpty }

    /// The first explanation's text, or nil.
    public func label(for index: Int) -> String? { explanations[index]?.first?.description }

    public func explanations(for index: Int) -> [LatentExplanation] { explanations[index] ?? [] }

    // MARK: - Loading

    /// Loads a labels file or folder, chosen by what it is: a folder (every `*.jsonl` / `*.jsonl.gz`
    /// inside, in name order), a `.csv` file, or a Neuronpedia export (JSONL, gzip detected by content).
    /// - Parameter source: keep only export lines whose `layer` is this source id (lines without
    ///   `layer` are kept); when the files have explanations but none for `source`, that is an error
    ///   naming the sources found (a labels file for another SAE).
    public static func load(_ url: URL, source: String? = nil) throws -> LatentLabels {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw AnalysisError.unreadable(url.path, reason: "no such file or folder")
        }
        if isDir.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            let files = names.filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".jsonl.gz") }.sorted()
            guard !files.isEmpty else { throw AnalysisError.unreadable(url.path, reason: "no *.jsonl or *.jsonl.gz files in the folder") }
            var all: [LatentExplanation] = []
            for f in files {
                let u = url.appendingPathComponent(f)
                all += try parseNeuronpediaJSONL(try read(u), file: u.path)
            }
            return try filtered(all, source: source, file: url.path)
        }
        let data = try read(url)
        if url.pathExtension.lowercased() == "csv" {
            guard let text = String(data: data, encoding: .utf8) else { throw AnalysisError.unreadable(url.path, reason: "not UTF-8 text") }
            return LatentLabels(try parseCSV(text, file: url.path))
        }
        return try filtered(try parseNeuronpediaJSONL(data, file: url.path), source: source, file: url.path)
    }

    static func read(_ url: URL) throws -> Data {
        guard var data = FileManager.default.contents(atPath: url.path) else {
            throw AnalysisError.unreadable(url.path, reason: "cannot read the file")
        }
        if Gzip.isGzip(data) {
            do { data = try Gzip.decompress(data, source: url.path) } catch {
                throw AnalysisError.unreadable(url.path, reason: "\(error)")
            }
        }
        return data
    }

    static func filtered(_ items: [LatentExplanation], source: String?, file: String) throws -> LatentLabels {
        guard let source else { return LatentLabels(items) }
        let kept = items.filter { $0.sourceID == nil || $0.sourceID == source }
        if kept.isEmpty && !items.isEmpty {
            let found = Set(items.compactMap(\.sourceID)).sorted().prefix(5).joined(separator: ", ")
            throw AnalysisError.unreadable(file, reason: "no explanations for source \(source) (the file has: \(found))")
        }
        return LatentLabels(kept)
    }

    /// Parses Neuronpedia explanation export lines: one JSON object per line with at least `index`
    /// (a number or a numeric string) and `description`; `modelId`, `layer`, `typeName`,
    /// `explanationModelName` are kept when present, other fields (`embedding`, scores, …) ignored.
    /// Blank lines are skipped; anything else that is not such an object is an error naming the line.
    public static func parseNeuronpediaJSONL(_ data: Data, file: String) throws -> [LatentExplanation] {
        var out: [LatentExplanation] = []
        var lineNumber = 0
        var start = data.startIndex
        while start < data.endIndex {
            let end = data[start...].firstIndex(of: 0x0A) ?? data.endIndex
            lineNumber += 1
            let line = data[start..<end]
            start = end < data.endIndex ? data.index(after: end) : end
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let json: JSONValue
            do { json = try JSONValue.parse(Data(line)) } catch {
                throw AnalysisError.badLabels(file: file, line: lineNumber, reason: "not valid JSON (\(error))")
            }
            guard json.objectPairs != nil else { throw AnalysisError.badLabels(file: file, line: lineNumber, reason: "not a JSON object") }
            let index: Int
            if let i = json["index"]?.intValue { index = i }
            else if let s = json["index"]?.stringValue, let i = Int(s.trimmingCharacters(in: .whitespaces)) { index = i }
            else { throw AnalysisError.badLabels(file: file, line: lineNumber, reason: "no integer field \"index\"") }
            guard index >= 0 else { throw AnalysisError.badLabels(file: file, line: lineNumber, reason: "negative index \(index)") }
            guard let description = json["description"]?.stringValue else {
                throw AnalysisError.badLabels(file: file, line: lineNumber, reason: "no string field \"description\"")
            }
            out.append(LatentExplanation(index: index, description: description, typeName: json["typeName"]?.stringValue,
                                         explanationModelName: json["explanationModelName"]?.stringValue,
                                         modelID: json["modelId"]?.stringValue, sourceID: json["layer"]?.stringValue))
        }
        return out
    }

    /// Parses a CSV of `index,label` records (RFC 4180: fields may be quoted, `""` is a quote inside
    /// a quoted field, quoted fields may span lines). A first record whose index is not an integer is
    /// a header and skipped; blank lines are skipped; a record without exactly two fields is an error
    /// (quote labels that contain commas).
    public static func parseCSV(_ text: String, file: String) throws -> [LatentExplanation] {
        var out: [LatentExplanation] = []
        for (n, (line, fields)) in try csvRecords(text, file: file).enumerated() {
            if fields.count == 1 && fields[0].trimmingCharacters(in: .whitespaces).isEmpty { continue }
            guard fields.count == 2 else {
                throw AnalysisError.badLabels(file: file, line: line, reason: "expected 2 fields (index,label), found \(fields.count); quote labels that contain commas")
            }
            guard let index = Int(fields[0].trimmingCharacters(in: .whitespaces)), index >= 0 else {
                if n == 0 { continue }   // header
                throw AnalysisError.badLabels(file: file, line: line, reason: "index '\(fields[0])' is not a non-negative integer")
            }
            out.append(LatentExplanation(index: index, description: fields[1], typeName: "csv"))
        }
        return out
    }

    /// CSV records with the line each starts on. Unquoted fields are trimmed of spaces.
    static func csvRecords(_ text: String, file: String) throws -> [(Int, [String])] {
        var records: [(Int, [String])] = []
        var fields: [String] = [], field = "", quoted = false, inQuotes = false, afterQuote = false
        var line = 1, recordLine = 1
        func endField() {
            fields.append(quoted ? field : field.trimmingCharacters(in: .whitespaces))
            field = ""; quoted = false; afterQuote = false
        }
        var it = Array(text.unicodeScalars).makeIterator()
        var pending: Unicode.Scalar? = nil
        while let c = pending ?? it.next() {
            pending = nil
            if inQuotes {
                if c == "\"" {
                    if let nx = it.next() {
                        if nx == "\"" { field.unicodeScalars.append("\"") } else { inQuotes = false; afterQuote = true; pending = nx }
                    } else { inQuotes = false; afterQuote = true }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"":
                guard field.trimmingCharacters(in: .whitespaces).isEmpty, !afterQuote else {
                    throw AnalysisError.badLabels(file: file, line: line, reason: "a quote inside an unquoted field")
                }
                field = ""; quoted = true; inQuotes = true
            case ",": endField()
            case "\r": continue
            case "\n":
                endField(); records.append((recordLine, fields)); fields = []
                line += 1; recordLine = line
            default:
                if afterQuote {
                    if c == " " || c == "\t" { continue }
                    throw AnalysisError.badLabels(file: file, line: line, reason: "text after a closing quote")
                }
                field.unicodeScalars.append(c)
            }
        }
        if inQuotes { throw AnalysisError.badLabels(file: file, line: recordLine, reason: "unterminated quoted field") }
        if !fields.isEmpty || !field.isEmpty || quoted { endField(); records.append((recordLine, fields)) }
        return records
    }

    // MARK: - Export

    /// Every explanation as a Neuronpedia export line (`modelId`, `layer`, `index` as a string as
    /// in Neuronpedia's files, `description`, `typeName`, `explanationModelName`), latents in index
    /// order, so other tools read our labels the same way.
    public func neuronpediaJSONL(modelID: String, sourceID: String) -> String {
        var out = ""
        for index in explanations.keys.sorted() {
            for e in explanations[index]! {
                var fields = [("modelId", jsonString(modelID)), ("layer", jsonString(sourceID)), ("index", jsonString(String(index))),
                              ("description", jsonString(e.description))]
                fields.append(("typeName", e.typeName.map(jsonString) ?? "null"))
                fields.append(("explanationModelName", e.explanationModelName.map(jsonString) ?? "null"))
                out += "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
            }
        }
        return out
    }
}
