/// Rate and time-left estimates for a loop: exponential moving averages of steps/s and tokens/s
/// over the intervals between `update` calls. Pure: the caller passes the clock reading.
///
/// The first interval seeds the averages; later intervals blend in with weight `smoothing`
/// (rate ← (1 − α)·rate + α·interval rate, with the interval rate = Δsteps / Δt).
public struct ProgressMeter: Sendable {
    public let totalSteps: Int?
    public let smoothing: Double
    public private(set) var stepsPerSecond: Double?
    public private(set) var tokensPerSecond: Double?
    public private(set) var step: Int
    public private(set) var tokens: Int
    private var lastTime: Double?

    /// - Parameters:
    ///   - startStep, startTokens: where the loop starts (a resumed run starts past 0).
    ///   - smoothing: α in (0, 1]; 1 keeps only the last interval.
    public init(totalSteps: Int?, startStep: Int = 0, startTokens: Int = 0, smoothing: Double = 0.1) {
        precondition(smoothing > 0 && smoothing <= 1, "ProgressMeter: smoothing \(smoothing)")
        self.totalSteps = totalSteps; self.smoothing = smoothing; self.step = startStep; self.tokens = startTokens
    }

    /// Records that the loop reached `step` and `tokens` at `time` (seconds, any monotonic origin).
    /// The first call only sets the origin.
    public mutating func update(step: Int, tokens: Int, time: Double) {
        defer { self.step = step; self.tokens = tokens; lastTime = time }
        guard let last = lastTime else { return }
        let dt = time - last
        guard dt > 0 else { return }
        let s = Double(step - self.step) / dt, t = Double(tokens - self.tokens) / dt
        stepsPerSecond = stepsPerSecond.map { (1 - smoothing) * $0 + smoothing * s } ?? s
        tokensPerSecond = tokensPerSecond.map { (1 - smoothing) * $0 + smoothing * t } ?? t
    }

    /// Seconds left at the current step rate, when both are known.
    public var etaSeconds: Double? {
        guard let totalSteps, let r = stepsPerSecond, r > 0 else { return nil }
        return Double(max(totalSteps - step, 0)) / r
    }

    /// `1h02m`, `3m05s`, `42s`.
    public static func formatDuration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h" + pad(s % 3600 / 60) + "m" }
        if s >= 60 { return "\(s / 60)m" + pad(s % 60) + "s" }
        return "\(s)s"
    }

    private static func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}
