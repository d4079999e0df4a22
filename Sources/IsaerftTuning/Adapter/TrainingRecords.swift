import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftRuns

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

    /// The JSON line, as the trainer's `RunRecorder` writes it (sorted keys; non-finite values become null).
    public func jsonLine() -> String { RunRecord(step: step, kind: kind.rawValue, values: metrics).jsonLine }
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

    /// Every line, parsed by IsaerftRuns' `RunRecorder.read` (the trainer's writer): `step` and `kind`
    /// are required and `kind` must be `train` or `eval`; null values are skipped. A torn last line
    /// (no newline, not JSON) is ignored.
    public static func read(from url: URL) throws -> [TrainingRecord] {
        guard FileManager.default.fileExists(atPath: url.path) else { throw AdapterError.missingFile(url.path) }
        let rows: [RunRecord]
        do { rows = try RunRecorder.read(url: url) } catch {
            throw AdapterError.unreadable(file: url.path, reason: "\(error)")
        }
        return try rows.map { r in
            guard let kind = TrainingRecord.Kind(rawValue: r.kind) else {
                throw AdapterError.unreadable(file: url.path, reason: "step \(r.step): \"kind\" must be \"train\" or \"eval\"")
            }
            return TrainingRecord(step: r.step, kind: kind, metrics: r.values.filter { !$0.value.isNaN })
        }
    }
}
