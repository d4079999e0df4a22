/// Everything that can be wrong with an SAE, its files, or its fit to a model; each `description`
/// is one line that names the file (or model) and the field.
public enum SAEError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A required file is absent or unreadable.
    case missingFile(String, reason: String)
    /// `cfg.json` (or another config) is not valid JSON or a field is missing / has the wrong type or value.
    case badConfig(file: String, field: String, reason: String)
    /// `architecture` names something this library does not run.
    case unknownArchitecture(file: String, String)
    /// Tensors the architecture needs are not in the weights file.
    case missingTensors(file: String, [String])
    /// Tensors in the weights file that the architecture does not have (strict loading, like `load_state_dict`).
    case unexpectedTensors(file: String, [String])
    /// A tensor has the wrong shape for `d_in` / `d_sae`.
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    /// A valid file uses a feature this library does not implement.
    case unsupported(file: String, reason: String)
    /// A `.npy` / `.npz` file is malformed or uses an unsupported encoding.
    case badNumPy(file: String, reason: String)
    /// An input's trailing axes do not give `d_in` values per row.
    case inputShape(expectedWidth: Int, found: [Int])
    /// The SAE's hook is not a hook point of the model.
    case unknownHook(String, reason: String)
    /// The SAE names no hook and none was given.
    case noHook
    /// `d_in` differs from the width of the model's hook.
    case widthMismatch(hook: String, saeWidth: Int, modelWidth: Int)
    /// The SAE was trained on another model.
    case modelMismatch(saeModel: String, model: String)
    /// A release name not in the registry.
    case unknownRelease(String, known: [String])
    /// An SAE id not in a known release.
    case unknownSAE(release: String, id: String, examples: [String])

    public var description: String {
        switch self {
        case let .missingFile(f, why): "\(f): cannot be read (\(why))"
        case let .badConfig(f, field, why): "\(f): field '\(field)' \(why)"
        case let .unknownArchitecture(f, a):
            "\(f): field 'architecture' is '\(a)', not one of standard, gated, topk, abstopk, jumprelu (batchtopk and matryoshka SAEs are saved as jumprelu)"
        case let .missingTensors(f, names): "\(f): missing tensors \(names.joined(separator: ", "))"
        case let .unexpectedTensors(f, names): "\(f): unexpected tensors \(names.joined(separator: ", ")) (strict loading)"
        case let .shapeMismatch(f, t, e, found): "\(f): tensor \(t) has shape \(found), expected \(e)"
        case let .unsupported(f, why): "\(f): \(why)"
        case let .badNumPy(f, why): "\(f): \(why)"
        case let .inputShape(w, found): "SAE input of shape \(found) does not give rows of d_in = \(w) values"
        case let .unknownHook(name, why): "SAE hook '\(name)': \(why)"
        case .noHook: "the SAE's cfg.json names no hook (metadata.hook_name); pass the hook point explicitly"
        case let .widthMismatch(h, s, m): "SAE d_in \(s) does not match hook \(h) of width \(m) in this model"
        case let .modelMismatch(s, m): "SAE was trained on model '\(s)', but the model is '\(m)'"
        case let .unknownRelease(r, known):
            "unknown SAE release '\(r)' (known: \(known.prefix(8).joined(separator: ", "))\(known.count > 8 ? ", …" : ""))"
        case let .unknownSAE(r, id, ex):
            "release '\(r)' has no SAE '\(id)' (ids look like \(ex.prefix(4).joined(separator: ", "))\(ex.count > 4 ? ", …" : ""))"
        }
    }
}
