import Foundation
import IsaerftRuns
import IsaerftSAETraining
#if canImport(Glibc)
import Glibc
#endif

/// The live one-line status of `train-sae` on a terminal's stderr (carriage-return updates, at most
/// ~5 per second); silent when stderr is not a terminal.
final class ProgressLine {
    let enabled = isatty(2) != 0
    private var lastDraw = ContinuousClock.now - .seconds(10)

    /// `step 120/2441 · 35.2k tok/s · L0 42.1 · MSE 0.0123 · EV 0.812 · dead 3.1% · ETA 4m12s`.
    static func text(_ p: SAETrainerProgress) -> String {
        let m = p.metrics
        var parts = ["step \(p.step)/\(p.totalSteps)"]
        if let r = p.tokensPerSecond { parts.append(r >= 1000 ? String(format: "%.1fk tok/s", r / 1000) : String(format: "%.0f tok/s", r)) }
        if let v = m["metrics/l0"] { parts.append(String(format: "L0 %.1f", v)) }
        if let v = m["losses/mse_loss"] ?? m["metrics/mse"] { parts.append(String(format: "MSE %.4g", v)) }
        if let v = m["metrics/explained_variance"] { parts.append(String(format: "EV %.3f", v)) }
        if let v = m["sparsity/dead_fraction"] { parts.append(String(format: "dead %.1f%%", 100 * v)) }
        if let e = p.etaSeconds { parts.append("ETA " + ProgressMeter.formatDuration(e)) }
        return parts.joined(separator: " · ")
    }

    func show(_ p: SAETrainerProgress) {
        guard enabled else { return }
        let now = ContinuousClock.now
        guard now - lastDraw >= .milliseconds(200) || p.step == p.totalSteps else { return }
        lastDraw = now
        Output.progress(Self.text(p))
    }

    func message(_ s: String) {
        guard enabled else { return }
        Output.progress(s)
    }

    func end() { Output.endProgress() }
}
