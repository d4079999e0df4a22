import Foundation
import IsaerftCore
import IsaerftSAETraining
import Testing

/// A naive Double forward of each architecture's loss (SAELens 6.54.12 definitions), the oracle for
/// central finite differences of the hand-written Float backward. Parameters use SAELens names and
/// layouts (`W_enc [d_in, d_sae]`). Selections (top-k sets) follow the perturbed parameters; the aux-k
/// residual is held at its unperturbed value (it is `detach`ed in SAELens).
struct ReferenceSAELoss {
    var config: SAETrainingConfig
    var x: [[Double]]
    var dead: Set<Int>
    var coefficient: Double

    func loss(_ p: [String: [Double]], frozenResidual: [[Double]]? = nil) -> (loss: Double, residual: [[Double]]) {
        let d = config.dIn, m = config.dSAE, n = x.count
        let wEnc = p["W_enc"]!, wDec = p["W_dec"]!, bDec = p["b_dec"]!
        var norms = [Double](repeating: 0, count: m)
        for i in 0..<m {
            var t = 0.0
            for j in 0..<d { t += wDec[i * d + j] * wDec[i * d + j] }
            norms[i] = t.squareRoot()
        }
        func enc(_ u: [Double], _ w: [Double], _ b: [Double]) -> [Double] {
            var out = b
            for i in 0..<m { for j in 0..<d { out[i] += u[j] * w[j * m + i] } }
            return out
        }
        func dec(_ f: [Double], bias: Bool = true) -> [Double] {
            var out = bias ? bDec : [Double](repeating: 0, count: d)
            for i in 0..<m where f[i] != 0 { for j in 0..<d { out[j] += f[i] * wDec[i * d + j] } }
            return out
        }
        func sq(_ a: [Double], _ b: [Double]) -> Double {
            var t = 0.0
            for j in 0..<a.count { let e = a[j] - b[j]; t += e * e }
            return t
        }
        func weighted(_ f: [Double], _ g: (Double) -> Double = { $0 }) -> Double {
            var t = 0.0
            for i in 0..<m { t += g(f[i] * norms[i]) }
            return t
        }
        var total = 0.0
        var residuals: [[Double]] = []
        var hs: [[Double]] = []
        var fs: [[Double]] = []
        for r in 0..<n {
            let u = config.applyBDecToInput ? zip(x[r], bDec).map { (a: Double, b: Double) -> Double in a - b } : x[r]
            switch config.architecture {
            case .standard:
                let f = enc(u, wEnc, p["b_enc"]!).map { (v: Double) -> Double in max(v, 0) }
                total += sq(dec(f), x[r]) / Double(n)
                total += coefficient * weighted(f) / Double(n)
            case .jumprelu:
                let h = enc(u, wEnc, p["b_enc"]!), th = p["threshold"]!
                let f = (0..<m).map { (i: Int) -> Double in h[i] > th[i] ? h[i] : 0 }
                total += sq(dec(f), x[r]) / Double(n)
                let ts = config.jumpReLUTanhScale
                total += coefficient * weighted(f) { Foundation.tanh(ts * $0) } / Double(n)
                if let c = config.preActLossCoefficient {
                    var pre = 0.0
                    for i in dead { pre += max(th[i] - h[i], 0) * norms[i] }
                    total += c * pre / Double(n)
                }
            case .gated:
                let gate = enc(u, wEnc, p["b_gate"]!)
                let rMag = p["r_mag"]!
                var wMag = wEnc
                for t in 0..<(d * m) { wMag[t] *= Foundation.exp(rMag[t % m]) }
                let mag = enc(u, wMag, p["b_mag"]!)
                let f = (0..<m).map { (i: Int) -> Double in gate[i] > 0 ? max(mag[i], 0) : 0 }
                let pa = gate.map { (v: Double) -> Double in max(v, 0) }
                total += sq(dec(f), x[r]) / Double(n)
                total += coefficient * weighted(pa) / Double(n)
                total += sq(dec(pa), x[r]) / Double(n)
            case .topk, .batchtopk:
                var h = enc(u, wEnc, p["b_enc"]!)
                if config.rescaleActsByDecoderNorm { for i in 0..<m { h[i] *= norms[i] } }
                hs.append(h)
            }
        }
        guard config.architecture == .topk || config.architecture == .batchtopk else { return (total, []) }
        let inv = config.rescaleActsByDecoderNorm ? norms.map { (v: Double) -> Double in 1 / v } : [Double](repeating: 1, count: m)
        if config.architecture == .topk {
            let k = Int(config.k)
            for h in hs {
                let keep = Set((0..<m).sorted { h[$0] > h[$1] }.prefix(k))
                fs.append((0..<m).map { (i: Int) -> Double in keep.contains(i) ? max(h[i], 0) : 0 })
            }
        } else {
            let count = Int(config.k * Double(n))
            let flat = hs.flatMap { (row: [Double]) -> [Double] in row.map { (v: Double) -> Double in max(v, 0) } }
            let cut = flat.sorted(by: >)[count - 1]
            fs = hs.map { (row: [Double]) -> [Double] in row.map { (v: Double) -> Double in v >= cut && v > 0 ? v : 0 } }
        }
        for r in 0..<n {
            let xhat = dec((0..<m).map { (i: Int) -> Double in fs[r][i] * inv[i] })
            total += sq(xhat, x[r]) / Double(n)
            residuals.append(zip(x[r], xhat).map { (a: Double, b: Double) -> Double in a - b })
        }
        if !dead.isEmpty {
            let kAuxFull = d / 2, kAux = min(kAuxFull, dead.count)
            let scale = min(Double(dead.count) / Double(kAuxFull), 1)
            let res = frozenResidual ?? residuals
            for r in 0..<n {
                let keep = Set(dead.sorted { hs[r][$0] > hs[r][$1] }.prefix(kAux))
                let a = (0..<m).map { (i: Int) -> Double in keep.contains(i) ? hs[r][i] * inv[i] : 0 }
                total += config.auxLossCoefficient * scale * sq(dec(a, bias: false), res[r]) / Double(n)
            }
        }
        return (total, residuals)
    }
}

