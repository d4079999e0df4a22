import Foundation
import IsaerftCore
import IsaerftRuns

/// Progress of a tuning run (libraries never print; the CLI formats these).
public enum TuneEvent: Sendable {
    case resumed(step: Int)
    /// After each update: TRL's metric names plus `grad_norm`, `learning_rate`, `epoch`,
    /// `moved_latents`, `max_abs_change`, `l1_penalty`, `tokens`.
    case step(step: Int, of: Int, metrics: [String: Double])
    /// Held-out evaluation, metric names with the `eval_` prefix.
    case evaluation(step: Int, metrics: [String: Double])
    case checkpoint(step: Int, url: URL)
    case interrupted(step: Int)
}

/// What a finished (or interrupted) run reports.
public struct TuneSummary: Sendable {
    public var steps: Int
    public var completed: Bool
    public var lastTrain: [String: Double]
    public var lastEval: [String: Double]?
    public var firstEval: [String: Double]?
    /// Wall seconds of the optimizer steps run by this call (evaluations and checkpoints excluded).
    public var stepSeconds: Double = 0
    /// Steps run by this call (after a resume, fewer than `steps`).
    public var stepsRun: Int = 0
}

/// The loop state saved beside the tensors of a checkpoint.
struct TuneLoopState: Codable {
    var step: Int
    var trajectorySteps: [Int]
    var trajectoryInterval: Int
    var firstEval: [String: Double]?
    /// Scored tokens seen so far (the `tokens` metric).
    var tokens: Int
    var options: TuneOptions
}

/// Trains the engine's components: micro-batches from a `BatchPlan`, gradient accumulation, the
/// optional L1 penalty, global-norm clipping, AdamW/SGD with an HF schedule; records every update's
/// metrics (`records.jsonl`, TRL names, `eval_` rows for evaluations), the component values over
/// training (`trajectories.safetensors`), checkpoints (`checkpoints/`, atomic, newest 2 kept) and,
/// at the end, the adapter's tensors. `run(resume: true)` continues from the newest checkpoint and
/// ends with the same tensors, records and trajectories as an uninterrupted run (bit for bit: every
/// step is a pure function of the checkpointed state and the step index).
public final class TuneTrainer {
    public let engine: TuneEngine
    public let train: PreparedExamples
    public let eval: PreparedExamples?
    public let options: TuneOptions
    /// Where records, trajectories and checkpoints go (the adapter folder).
    public let directory: URL

    public init(engine: TuneEngine, train: PreparedExamples, eval: PreparedExamples?, options: TuneOptions, directory: URL) throws {
        try options.validate()
        guard train.count > 0 else { throw TuneError.noExamples("the training split is empty") }
        self.engine = engine; self.train = train; self.eval = eval; self.options = options; self.directory = directory
    }

