import Foundation
import IsaerftFiles
import IsaerftModels
import IsaerftTestSupport

/// A committed model folder under `fixtures/` with the `reference.safetensors` written beside it
/// by the fixture scripts (transformers / TransformerLens values).
struct ModelFixture<Model: HookedLanguageModel> {
    let model: Model
    let reference: SafeTensorsFile

    init(folder: String, load: (URL) throws -> Model) throws {
        let url = SharedData.fixturesRoot.appendingPathComponent(folder)
        model = try load(url)
        reference = try SafeTensorsFile(url: url.appendingPathComponent("reference.safetensors"))
    }

    /// An int64 `[rows, T]` reference tensor as rows of ids.
    func ids(_ key: String) throws -> [[Int]] {
        let (shape, values) = try reference.int64s(key)
        let t = shape.last!
        return (0..<shape[0]).map { b in values[(b * t)..<((b + 1) * t)].map { Int($0) } }
    }
}
