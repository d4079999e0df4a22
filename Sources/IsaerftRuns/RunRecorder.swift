import Foundation
import IsaerftCore
import IsaerftFiles

/// One line of a records file: `{"step": 12, "kind": "train", "losses/mse_loss": 0.5, …}`.
public struct RunRecord: Sendable, Equatable {
    public var step: Int
    public var kind: String
    /// Metric name → value; a JSON null reads back as NaN (string and boolean fields are skipped).
    public var values: [String: Double]

    public init(step: Int, kind: String, values: [String: Double]) { self.step = step; self.kind = kind; self.values = values }

    /// The JSON line (no newline): `step`, `kind`, then the metrics sorted by name. Integral values
    /// below 2^53 are written as integers, other finite values in Swift's shortest round-trip form,
    /// non-finite values as null.
    public var jsonLine: String {
        var s = "{\"step\":\(step),\"kind\":\(JSONEscaping.quoted(kind))"
        for key in values.keys.sorted() {
            s += "," + JSONEscaping.quoted(key) + ":" + Self.number(values[key]!)
        }
        return s + "}"
    }

    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "null" }
        if v == v.rounded(), abs(v) < 0x1p53 { return String(Int64(v)) }
        return v.description
    }

    /// Parses one line; nil for a line that is not a complete record (a torn last line after a crash).
    /// Numbers are read exactly (JSONDecoder), so values round-trip bit for bit.
    public init?(jsonLine line: Substring) {
        guard let obj = try? JSONDecoder().decode([String: Field].self, from: Data(line.utf8)),
              case .number(let step)? = obj["step"], case .string(let kind)? = obj["kind"] else { return nil }
        var values: [String: Double] = [:]
        for (k, v) in obj where k != "step" && k != "kind" {
            switch v {
            case .number(let d): values[k] = d
            case .null: values[k] = .nan
            case .string, .bool: continue
            }
        }
        self.init(step: Int(step), kind: kind, values: values)
    }

    private enum Field: Decodable {
        case number(Double), string(String), bool(Bool), null
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null } else if let d = try? c.decode(Double.self) { self = .number(d) }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) } else { self = .string(try c.decode(String.self)) }
        }
    }
}

/// Appends run records (one JSON object per line) to a file, buffering up to `flushEvery` lines.
///
/// Resume: `RunRecorder(url:resumingAfter: step)` first rewrites the file atomically keeping only the
/// records with `step ≤ step` (the checkpoint's), so that lines written after the checkpoint by the
/// interrupted run are dropped and the resumed run's file equals an uninterrupted run's. Callers
/// `flush()` before saving a checkpoint so that every record up to it is on disk.
public final class RunRecorder {
    public let url: URL
    public let flushEvery: Int
    private var handle: FileHandle?
    private var pending: [String] = []

    /// - Parameters:
    ///   - resumingAfter: nil starts a new file (an existing one is replaced); a step keeps the records
    ///     up to it.
    ///   - flushEvery: records buffered before they are written.
    public init(url: URL, resumingAfter step: Int? = nil, flushEvery: Int = 20) throws {
        precondition(flushEvery >= 1, "RunRecorder: flushEvery \(flushEvery)")
        self.url = url
        self.flushEvery = flushEvery
        let fm = FileManager.default
        try? fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var kept = Data()
        if let step, fm.fileExists(atPath: url.path) {
            for record in try Self.read(url: url) where record.step <= step { kept.append(Data((record.jsonLine + "\n").utf8)) }
        }
        do { try AtomicFile.write(kept, to: url) } catch { throw RunsError.io(url.path, "\(error)") }
        do {
            let h = try FileHandle(forWritingTo: url)
            try h.seekToEnd()
            handle = h
        } catch {
            throw RunsError.io(url.path, "cannot open for appending: \((error as NSError).localizedDescription)")
        }
    }

    deinit { try? flush(); try? handle?.close() }

    /// Adds one record; written at the next flush.
    public func record(step: Int, kind: String, _ values: [String: Double]) throws {
        pending.append(RunRecord(step: step, kind: kind, values: values).jsonLine)
        if pending.count >= flushEvery { try flush() }
    }

    /// Writes the buffered records and fsyncs the file.
    public func flush() throws {
        guard let handle, !pending.isEmpty else { return }
        let data = Data((pending.joined(separator: "\n") + "\n").utf8)
        pending.removeAll(keepingCapacity: true)
        do {
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch {
            throw RunsError.io(url.path, "cannot append records: \((error as NSError).localizedDescription)")
        }
    }

    /// Flushes and closes the file; later `record` calls only buffer.
    public func close() throws {
        try flush()
        try? handle?.close()
        handle = nil
    }

    /// Every complete record of a records file, in file order. A torn final line is skipped; a bad
    /// line elsewhere is an error naming it.
    public static func read(url: URL) throws -> [RunRecord] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw RunsError.io(url.path, "cannot read the file") }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var out: [RunRecord] = []
        for (i, line) in lines.enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            if let r = RunRecord(jsonLine: line) { out.append(r); continue }
            if i == lines.count - 1 { break }   // torn last line (no newline after it)
            throw RunsError.badRecords(url.path, line: i + 1, "not a record (a JSON object with step and kind)")
        }
        return out
    }
}