    /// Every component parameter under its adapter name.
    public var namedParameters: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for i in engine.interventions { for (n, t) in i.component.namedParameters(hookName: i.hookName) { out[n] = t } }
        return out
    }

    func setParameters(_ named: [String: Tensor]) {
        for k in engine.interventions.indices {
            let i = engine.interventions[k]
            engine.interventions[k].component.parameters = i.component.parameterNames(hookName: i.hookName).map { named[$0]! }
        }
    }

    public func run(resume: Bool, onEvent: (TuneEvent) -> Void = { _ in }) throws -> TuneSummary {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = CheckpointStore(directory: directory.appendingPathComponent("checkpoints"), keep: 2)
        var optimizer = Optimizer(config: options.optimizer)
        let schedule = try options.schedule()
        var trajectories = TrajectoryRecorder(totalSteps: options.maxSteps)
        var firstEval: [String: Double]? = nil
        var startStep = 0
        var tokens = 0
        if !resume {   // never overwrite an earlier run's results
            if !store.steps().isEmpty {
                throw TuneError.checkpointMismatch("\(directory.path) holds checkpoints of an earlier run: pass --resume, or choose another output folder")
            }
            if fm.fileExists(atPath: directory.appendingPathComponent(AdapterFolder.weightsFile).path) {
                throw TuneError.invalidOption("\(directory.path) already holds an adapter: choose another output folder")
            }
        }
        if resume, let c = try store.latest(as: TuneLoopState.self) {
            guard c.state.options == options else {
                throw TuneError.checkpointMismatch("the checkpoint in \(store.directory.path) was made with other options")
            }
            var params = namedParameters
            for name in params.keys {
                guard let t = c.tensors["param.\(name)"], t.shape == params[name]!.shape else {
                    throw TuneError.checkpointMismatch("\(name) is missing or has another shape")
                }
                params[name] = t
            }
            setParameters(params)
            var opt: [String: Tensor] = [:]
            for (k, v) in c.tensors where k.hasPrefix("optimizer.") { opt[k] = v }
            try optimizer.restore(from: opt, shapes: params.mapValues(\.shape))
            var saved: [String: Tensor] = [:]
            for (k, v) in c.tensors where k.hasPrefix("trajectory.") { saved[String(k.dropFirst("trajectory.".count))] = v }
            trajectories = TrajectoryRecorder(resuming: Trajectories(steps: c.state.trajectorySteps, values: saved,
                                                                     interval: c.state.trajectoryInterval))
            firstEval = c.state.firstEval
            tokens = c.state.tokens
            startStep = c.state.step
            onEvent(.resumed(step: startStep))
        }
        let records = try RunRecorder(url: directory.appendingPathComponent(AdapterFolder.recordsFile),
                                      resumingAfter: startStep > 0 ? startStep : (resume ? 0 : nil))
        if startStep == 0 { trajectories.record(step: 0, tensors: namedParameters) }

        func checkpoint(_ step: Int) throws {
            var tensors: [String: Tensor] = [:]
            for (n, t) in namedParameters { tensors["param.\(n)"] = t }
            for (n, t) in optimizer.stateTensors() { tensors[n] = t }
            let tr = trajectories.trajectories
            for (n, t) in tr.values { tensors["trajectory.\(n)"] = t }
            try records.flush()
            let url = try store.save(step: step, tensors: tensors, state: TuneLoopState(
                step: step, trajectorySteps: tr.steps, trajectoryInterval: tr.interval, firstEval: firstEval, tokens: tokens, options: options))
            onEvent(.checkpoint(step: step, url: url))
        }

        let plan = BatchPlan(lengths: train.examples.map(\.longest), batchSize: options.batchSize, seed: options.seed)
        let ga = options.gradientAccumulationSteps
        var lastTrain: [String: Double] = [:]
        var lastEval: [String: Double]? = nil
        if startStep == 0, eval != nil {
            let m = try evaluate()
            firstEval = m
            try records.record(step: 0, kind: "eval", m)
            onEvent(.evaluation(step: 0, metrics: m))
        }
        var stepSeconds = 0.0
        for step in startStep..<options.maxSteps {
            let stepStart = Date()
            if InterruptFlag.isSet {
                try checkpoint(step)
                try records.close()
                onEvent(.interrupted(step: step))
                return TuneSummary(steps: step, completed: false, lastTrain: lastTrain, lastEval: lastEval, firstEval: firstEval)
            }
            var grads = engine.interventions.map { $0.component.parameters.map { Tensor(shape: $0.shape) } }
            var metrics: [String: Double] = [:]
            for j in 0..<ga {
                let out = try engine.run(train, indices: plan.batch(step * ga + j), gradients: true, gradientScale: 1 / Double(ga))
                for (k, v) in out.metrics { metrics[k, default: 0] += v / Double(ga) }
                for i in grads.indices { for p in grads[i].indices { accumulate(&grads[i][p], out.gradients![i][p]) } }
                tokens += out.tokens
            }
            var named: [String: Tensor] = [:]
            for (k, i) in engine.interventions.enumerated() {
                for (p, name) in i.component.parameterNames(hookName: i.hookName).enumerated() { named[name] = grads[k][p] }
            }
            var params = namedParameters
            if options.l1Penalty > 0 {
                var penalty = 0.0
                let lam = Float(options.l1Penalty)
                for (name, p) in params {
                    var g = named[name]!
                    for e in 0..<p.count {
                        let v = p.scalars[e]
                        penalty += Double(abs(v))
                        if v != 0 { g.scalars[e] += v > 0 ? lam : -lam }
                    }
                    named[name] = g
                }
                metrics["l1_penalty"] = options.l1Penalty * penalty
            }
            let norm = GradientClipping.clip(&named, maxNorm: options.maxGradNorm > 0 ? options.maxGradNorm : nil)
            let lr = schedule.learningRate(step: step, totalSteps: options.maxSteps, baseLR: options.learningRate)
            optimizer.step(&params, gradients: named, learningRate: lr)
            setParameters(params)

            let done = step + 1
            metrics["grad_norm"] = norm
            metrics["learning_rate"] = lr
            metrics["epoch"] = Double(done * ga * options.batchSize) / Double(train.count)
            metrics["tokens"] = Double(tokens)
            let moved = movement(params)
            metrics["moved_latents"] = Double(moved.count)
            metrics["max_abs_change"] = moved.maxAbs
            try records.record(step: done, kind: "train", metrics)
            trajectories.record(step: done, tensors: params, final: done == options.maxSteps)
            lastTrain = metrics
            stepSeconds += Date().timeIntervalSince(stepStart)
            onEvent(.step(step: done, of: options.maxSteps, metrics: metrics))

            let last = done == options.maxSteps
            if eval != nil, last || (options.evalEvery > 0 && done % options.evalEvery == 0) {
                let m = try evaluate()
                try records.record(step: done, kind: "eval", m)
                lastEval = m
                onEvent(.evaluation(step: done, metrics: m))
            }
            if !last, options.checkpointEvery > 0, done % options.checkpointEvery == 0 { try checkpoint(done) }
        }
        try records.close()
        try trajectories.write(to: directory.appendingPathComponent(AdapterFolder.trajectoriesFile))
        var summary = TuneSummary(steps: options.maxSteps, completed: true, lastTrain: lastTrain, lastEval: lastEval, firstEval: firstEval)
        summary.stepSeconds = stepSeconds
        summary.stepsRun = options.maxSteps - startStep
        return summary
    }

    /// Mean metrics over the held-out split (no gradients), with TRL's `eval_` prefix.
    public func evaluate() throws -> [String: Double] {
        guard let eval else { return [:] }
        var sums: [String: Double] = [:]
        var n = 0
        for lo in stride(from: 0, to: eval.count, by: options.batchSize) {
            let indices = Array(lo..<min(lo + options.batchSize, eval.count))
            let out = try engine.run(eval, indices: indices, gradients: false)
            for (k, v) in out.metrics { sums[k, default: 0] += v * Double(indices.count) }
            n += indices.count
        }
        var out: [String: Double] = [:]
        for (k, v) in sums { out["eval_" + k] = v / Double(max(n, 1)) }
        return out
    }

    /// Latents whose parameter left the identity by more than the threshold (scale and bias: the
    /// vector itself; mlp: the last layer's bias), and the largest change.
    func movement(_ params: [String: Tensor]) -> (count: Int, maxAbs: Double) {
        var count = 0, maxAbs = 0.0
        for (name, t) in params where name.hasSuffix(".scale") || name.hasSuffix(".bias") && !name.contains(".mlp.") {
            for v in t.scalars {
                let a = Double(abs(v))
                if a > options.movedThreshold { count += 1 }
                maxAbs = max(maxAbs, a)
            }
        }
        return (count, maxAbs)
    }
}
