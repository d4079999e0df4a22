import Foundation
import IsaerftCore
import IsaerftFiles
import IsaerftSAE
import IsaerftTestSupport

/// SAELens-written fixtures (`scripts/make_sae_fixtures.py`, SAELens 6.54.12, torch 2.13.0 fp32).
enum SAEFixture {
    static let root = SharedData.fixturesRoot.appendingPathComponent("sae")

    /// SAELens folders (`save_model` / `save_inference_model`, or a hand-written pre-6 cfg.json).
    static let folders = ["standard", "standard_bdec", "gated", "topk", "topk_rescale", "abstopk", "jumprelu",
                          "layer_norm", "constant_norm", "hook_z", "expected_average", "batchtopk", "matryoshka",
                          "legacy", "legacy_topk"]
    /// Converter fixtures: SAELens' gemma_2, gemma_3 and llama_scope loaders on local files.
    static let converted = ["gemma_scope", "gemma_scope_2", "llama_scope"]
    static var all: [String] { folders + converted }

    static func manifest() throws -> JSONValue {
        try JSONValue.parse(Data(contentsOf: root.appendingPathComponent("manifest.json")))
    }

    static func note(_ name: String) throws -> JSONValue { try manifest()["fixtures"]![name]! }

    /// The fixture's SAE loaded the way its format needs (registry entries for the converters).
    static func load(_ name: String) throws -> SparseAutoencoder {
        let folder = root.appendingPathComponent(name)
        guard converted.contains(name) else { return try SparseAutoencoder.load(folder: folder) }
        let n = try note(name)
        let entry = try SAERegistry.lookup(release: n["release"]!.stringValue!, id: n["sae_id"]!.stringValue!)
        return try SparseAutoencoder.load(entry, from: folder)
    }

    static func reference(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(url: root.appendingPathComponent(name).appendingPathComponent("reference.safetensors"))
    }

    /// `sae.cfg.to_dict()` as SAELens held the loaded SAE.
    static func saelensConfig(_ name: String) throws -> JSONValue {
        try JSONValue.parse(Data(contentsOf: root.appendingPathComponent(name).appendingPathComponent("saelens_cfg.json")))
    }

    static func temporaryFolder(_ label: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("isaerft-sae-\(label)-\(UUID().uuidString)")
    }
}

/// Naive Double twin of the SAE forward (style rule 5): the formulas of SAELens 6.54.12 written
/// out loop by loop, for rows `[n, d_in]`.
enum ReferenceSAE {
    static func encode(_ sae: SparseAutoencoder, _ x: [Double], rows n: Int) -> (f: [Double], mu: [Double], sd: [Double], c: [Double]) {
        let c = sae.config, w = sae.weights, d = c.dIn, m = c.dSAE
        var xin = x
        var mus = [Double](repeating: 0, count: n), sds = [Double](repeating: 0, count: n), cs = [Double](repeating: 1, count: n)
        for r in 0..<n {
            var row = Array(xin[(r * d)..<((r + 1) * d)])
            switch c.normalizeActivations {
            case .constantNormRescale:
                let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
                cs[r] = Double(d).squareRoot() / norm
                row = row.map { $0 * cs[r] }
            case .layerNorm:
                let mu = row.reduce(0, +) / Double(d)
                row = row.map { $0 - mu }
                let sd = (row.reduce(0) { $0 + $1 * $1 } / Double(d - 1)).squareRoot()
                row = row.map { $0 / (sd + 1e-5) }
                mus[r] = mu; sds[r] = sd
            default: break
            }
            if c.applyBDecToInput { for j in 0..<d { row[j] -= Double(w.bDec.scalars[j]) } }
            for j in 0..<d { xin[r * d + j] = row[j] }
        }
        func product(_ wm: [Double], _ bias: [Double]) -> [Double] {
            var h = [Double](repeating: 0, count: n * m)
            for r in 0..<n { for i in 0..<m {
                var s = bias[i]
                for j in 0..<d { s += xin[r * d + j] * wm[j * m + i] }
                h[r * m + i] = s
            } }
            return h
        }
        let wEnc = w.wEnc.scalars.map(Double.init)
        var f = [Double](repeating: 0, count: n * m)
        switch c.architecture {
        case .standard:
            f = product(wEnc, w.bEnc!.scalars.map(Double.init)).map { max($0, 0) }
        case .jumprelu:
            let h = product(wEnc, w.bEnc!.scalars.map(Double.init)), t = w.threshold!.scalars.map(Double.init)
            for r in 0..<n { for i in 0..<m { let v = h[r * m + i]; f[r * m + i] = v > t[i] ? max(v, 0) : 0 } }
        case .gated:
            let gate = product(wEnc, w.bGate!.scalars.map(Double.init))
            let r = w.rMag!.scalars.map { Double(Foundation.exp($0)) }
            var mag = wEnc
            for j in 0..<d { for i in 0..<m { mag[j * m + i] *= r[i] } }
            let h = product(mag, w.bMag!.scalars.map(Double.init))
            for k in 0..<(n * m) { f[k] = gate[k] > 0 ? max(h[k], 0) : 0 }
        case .topk, .abstopk:
            var h = product(wEnc, w.bEnc!.scalars.map(Double.init))
            if c.rescaleActsByDecoderNorm {
                let norms = norms(w.wDec)
                for r in 0..<n { for i in 0..<m { h[r * m + i] *= norms[i] } }
            }
            let abs = c.architecture == .abstopk
            for r in 0..<n {
                let row = Array(h[(r * m)..<((r + 1) * m)])
                let order = (0..<m).sorted { (abs ? Swift.abs(row[$0]) : row[$0]) > (abs ? Swift.abs(row[$1]) : row[$1]) }
                for i in order.prefix(c.k!) { f[r * m + i] = abs ? row[i] : max(row[i], 0) }
            }
        }
        return (f, mus, sds, cs)
    }

    static func norms(_ wDec: Tensor) -> [Double] {
        let (m, d) = wDec.matrixShape
        return (0..<m).map { i in (0..<d).reduce(0.0) { $0 + Double(wDec.scalars[i * d + $1]) * Double(wDec.scalars[i * d + $1]) }.squareRoot() }
    }

    static func decode(_ sae: SparseAutoencoder, _ f: [Double], rows n: Int, mu: [Double], sd: [Double], c cs: [Double]) -> [Double] {
        let c = sae.config, w = sae.weights, d = c.dIn, m = c.dSAE
        let norms = c.rescaleActsByDecoderNorm ? norms(w.wDec) : [Double](repeating: 1, count: m)
        var y = [Double](repeating: 0, count: n * d)
        for r in 0..<n { for j in 0..<d {
            var s = Double(w.bDec.scalars[j])
            for i in 0..<m where f[r * m + i] != 0 { s += f[r * m + i] / norms[i] * Double(w.wDec.scalars[i * d + j]) }
            switch c.normalizeActivations {
            case .constantNormRescale: s /= cs[r]
            case .layerNorm: s = s * sd[r] + mu[r]
            default: break
            }
            y[r * d + j] = s
        } }
        return y
    }
}
