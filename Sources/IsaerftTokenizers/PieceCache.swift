import Foundation

/// A thread-safe cache from a pre-token's bytes to its BPE ids (HF `tokenizers` keeps a similar
/// per-model cache; text has few distinct pieces). Bounded: when `capacity` entries are reached the
/// cache is emptied and refilled, which keeps memory flat on unbounded streams of new words.
final class PieceCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [[UInt8]: [Int32]] = [:]
    private let capacity: Int
    /// Pieces longer than this are not cached (long runs are rare and would dominate memory).
    let maxPieceBytes: Int

    init(capacity: Int = 100_000, maxPieceBytes: Int = 256) {
        self.capacity = capacity
        self.maxPieceBytes = maxPieceBytes
    }

    func get(_ key: [UInt8]) -> [Int32]? {
        lock.lock()
        defer { lock.unlock() }
        return entries[key]
    }

    func set(_ key: [UInt8], _ value: [Int32]) {
        lock.lock()
        defer { lock.unlock() }
        if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = value
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }
}
