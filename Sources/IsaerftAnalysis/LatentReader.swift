import Foundation
import IsaerftCore
import IsaerftModels
import IsaerftSAE

/// One latent's activation at one token.
public struct LatentActivation: Sendable, Equatable {
    public var latent: Int
    public var activation: Float
    public init(latent: Int, activation: Float) { self.latent = latent; self.activation = activation }
}

/// Reads SAE features from a model: a forward pass that stops after the hook's block (TransformerLens
/// `stop_at_layer = L + 1`), the hook's value captured and encoded (`hook_sae_acts_post`).
///
/// Which activations the SAE expects is the caller's part (`sae-formats-and-math.md` §7): an SAE with
/// `config.expectsCenteredWritingWeights` (gpt2-small-res-jb) needs a `GPT2Model` loaded with
/// `centeringWritingWeights()`; BOS handling follows the token rows given.
public struct LatentReader: Sendable {
    public let model: any HookedLanguageModel
    public let sae: SparseAutoencoder
    public let hook: HookPoint

    /// Checks that `sae` fits `model` at `hook` (default: the SAE's `hook_name`); model names are not compared.
    public init(model: any HookedLanguageModel, sae: SparseAutoencoder, hook: HookPoint? = nil) throws {
        let point = try hook ?? sae.hookPoint()
        try sae.checkFits(model: model, modelName: nil, at: point)
        self.model = model; self.sae = sae; self.hook = point
    }

    /// Features of `rows` (equal lengths): `[B, T, d_sae]`.
    public func features(_ rows: [[Int]]) throws -> Tensor {
        var options = ForwardOptions(hooks: HookSet(capture: [hook]), logits: .none)
        options.stopAfterLayer = hook.layer
        let out = try model.forward(TokenBatch(ids: rows), options: options)
        guard var value = out.captured[hook] else { throw AnalysisError.invalidInput("the model did not produce \(hook)") }
        let b = rows.count, t = rows.first?.count ?? 0
        if let head = sae.config.hookHeadIndex {
            // [b, t, h, dh] → head `head`'s [b·t, dh] slice.
            let h = value.shape[2], dh = value.shape[3]
            var slice = Tensor(shape: [b * t, dh])
            for r in 0..<(b * t) { for j in 0..<dh { slice.scalars[r * dh + j] = value.scalars[(r * h + head) * dh + j] } }
            value = slice
        } else {
            value = value.reshaped([b * t, sae.dIn])
        }
        return try sae.encode(value).reshaped([b, t, sae.dSAE])
    }

    /// The `k` most active latents at each token of `ids` (see `topLatents(features:k:)`).
    public func topLatents(_ ids: [Int], k: Int) throws -> [[LatentActivation]] {
        try Self.topLatents(features: features([ids]).reshaped([ids.count, sae.dSAE]), k: k)
    }

    /// Per row of `features` `[T, d_sae]`, the `k` largest **positive** activations in decreasing
    /// order (ties: lower latent index first), so a token with fewer than k active latents lists
    /// fewer. AbsTopK SAEs' negative activations are not listed.
    public static func topLatents(features: Tensor, k: Int) -> [[LatentActivation]] {
        let (t, d) = features.matrixShape
        return (0..<t).map { r in
            var best: [LatentActivation] = []
            best.reserveCapacity(k + 1)
            for i in 0..<d {
                let v = features.scalars[r * d + i]
                guard v > 0, k > 0 else { continue }
                if best.count == k, let last = best.last, !(v > last.activation) { continue }
                // Insertion into the sorted list (k is small).
                var pos = best.count
                while pos > 0 && best[pos - 1].activation < v { pos -= 1 }
                best.insert(LatentActivation(latent: i, activation: v), at: pos)
                if best.count > k { best.removeLast() }
            }
            return best
        }
    }
}

/// A latent with its activation, label and Neuronpedia page, for listings.
public struct AnnotatedLatent: Sendable, Equatable {
    public var latent: Int
    public var activation: Float
    public var label: String?
    public var url: String?
}

extension LatentLabels {
    /// `latents` with their first label and (when `neuronpedia` is known) their feature page.
    public func annotate(_ latents: [LatentActivation], neuronpedia: NeuronpediaID?) -> [AnnotatedLatent] {
        latents.map { AnnotatedLatent(latent: $0.latent, activation: $0.activation, label: label(for: $0.latent),
                                      url: neuronpedia?.featureURL($0.latent)) }
    }
}
