import Foundation
import IsaerftCore
import IsaerftFiles

/// A saved checkpoint: its step, folder, tensors and decoded loop state.
public struct Checkpoint<State> {
    public var step: Int
    public var url: URL
    public var tensors: [String: Tensor]
    public var state: State
}

/// Checkpoints of a long job in one folder: `checkpoint-<step>/{tensors.safetensors, state.json}`.
///
/// `save` writes the two files into a hidden temporary folder (`.checkpoint-<step>.partial`), fsyncs
/// them, renames the folder to `checkpoint-<step>` (atomic on one file system) and fsyncs the parent,
/// then removes all but the newest `keep` checkpoints. A job killed at any moment leaves either the
/// previous checkpoints or the new one, never a half-written `checkpoint-<step>`; `latest` ignores
/// temporary folders and anything that does not read back.
///
/// ```swift
/// let store = CheckpointStore(directory: out.appendingPathComponent("checkpoints"), keep: 2)
/// try store.save(step: 100, tensors: sae.checkpointTensors(), state: loopState)
/// if let c = try store.latest(as: LoopState.self) { try sae.restore(from: c.tensors); loopState = c.state }
/// ```
public struct CheckpointStore: Sendable {
    public let directory: URL
    public let keep: Int

    public static let tensorsFile = "tensors.safetensors"
    public static let stateFile = "state.json"
    static let prefix = "checkpoint-"

    public init(directory: URL, keep: Int = 2) {
        precondition(keep >= 1, "CheckpointStore: keep \(keep)")
        self.directory = directory
        self.keep = keep
    }

    /// The folder of the checkpoint at `step`.
    public func url(step: Int) -> URL { directory.appendingPathComponent("\(Self.prefix)\(step)") }

    /// Writes a checkpoint atomically and prunes old ones. Tensors are stored as F32 under their names;
    /// `state` as JSON (sorted keys). Replaces an existing checkpoint of the same step.
    @discardableResult
    public func save<State: Encodable>(step: Int, tensors: [String: Tensor], state: State) throws -> URL {
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw RunsError.io(directory.path, "cannot create the folder: \((error as NSError).localizedDescription)")
        }
        let partial = directory.appendingPathComponent(".\(Self.prefix)\(step).partial")
        try? fm.removeItem(at: partial)
        do { try fm.createDirectory(at: partial, withIntermediateDirectories: false) } catch {
            throw RunsError.io(partial.path, "cannot create: \((error as NSError).localizedDescription)")
        }
        do {
            try SafeTensors.write(tensors.keys.sorted().map { ($0, tensors[$0]!) },
                                  metadata: ["step": String(step)], to: partial.appendingPathComponent(Self.tensorsFile))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            try AtomicFile.write(try encoder.encode(state), to: partial.appendingPathComponent(Self.stateFile))
            FileSync.syncDirectory(partial)
            let final = url(step: step)
            if fm.fileExists(atPath: final.path) {
                let old = directory.appendingPathComponent(".\(Self.prefix)\(step).old")
                try? fm.removeItem(at: old)
                try FileSync.rename(final, old)
                try FileSync.rename(partial, final)
                try? fm.removeItem(at: old)
            } else {
                try FileSync.rename(partial, final)
            }
            FileSync.syncDirectory(directory)
            try prune()
            return final
        } catch {
            try? fm.removeItem(at: partial)
            if let e = error as? RunsError { throw e }
            throw RunsError.io(partial.path, String(describing: error))
        }
    }

    /// Steps of the complete checkpoints (both files present), ascending.
    public func steps() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix(Self.prefix), let s = Int(name.dropFirst(Self.prefix.count)), s >= 0 else { return nil }
            let u = url(step: s)
            let fm = FileManager.default
            guard fm.fileExists(atPath: u.appendingPathComponent(Self.tensorsFile).path),
                  fm.fileExists(atPath: u.appendingPathComponent(Self.stateFile).path) else { return nil }
            return s
        }.sorted()
    }

    /// The newest checkpoint that reads back completely, or nil when there is none. A newer
    /// checkpoint that fails to read (damaged by hand, a disk error) is skipped for an older one.
    public func latest<State: Decodable>(as type: State.Type) throws -> Checkpoint<State>? {
        var firstError: RunsError?
        for step in steps().reversed() {
            do { return try load(step: step, as: type) } catch let e as RunsError {
                if firstError == nil { firstError = e }
            }
        }
        if let firstError, steps().isEmpty == false { throw firstError }
        return nil
    }

    /// Reads the checkpoint at `step`.
    public func load<State: Decodable>(step: Int, as type: State.Type) throws -> Checkpoint<State> {
        let u = url(step: step)
        let tensors: [String: Tensor]
        do {
            let file = try SafeTensorsFile(url: u.appendingPathComponent(Self.tensorsFile))
            var t: [String: Tensor] = [:]
            for name in file.names { t[name] = try file.tensor(name) }
            tensors = t
        } catch {
            throw RunsError.badCheckpoint(u.path, "\(Self.tensorsFile): \(error)")
        }
        let state: State
        do {
            let data = try Data(contentsOf: u.appendingPathComponent(Self.stateFile))
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            state = try decoder.decode(State.self, from: data)
        } catch {
            throw RunsError.badCheckpoint(u.path, "\(Self.stateFile): \(error)")
        }
        return Checkpoint(step: step, url: u, tensors: tensors, state: state)
    }

    /// Removes all but the newest `keep` checkpoints and any leftover temporary folders.
    func prune() throws {
        let fm = FileManager.default
        let all = steps()
        for s in all.dropLast(keep) { try? fm.removeItem(at: url(step: s)) }
        let names = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix(".\(Self.prefix)") && (name.hasSuffix(".partial") || name.hasSuffix(".old")) {
            try? fm.removeItem(at: directory.appendingPathComponent(name))
        }
    }
}
