import Foundation
import IsaerftCore
import IsaerftFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An ISaeRFT adapter folder (`training-objectives.md` §7):
///
/// ```
/// adapter_config.json          AdapterConfig (peft_type "ISAERFT")
/// adapter_model.safetensors    "<hook>.scale" [d_sae] | "<hook>.bias" [d_sae] | "<hook>.mlp.<i>.weight|bias", fp32
/// trajectories.safetensors     optional, TrajectoryRecorder
/// records.jsonl                optional, TrainingRecord lines (TRL metric names)
/// ```
public struct AdapterFolder: Sendable {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"
    public static let trajectoriesFile = "trajectories.safetensors"
    public static let recordsFile = "records.jsonl"

    public var url: URL
    public var config: AdapterConfig
    /// Component tensors by name (`AdapterComponent.tensorShapes`).
    public var tensors: [String: Tensor]

    public init(url: URL, config: AdapterConfig, tensors: [String: Tensor]) {
        self.url = url; self.config = config; self.tensors = tensors
    }

    /// The tensor of a scale or bias component: `[d_sae]`.
    public func vector(_ component: AdapterComponent) -> Tensor? {
        switch component.kind {
        case .scale: tensors["\(component.hookName).scale"]
        case .bias: tensors["\(component.hookName).bias"]
        case .mlp: nil
        }
    }

    public var trajectoriesURL: URL { url.appendingPathComponent(Self.trajectoriesFile) }
    public var recordsURL: URL { url.appendingPathComponent(Self.recordsFile) }

    // MARK: - Writing

