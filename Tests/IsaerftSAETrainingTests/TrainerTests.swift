import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftRuns
import IsaerftSAE
import IsaerftSAETraining
import IsaerftTestSupport
import Testing

private struct SimulatedKill: Error {}

/// 12 steps of 64 tokens; checkpoints every 4 steps, evaluations every 6 steps (and at the end);
/// density windows of 5 steps and a dead window of 3 steps so both turn over within the run.
private func makeTrainer(output: URL, nanAtStep: Int? = nil, scale: Double? = nil) throws -> SAETrainer<StandInSAE> {
    let store = try ActivationStore(source: TrainerFixture.source(), options: TrainerFixture.options())
    var sae = StandInSAE(dIn: store.dIn, dSAE: 96, seed: 3)
    sae.nanAtStep = nanAtStep
    let options = SAETrainerOptions(trainingTokens: 12 * 64, checkpointEveryTokens: 4 * 64, evalEveryTokens: 6 * 64, keepCheckpoints: 2,
                                    deadFeatureWindow: 3, featureSamplingWindow: 5, evalBatchSize: 2, recordFlushEvery: 1,
                                    normScalingFactor: scale)
    let metadata = SAETrainingMetadata(modelName: "fixtures/gpt2/tiny_a", hookName: "blocks.0.hook_resid_post", contextSize: 32,
                                       prependBOS: true, datasetPath: "tinyshakespeare", normScalingFactor: scale)
    return try SAETrainer(sae: sae, store: store, options: options, metadata: metadata, outputDirectory: output)
}

private func bits(_ tensors: [String: Tensor]) -> [String: [UInt32]] { tensors.mapValues { $0.scalars.map(\.bitPattern) } }

/// Records without the wall-clock fields.
private func comparable(_ url: URL) throws -> [RunRecord] {
    try RunRecorder.read(url: url.appendingPathComponent(SAETrainerFiles.records)).map { r in
        RunRecord(step: r.step, kind: r.kind, values: r.values.filter { !$0.key.hasPrefix("timing/") })
    }
}

@Suite("SAETrainer with a stand-in SAE on tiny_a", .enabled(if: TrainerFixture.available, "\(TrainerFixture.missing)"))
struct TrainerTests {
    @Test("killed after a checkpoint, resumed: final weights, output files and records equal an uninterrupted run's")
    func killAndResume() throws {
        let straightDir = try TrainerFixture.temporaryFolder("straight")
        let killedDir = try TrainerFixture.temporaryFolder("killed")
        defer { try? FileManager.default.removeItem(at: straightDir); try? FileManager.default.removeItem(at: killedDir) }

        let straight = try makeTrainer(output: straightDir)
        var evaluations: [Int] = [], checkpoints: [Int] = []
        guard case .finished(let summary) = try straight.run(resume: false, onEvent: { e in
            if case let .evaluated(step, _) = e { evaluations.append(step) }
            if case let .checkpointSaved(step, _) = e { checkpoints.append(step) }
        }) else { Issue.record("the run did not finish"); return }
        #expect(summary.steps == 12 && summary.tokens == 768)
        #expect(evaluations == [6, 12])
        #expect(checkpoints == [4, 8])

        // Kill (no final save, no clean stop) two steps after the checkpoint at step 4.
        let first = try makeTrainer(output: killedDir)
        #expect(throws: SimulatedKill.self) {
            _ = try first.run(resume: false, onEvent: { e in if case .step(let p) = e, p.step == 6 { throw SimulatedKill() } })
        }
        #expect(!FileManager.default.fileExists(atPath: killedDir.appendingPathComponent(SAEFiles.weights).path))
        #expect(try RunRecorder.read(url: killedDir.appendingPathComponent(SAETrainerFiles.records)).last?.step == 6)
        let second = try makeTrainer(output: killedDir)
        var resumedAt: Int? = nil
        guard case .finished(let s2) = try second.run(resume: true, onEvent: { e in
            if case let .started(step, _, from) = e, from != nil { resumedAt = step }
        }) else { Issue.record("the resumed run did not finish"); return }
        #expect(resumedAt == 4 && s2.resumedFromStep == 4)

