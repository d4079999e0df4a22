import Foundation
import IsaerftCore
import IsaerftFiles

/// One line of `records.jsonl`: a flat JSON object with `step`, `kind` (`train` or `eval`) and metrics
/// under TRL's names (`training-objectives.md` §3): `loss`, `rewards/chosen`, `rewards/rejected`,
/// `rewards/margins`, `rewards/accuracies`, `logps/chosen`, `logps/rejected`, `logits/chosen`,
/// `logits/rejected`, `grad_norm`, `learning_rate`, …; eval rows carry the same names with the `eval_`
/// prefix (`eval_loss`, `eval_rewards/accuracies`, …), as the HF Trainer logs them.
public struct TrainingRecord: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case train, eval }

    public var step: Int
    public var kind: Kind
    /// Metric name (with `eval_` on eval rows) → value.
    public var metrics: [String: Double]

    public init(step: Int, kind: Kind, metrics: [String: Double]) { self.step = step; self.kind = kind; self.metrics = metrics }

    /// An eval row from unprefixed names (`loss` → `eval_loss`).
    public static func eval(step: Int, metrics: [String: Double]) -> TrainingRecord {
        TrainingRecord(step: step, kind: .eval, metrics: Dictionary(uniqueKeysWithValues: metrics.map { (TRLMetric.evalPrefix + $0.key, $0.value) }))
    }

    /// The metric under its unprefixed TRL name (`loss` finds `eval_loss` on eval rows).
    public func value(_ name: String) -> Double? { metrics[kind == .eval ? TRLMetric.evalPrefix + name : name] }

    /// The JSON line (sorted keys; non-finite values become null).
    public func jsonLine() -> String {
        var fields = ["\"step\":\(step)", "\"kind\":\"\(kind.rawValue)\""]
        for (k, v) in metrics.sorted(by: { $0.key < $1.key }) {
            fields.append("\(jsonQuoted(k)):\(v.isFinite ? "\(v)" : "null")")
        }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

/// TRL's metric names.
public enum TRLMetric {
    public static let loss = "loss"
    public static let rewardsChosen = "rewards/chosen"
    public static let rewardsRejected = "rewards/rejected"
    public static let rewardsMargins = "rewards/margins"
    public static let rewardsAccuracies = "rewards/accuracies"
    public static let logpsChosen = "logps/chosen"
    public static let logpsRejected = "logps/rejected"
    public static let logitsChosen = "logits/chosen"
    public static let logitsRejected = "logits/rejected"
    public static let gradNorm = "grad_norm"
    public static let learningRate = "learning_rate"
    public static let evalPrefix = "eval_"
}

/// Reading and appending `records.jsonl`.
public enum TrainingRecords {
    /// Appends one line (creating the file); each call is one `write` of a whole line.
    public static func append(_ record: TrainingRecord, to url: URL) throws {
        let line = Data((record.jsonLine() + "\n").utf8)
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw AdapterError.writeFailed(file: url.path, reason: "cannot create the file")
            }
        }
        do {
            let h = try FileHandle(forWritingTo: url)
            defer { try? h.close() }
            try h.seekToEnd()
            try h.write(contentsOf: line)
        } catch { throw AdapterError.writeFailed(file: url.path, reason: "\(error)") }
    }

    /// Every line; `step` (integer) and `kind` are required, every other numeric field is a metric
    /// (null values and non-numeric fields are skipped). A torn last line (no newline, not JSON) is ignored.
    public static func read(from url: URL) throws -> [TrainingRecord] {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw AdapterError.missingFile(url.path) }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        var out: [TrainingRecord] = []
        for (i, line) in lines.enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            let isLast = i == lines.count - 1
            guard let o = (try? JSONSerialization.jsonObject(with: Data(t.utf8))) as? [String: Any] else {
                if isLast { break }
                throw AdapterError.unreadable(file: url.path, reason: "line \(i + 1): not a JSON object")
            }
            guard let step = (o["step"] as? NSNumber)?.intValue else {
                throw AdapterError.unreadable(file: url.path, reason: "line \(i + 1): no integer \"step\"")
            }
            guard let k = o["kind"] as? String, let kind = TrainingRecord.Kind(rawValue: k) else {
                throw AdapterError.unreadable(file: url.path, reason: "line \(i + 1): \"kind\" must be \"train\" or \"eval\"")
            }
            var metrics: [String: Double] = [:]
            for (key, v) in o where key != "step" && key != "kind" {
                if let n = v as? NSNumber, !(v is Bool) { metrics[key] = n.doubleValue }
            }
            out.append(TrainingRecord(step: step, kind: kind, metrics: metrics))
        }
        return out
    }
}

func jsonQuoted(_ s: String) -> String { JSONEscaping.quoted(s) }