    /// Writes `adapter_config.json` (pretty, sorted keys) and `adapter_model.safetensors` (fp32, metadata
    /// `format: pt`), plus `extraFiles` (name → bytes), as one atomic replacement of the folder: everything
    /// goes to a sibling `.<name>.partial-<pid>` folder, other files already in `url` (records, trajectories)
    /// are copied in, then the old folder is renamed aside, the new one renamed into place and the old one
    /// removed. An interruption leaves either the old folder or the new one under `url` (plus, at worst, a
    /// stray partial or `.old` sibling). Checks tensors against the config first (`validate`).
    public static func write(to url: URL, config: AdapterConfig, tensors: [String: Tensor], extraFiles: [String: Data] = [:]) throws {
        try validate(config: config, tensors: tensors, file: url.appendingPathComponent(weightsFile).path)
        let fm = FileManager.default
        let parent = url.deletingLastPathComponent()
        try? fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let tag = "\(ProcessInfo.processInfo.processIdentifier)-\(UInt64(Date().timeIntervalSince1970 * 1000))"
        let partial = parent.appendingPathComponent(".\(url.lastPathComponent).partial-\(tag)")
        let old = parent.appendingPathComponent(".\(url.lastPathComponent).old-\(tag)")
        do {
            try fm.createDirectory(at: partial, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(try encoder.encode(config) + Data("\n".utf8), to: partial.appendingPathComponent(configFile))
            let ordered = tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            try SafeTensors.write(ordered, metadata: ["format": "pt"], to: partial.appendingPathComponent(weightsFile))
            for (name, data) in extraFiles { try AtomicFile.write(data, to: partial.appendingPathComponent(name)) }
            var isDir: ObjCBool = false
            let exists = fm.fileExists(atPath: url.path, isDirectory: &isDir)
            if exists && !isDir.boolValue { throw AdapterError.writeFailed(file: url.path, reason: "exists and is not a folder") }
            if exists {
                let written = Set([configFile, weightsFile] + Array(extraFiles.keys))
                for name in try fm.contentsOfDirectory(atPath: url.path) where !written.contains(name) && !name.hasSuffix(".partial") {
                    try fm.copyItem(at: url.appendingPathComponent(name), to: partial.appendingPathComponent(name))
                }
                try moveAtomically(url, to: old)
            }
            try moveAtomically(partial, to: url)
            if exists { try? fm.removeItem(at: old) }
        } catch {
            try? fm.removeItem(at: partial)
            if let e = error as? AdapterError { throw e }
            throw AdapterError.writeFailed(file: url.path, reason: "\(error)")
        }
    }

    static func moveAtomically(_ from: URL, to: URL) throws {
        guard rename(from.path, to.path) == 0 else {
            throw AdapterError.writeFailed(file: to.path, reason: "rename from \(from.lastPathComponent): \(String(cString: strerror(errno)))")
        }
    }

    /// Throws unless `tensors` holds exactly the tensors of `config`'s components with their shapes.
    public static func validate(config: AdapterConfig, tensors: [String: Tensor], file: String) throws {
        guard config.peftType == AdapterConfig.peftTypeName else { throw AdapterError.unknownPeftType(file: file, found: config.peftType) }
        let shapes = try config.tensorShapes()
        for (name, shape) in shapes {
            guard let t = tensors[name] else { throw AdapterError.missingTensor(file: file, name: name) }
            guard t.shape == shape else { throw AdapterError.shapeMismatch(file: file, name: name, expected: shape, found: t.shape) }
        }
        let known = Set(shapes.map(\.0))
        if let extra = tensors.keys.sorted().first(where: { !known.contains($0) }) {
            throw AdapterError.unexpectedTensor(file: file, name: extra)
        }
    }

    // MARK: - Reading

    /// Reads and checks a folder: the config must have `peft_type` "ISAERFT", every component's tensors
    /// must be present with the shapes the config implies (`d_sae` from its `sae`), and no other tensors.
    public static func read(from url: URL) throws -> AdapterFolder {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else { throw AdapterError.missingFile(url.path) }
        guard isDir.boolValue else { throw AdapterError.unreadable(file: url.path, reason: "not a folder (an adapter is a folder with \(configFile))") }
        let configURL = url.appendingPathComponent(configFile)
        guard let data = fm.contents(atPath: configURL.path) else { throw AdapterError.missingFile(configURL.path) }
        let config = try decodeConfig(data, file: configURL.path)
        let weightsURL = url.appendingPathComponent(weightsFile)
        guard fm.fileExists(atPath: weightsURL.path) else { throw AdapterError.missingFile(weightsURL.path) }
        var tensors: [String: Tensor] = [:]
        do {
            let file = try SafeTensorsFile(url: weightsURL)
            for name in file.names { tensors[name] = try file.tensor(name) }
        } catch {
            throw AdapterError.unreadable(file: weightsURL.path, reason: "\(error)")
        }
        try validate(config: config, tensors: tensors, file: weightsURL.path)
        return AdapterFolder(url: url, config: config, tensors: tensors)
    }

    /// Decodes `adapter_config.json`, reporting a wrong `peft_type` before any other field.
    public static func decodeConfig(_ data: Data, file: String) throws -> AdapterConfig {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw AdapterError.unreadable(file: file, reason: "not valid JSON")
        }
        guard let dict = object as? [String: Any] else { throw AdapterError.unreadable(file: file, reason: "not a JSON object") }
        guard let type = dict["peft_type"] as? String else { throw AdapterError.unreadable(file: file, reason: "no string field \"peft_type\"") }
        guard type == AdapterConfig.peftTypeName else { throw AdapterError.unknownPeftType(file: file, found: type) }
        do { return try JSONDecoder().decode(AdapterConfig.self, from: data) } catch let e as DecodingError {
            throw AdapterError.unreadable(file: file, reason: describe(e))
        }
    }

    static func describe(_ e: DecodingError) -> String {
        switch e {
        case .keyNotFound(let key, let c):
            let path = (c.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
            return "missing field \(path)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return "bad value at \(path.isEmpty ? "top level" : path): \(c.debugDescription)"
        @unknown default: return "malformed config"
        }
    }
}