@Suite("Hand-written SAE backward against finite differences (Double)")
struct TrainingStepGradCheckTests {
    static let configs: [(String, SAETrainingConfig)] = [
        ("standard", SAETrainingConfig(architecture: .standard, dIn: 6, dSAE: 10, l1Coefficient: 0.7)),
        ("topk", SAETrainingConfig(architecture: .topk, dIn: 6, dSAE: 10, k: 3, auxLossCoefficient: 0.5, deadFeatureWindow: 2)),
        ("topk no rescale", SAETrainingConfig(architecture: .topk, dIn: 6, dSAE: 10, k: 3, rescaleActsByDecoderNorm: false,
                                              deadFeatureWindow: 2, applyBDecToInput: false)),
        ("batchtopk", SAETrainingConfig(architecture: .batchtopk, dIn: 6, dSAE: 10, k: 2.5, deadFeatureWindow: 2)),
        ("jumprelu tanh + pre-act", SAETrainingConfig(architecture: .jumprelu, dIn: 6, dSAE: 10, l0Coefficient: 0.4,
                                                      jumpReLUSparsityLoss: .tanh, preActLossCoefficient: 0.3, deadFeatureWindow: 2)),
        ("gated", SAETrainingConfig(architecture: .gated, dIn: 6, dSAE: 10, l1Coefficient: 0.6)),
    ]

    @Test("every gradient element matches central differences", arguments: 0..<6)
    func gradCheck(_ index: Int) throws {
        let (label, config) = Self.configs[index]
        var rng = SplitMix64(seed: UInt64(100 + index))
        var named: [String: Tensor] = [:]
        let shapes: [String: [Int]] = ["W_enc": [6, 10], "W_dec": [10, 6], "b_dec": [6], "b_enc": [10], "threshold": [10],
                                       "b_gate": [10], "r_mag": [10], "b_mag": [10]]
        for (k, s) in shapes {
            var t = Tensor.randomNormal(s, std: k.hasPrefix("W") ? 0.5 : 0.2, seed: rng.next())
            if k == "threshold" { t.scalars = t.scalars.map { abs($0) } }
            named[k] = t
        }
        var sae = try TrainingSAE(config: config, parameters: named)
        sae.stepsSinceFired = (0..<10).map { Float($0 % 3 == 0 ? 5 : 0) }   // latents 0, 3, 6, 9 dead
        let x = Tensor.randomNormal([5, 6], seed: rng.next())
        _ = try sae.computeGradients(x, step: 0)
        let grads = sae.namedGradients
        let ref = ReferenceSAELoss(config: config, x: (0..<5).map { r in (0..<6).map { Double(x[r, $0]) } },
                                   dead: [0, 3, 6, 9], coefficient: config.sparsityCoefficient.value(step: 0))
        var p = sae.namedParameters.mapValues { $0.scalars.map(Double.init) }
        let frozen = ref.loss(p).residual
        var worst = 0.0
        for (name, g) in grads where name != "threshold" {
            for i in 0..<g.count {
                let h = 1e-6
                let v = p[name]![i]
                p[name]![i] = v + h; let up = ref.loss(p, frozenResidual: frozen).loss
                p[name]![i] = v - h; let down = ref.loss(p, frozenResidual: frozen).loss
                p[name]![i] = v
                let numeric = (up - down) / (2 * h)
                let err = abs(numeric - Double(g.scalars[i]))
                worst = max(worst, err / max(1, abs(numeric)))
                #expect(err <= 2e-4 + 1e-3 * abs(numeric), "\(label) \(name)[\(i)]: analytic \(g.scalars[i]), numeric \(numeric)")
            }
        }
        print("[sae-train gradcheck] \(label): worst relative error \(worst)")
    }
}
