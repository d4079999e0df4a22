import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Signals seen since `install()`. Written only by the signal handler (one aligned 32-bit store) and
/// read by the loop; a raw pointer rather than a Swift global so the compiler neither caches reads
/// nor inserts exclusivity checks in the handler (async-signal-safe: no allocation, no locks).
nonisolated(unsafe) private let signalCount: UnsafeMutablePointer<Int32> = {
    let p = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    p.initialize(to: 0)
    return p
}()

/// Ctrl-C for long jobs: the first SIGINT or SIGTERM sets a flag that the loop polls (it then
/// writes a checkpoint and stops cleanly); a second signal exits at once with status 128 + signal.
///
/// ```swift
/// InterruptFlag.install()
/// while !done { step(); if InterruptFlag.isSet { saveCheckpoint(); break } }
/// ```
public enum InterruptFlag {
    /// Installs the SIGINT and SIGTERM handlers (idempotent).
    public static func install() {
        for sig in [SIGINT, SIGTERM] {
            _ = signal(sig) { s in
                if signalCount.pointee > 0 { _exit(128 + s) }
                signalCount.pointee = 1
            }
        }
    }

    /// True once a signal arrived (or `set()` was called).
    public static var isSet: Bool { signalCount.pointee != 0 }

    /// Sets the flag as a signal would (tests, programmatic stops).
    public static func set() { signalCount.pointee = 1 }

    /// Clears the flag (the next signal again only sets it).
    public static func reset() { signalCount.pointee = 0 }
}
