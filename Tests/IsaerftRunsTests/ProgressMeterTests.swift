import IsaerftRuns
import Testing

@Suite("ProgressMeter and InterruptFlag")
struct ProgressMeterTests {
    @Test("EMA rates and ETA")
    func rates() {
        var m = ProgressMeter(totalSteps: 100, startStep: 10, startTokens: 1000, smoothing: 0.5)
        m.update(step: 10, tokens: 1000, time: 0)
        #expect(m.stepsPerSecond == nil && m.etaSeconds == nil)
        m.update(step: 20, tokens: 2000, time: 1)      // 10 steps/s, 1000 tokens/s
        #expect(m.stepsPerSecond == 10 && m.tokensPerSecond == 1000)
        m.update(step: 30, tokens: 3000, time: 3)      // interval: 5 steps/s → EMA 7.5
        #expect(m.stepsPerSecond == 7.5 && m.tokensPerSecond == 750)
        #expect(m.etaSeconds == 70 / 7.5)
        #expect(ProgressMeter.formatDuration(3725) == "1h02m")
        #expect(ProgressMeter.formatDuration(185) == "3m05s")
        #expect(ProgressMeter.formatDuration(42) == "42s")
    }

    @Test("the first signal only sets the flag")
    func firstSignalSetsFlag() {
        InterruptFlag.install()
        InterruptFlag.reset()
        #expect(!InterruptFlag.isSet)
        // Process-directed (test threads may block signals, so raise() could stay pending); the
        // handler runs on some thread soon after.
        kill(getpid(), SIGINT)
        for _ in 0..<200 where !InterruptFlag.isSet { usleep(5_000) }
        #expect(InterruptFlag.isSet)
        InterruptFlag.reset()
        #expect(!InterruptFlag.isSet)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
