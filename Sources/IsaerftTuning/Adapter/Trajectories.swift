import Foundation
import IsaerftCore
import IsaerftFiles

/// Parameter values over training, as stored in `trajectories.safetensors`:
///
/// - `"steps"`: I64 `[S]`, the optimizer steps recorded (increasing; step 0 = before the first update);
/// - one F32 tensor `[S, n]` per recorded parameter, under the parameter's adapter name
///   (`"<hook>.scale"`, …), row r = the values after step `steps[r]`;
/// - metadata `format` = `isaerft-trajectories-1`, `interval` = the final recording interval k.
public struct Trajectories: Sendable {
    public static let format = "isaerft-trajectories-1"

    public var steps: [Int]
    /// Parameter name → `[S, n]`.
    public var values: [String: Tensor]
    public var interval: Int

    public init(steps: [Int], values: [String: Tensor], interval: Int) {
        self.steps = steps; self.values = values; self.interval = interval
    }

    /// The series of element `index` of `parameter`: one value per recorded step.
    public func series(_ parameter: String, index: Int) -> [Float]? {
        guard let t = values[parameter], t.shape.count == 2, index >= 0, index < t.shape[1] else { return nil }
        let n = t.shape[1]
        return (0..<t.shape[0]).map { t.scalars[$0 * n + index] }
    }

    public func write(to url: URL) throws {
        let tensors = values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        try SafeTensors.write(tensors, int64: [(name: "steps", shape: [steps.count], values: steps.map { Int64($0) })],
                              metadata: ["format": Self.format, "interval": String(interval)], to: url)
    }

    /// Reads a file written by `write`; every tensor but `steps` must be `[S, n]` with S = the step count.
    public static func read(from url: URL) throws -> Trajectories {
        guard FileManager.default.fileExists(atPath: url.path) else { throw AdapterError.missingFile(url.path) }
        do {
            let file = try SafeTensorsFile(url: url)
            guard file.metadata["format"] == format else {
                throw AdapterError.unreadable(file: url.path, reason: "metadata format is \(file.metadata["format"] ?? "missing"), expected \(format)")
            }
            guard file.names.contains("steps") else { throw AdapterError.missingTensor(file: url.path, name: "steps") }
            let steps = try file.int64s("steps").values.map { Int($0) }
            var values: [String: Tensor] = [:]
            for name in file.names where name != "steps" {
                let t = try file.tensor(name)
                guard t.shape.count == 2, t.shape[0] == steps.count else {
                    throw AdapterError.shapeMismatch(file: url.path, name: name, expected: [steps.count, t.shape.last ?? 0], found: t.shape)
                }
                values[name] = t
            }
            return Trajectories(steps: steps, values: values, interval: Int(file.metadata["interval"] ?? "") ?? 1)
        } catch let e as AdapterError { throw e } catch {
            throw AdapterError.unreadable(file: url.path, reason: "\(error)")
        }
    }
}

/// Records component tensors during training, bounded to `maxRecords` rows.
///
/// The trainer calls `record(step:tensors:)` after every optimizer step (and once with step 0 before
/// training); the recorder keeps steps that are multiples of its interval k. k starts at
/// `initialInterval` (default `ceil(totalSteps / (maxRecords − 2))`, so a run of `totalSteps` fits
/// without thinning); whenever the rows would exceed `maxRecords`, every row whose step is not a
/// multiple of 2k is dropped (the newest row always stays) and k doubles. `record(…, final: true)`
/// keeps the last step whatever k is. Parameters with more than `maxValuesPerParameter` elements (the
/// weight matrices of mlp components) are not recorded; `skipped` lists them. Memory: at most
/// `maxRecords × n` floats per recorded parameter (256 × 16,384 floats = 16 MiB for a 16k SAE).
public struct TrajectoryRecorder: Sendable {
    public let maxRecords: Int
    public let maxValuesPerParameter: Int
    public private(set) var interval: Int
    public private(set) var steps: [Int] = []
    public private(set) var skipped: Set<String> = []
    var rows: [String: [[Float]]] = [:]
    var shapes: [String: Int] = [:]

    public init(totalSteps: Int? = nil, maxRecords: Int = 256, maxValuesPerParameter: Int = 1 << 16, initialInterval: Int? = nil) {
        precondition(maxRecords >= 3, "TrajectoryRecorder: maxRecords must be at least 3")
        self.maxRecords = maxRecords
        self.maxValuesPerParameter = maxValuesPerParameter
        if let initialInterval { interval = max(1, initialInterval) }
        else if let t = totalSteps { interval = max(1, (t + maxRecords - 3) / (maxRecords - 2)) }
        else { interval = 1 }
    }

    /// Whether `record(step:…)` would keep this step (lets the trainer skip copying tensors).
    public func wants(step: Int, final: Bool = false) -> Bool { final || step % interval == 0 }

    /// Keeps `tensors` (name → any shape; flattened) after `step` when `wants(step:final:)`.
    /// Steps must increase; a parameter's element count must not change.
    public mutating func record(step: Int, tensors: [String: Tensor], final: Bool = false) {
        guard wants(step: step, final: final) else { return }
        if let last = steps.last {
            precondition(step > last, "TrajectoryRecorder: step \(step) after \(last)")
        }
        for (name, t) in tensors {
            if t.count > maxValuesPerParameter { skipped.insert(name); continue }
            if let n = shapes[name] { precondition(n == t.count, "TrajectoryRecorder: \(name) changed size \(n) → \(t.count)") }
            else {
                shapes[name] = t.count
                // A parameter first seen late repeats its first value for the earlier rows.
                rows[name] = Array(repeating: t.scalars, count: steps.count)
            }
            rows[name]!.append(t.scalars)
        }
        steps.append(step)
        for name in rows.keys where rows[name]!.count < steps.count { rows[name]!.append(rows[name]!.last!) }
        if steps.count > maxRecords { thin() }
    }

    mutating func thin() {
        let next = interval * 2
        let keep = steps.indices.filter { steps[$0] % next == 0 || $0 == steps.count - 1 }
        steps = keep.map { steps[$0] }
        for name in rows.keys { rows[name] = keep.map { rows[name]![$0] } }
        interval = next
        if steps.count > maxRecords { thin() }
    }

    public var trajectories: Trajectories {
        var values: [String: Tensor] = [:]
        for (name, r) in rows {
            values[name] = Tensor(shape: [r.count, shapes[name]!], scalars: r.flatMap { $0 })
        }
        return Trajectories(steps: steps, values: values, interval: interval)
    }

    /// Writes `trajectories.safetensors` (atomically).
    public func write(to url: URL) throws { try trajectories.write(to: url) }
}

extension TrajectoryRecorder {
    /// Continues recording from trajectories saved at a checkpoint (exact resume: the rows, steps
    /// and interval are those of the interrupted run at that step).
    public init(resuming saved: Trajectories, maxRecords: Int = 256, maxValuesPerParameter: Int = 1 << 16) {
        self.init(maxRecords: maxRecords, maxValuesPerParameter: maxValuesPerParameter, initialInterval: saved.interval)
        steps = saved.steps
        for (name, t) in saved.values {
            let n = t.shape.count == 2 ? t.shape[1] : t.count
            shapes[name] = n
            rows[name] = (0..<saved.steps.count).map { Array(t.scalars[($0 * n)..<(($0 + 1) * n)]) }
        }
    }
}