        #expect(bits(second.sae.checkpointTensors()) == bits(straight.sae.checkpointTensors()))
        for file in [SAEFiles.weights, SAEFiles.sparsity, SAEFiles.config] {
            #expect(try Data(contentsOf: killedDir.appendingPathComponent(file)) == Data(contentsOf: straightDir.appendingPathComponent(file)), "\(file)")
        }
        #expect(try comparable(killedDir) == comparable(straightDir))
        let records = try comparable(straightDir)
        #expect(records.filter { $0.kind == "train" }.map(\.step) == Array(1...12))
        #expect(records.filter { $0.kind == "eval" }.map(\.step) == [6, 12])
        #expect(records.first { $0.kind == "eval" }?.values["model_performance_preservation/ce_loss_score"]?.isFinite == true)
        #expect(records[0].values["details/n_training_samples"] == 64)
        #expect(records.first { $0.step == 6 && $0.kind == "train" }?.values["metrics/mean_log10_feature_sparsity"] != nil,
                "the density window of 5 steps closed before step 6")
    }

    @Test("the output folder loads as an SAELens folder; sparsity is log10(density + 1e-10) of the last window")
    func outputFolder() throws {
        let dir = try TrainerFixture.temporaryFolder("output")
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try makeTrainer(output: dir)
        _ = try trainer.run(resume: false)
        let sae = try SparseAutoencoder.load(folder: dir)
        #expect(sae.dIn == 64 && sae.dSAE == 96)
        #expect(sae.config.hookName == "blocks.0.hook_resid_post")
        let trained = trainer.sae.checkpointTensors()
        #expect(sae.weights.wEnc.scalars == trained["W_enc"]!.scalars)
        let s = try #require(sae.logSparsity)
        // Steps 11 and 12 form the last window (reset before step 11): densities are multiples of 1/128.
        for v in s.scalars {
            let density = Double(pow(10, Double(v))) - 1e-10
            #expect(v == -10 || abs(density * 128 - (density * 128).rounded()) < 1e-3, "log sparsity \(v)")
        }
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(SAETrainerFiles.trainingConfig).path))
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!files.contains { $0.hasSuffix(".partial") })
        // Evaluate the loaded SAE exactly as the last eval row did.
        let evalRow = try #require(try RunRecorder.read(url: dir.appendingPathComponent(SAETrainerFiles.records)).last { $0.kind == "eval" })
        let m = try sae.evaluate(on: TrainerFixture.tinyA, contexts: trainer.store.heldOutContexts,
                                 options: SAEEvalOptions(batchSize: 2, excludedTokens: [999]))
        #expect(evalRow.values["model_performance_preservation/ce_loss_score"] == m.ceLossScore)
    }

    @Test("shouldStop writes a checkpoint and stops; resume finishes with the same weights")
    func cleanStop() throws {
        let a = try TrainerFixture.temporaryFolder("stopA"), b = try TrainerFixture.temporaryFolder("stopB")
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        let straight = try makeTrainer(output: a, scale: 0.5)
        _ = try straight.run(resume: false)
        let first = try makeTrainer(output: b, scale: 0.5)
        var steps = 0
        let outcome = try first.run(resume: false, shouldStop: { steps >= 7 }, onEvent: { e in if case .step = e { steps += 1 } })
        guard case let .stopped(step, url) = outcome else { Issue.record("did not stop"); return }
        #expect(step == 7 && url.lastPathComponent == "checkpoint-7")
        let second = try makeTrainer(output: b, scale: 0.5)
        _ = try second.run(resume: true)
        #expect(bits(second.sae.checkpointTensors()) == bits(straight.sae.checkpointTensors()))
        #expect(try comparable(a) == comparable(b))
        // expected_average_only_in: the folded SAE on raw x equals the trained SAE on 0.5·x.
        let folded = try SparseAutoencoder.load(folder: b)
        #expect(folded.config.normalizeActivations == .none)
    }

    @Test("a non-finite loss stops with one line and keeps the last checkpoint; an existing run is not overwritten")
    func nonFiniteLoss() throws {
        let dir = try TrainerFixture.temporaryFolder("nan")
        defer { try? FileManager.default.removeItem(at: dir) }
        let trainer = try makeTrainer(output: dir, nanAtStep: 9)
        let e = #expect(throws: SAETrainerError.self) { _ = try trainer.run(resume: false) }
        let ckpt = dir.appendingPathComponent("checkpoints/checkpoint-8").path
        #expect(e == .nonFiniteLoss(step: 10, lastCheckpoint: ckpt))
        #expect(e?.description.contains("checkpoint-8") == true)
        #expect(trainer.checkpoints.steps() == [4, 8])
        #expect(throws: SAETrainerError.existingRun(dir.path)) { _ = try makeTrainer(output: dir).run(resume: false) }
    }
}
