import Foundation
import IsaerftCore
import IsaerftTestSupport
import IsaerftTuning
import Testing

/// Latent components: identity at init, adapter keys, Codable spec, finite-difference backward.
@Suite("Latent components")
struct ComponentTests {
    static let specs: [ComponentSpec] = [
        .scale(), .scale(.abs), .scale(.identity, limit: 0.5), .scale(.abs, limit: 2), .bias(), .bias(activeOnly: true),
        .mlp(depth: -1), .mlp(depth: 0), .mlp(depth: 1, hiddenSize: 5), .mlp(depth: 2, hiddenSize: 4),
    ]

    /// Sparse non-negative latents `[n, d]` with about half the entries zero.
    static func latents(_ n: Int, _ d: Int, seed: UInt64) -> Tensor {
        var f = Tensor.randomNormal([n, d], std: 1, seed: seed)
        for i in 0..<f.count { f.scalars[i] = f.scalars[i] > 0 ? f.scalars[i] + 0.1 : 0 }
        return f
    }

    @Test("fresh components are the identity and round-trip through adapter keys", arguments: specs.indices)
    func identityAndKeys(_ index: Int) throws {
        let spec = Self.specs[index], d = 7
        let c = try LatentComponent(spec: spec, latentCount: d, seed: 11)
        #expect(c.isIdentity)
        let f = Self.latents(4, d, seed: 1)
        let (delta, _) = c.forward(f)
        #expect(delta.dense(rowCount: 4, width: d).scalars.allSatisfy { $0 == 0 })
        let named = Dictionary(uniqueKeysWithValues: c.namedParameters(hookName: "blocks.3.hook_resid_post"))
        let names = c.parameterNames(hookName: "blocks.3.hook_resid_post")
        switch spec.kind {
        case .scale: #expect(names == ["blocks.3.hook_resid_post.scale"])
        case .bias: #expect(names == ["blocks.3.hook_resid_post.bias"])
        case .mlp: #expect(names.allSatisfy { $0.hasPrefix("blocks.3.hook_resid_post.mlp.") })
        }
        var other = named
        other["blocks.4.hook_resid_post.scale"] = Tensor(shape: [3])   // another hook's tensor is ignored
        let back = try LatentComponent(spec: spec, latentCount: d, hookName: "blocks.3.hook_resid_post", tensors: other)
        #expect(back.parameters == c.parameters)
        var extra = named
        extra["blocks.3.hook_resid_post.unknown"] = Tensor(shape: [1])
        #expect(throws: ComponentError.unexpectedTensor("blocks.3.hook_resid_post.unknown")) {
            try LatentComponent(spec: spec, latentCount: d, hookName: "blocks.3.hook_resid_post", tensors: extra)
        }
        let json = try JSONEncoder().encode(spec)
        #expect(try JSONDecoder().decode(ComponentSpec.self, from: json) == spec)
    }

    @Test("spec JSON uses the adapter_config keys")
    func specJSON() throws {
        let s = try JSONDecoder().decode(ComponentSpec.self, from: Data(#"{"kind":"mlp","depth":2,"hidden_size":8,"positions":"completion"}"#.utf8))
        #expect(s == ComponentSpec(kind: .mlp, depth: 2, hiddenSize: 8, positions: .completion))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ComponentSpec.self, from: Data(#"{"kind":"mlp","depth":-2}"#.utf8)) }
        let text = String(decoding: try JSONEncoder().encode(ComponentSpec.scale(.abs)), as: UTF8.self)
        #expect(text.contains(#""scale_processor":"abs""#))
    }

    /// loss = Σ δ ⊙ G; every parameter's gradient against central differences in Double.
    @Test("backward matches finite differences", arguments: specs.indices)
    func finiteDifferences(_ index: Int) throws {
        let spec = Self.specs[index], n = 6, d = 7
        var c = try LatentComponent(spec: spec, latentCount: d, seed: 2)
        c.parameters = c.parameters.enumerated().map { i, p in Tensor.randomNormal(p.shape, std: 0.4, seed: 40 + UInt64(i)) }
        if spec.kind == .scale { c.parameters[0].scalars[0] = 0 }   // abs: the +1 derivative at 0 (one-sided check below)
        let f = Self.latents(n, d, seed: 5)
        let mask = (0..<n).map { $0 != 2 }
        let g = Tensor.randomNormal([n, d], std: 1, seed: 6)
        func loss(_ comp: LatentComponent) -> Double {
            let (delta, _) = comp.forward(f, rowMask: mask)
            let t = delta.dense(rowCount: n, width: d)
            return zip(t.scalars, g.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        let (delta, cache) = c.forward(f, rowMask: mask)
        #expect(delta.dense(rowCount: n, width: d).scalars[(2 * d)..<(3 * d)].allSatisfy { $0 == 0 }, "masked row edited")
        let grads = c.backward(LatentDeltaGradient.from(dense: g, for: delta), cache: cache)
        var worst = 0.0
        for p in 0..<c.parameters.count {
            for i in 0..<c.parameters[p].count {
                let h: Float = 1e-2
                var plus = c, minus = c
                plus.parameters[p].scalars[i] += h
                let oneSided = spec.kind == .scale && spec.scaleProcessor == .abs && i == 0
                if !oneSided { minus.parameters[p].scalars[i] -= h }
                let fd = oneSided ? (loss(plus) - loss(minus)) / Double(h) : (loss(plus) - loss(minus)) / Double(2 * h)
                let err = abs(fd - Double(grads[p].scalars[i]))
                worst = max(worst, err)
                #expect(err <= 2e-3 * max(1, abs(fd)), "\(spec) parameter \(p)[\(i)]: backward \(grads[p].scalars[i]), FD \(fd)")
            }
        }
        print("component \(spec.kind) depth \(spec.depth) \(spec.scaleProcessor) limit \(String(describing: spec.scaleLimit)): worst FD error \(worst)")
    }

    @Test("mlp applies ReLU after every hidden layer (depth 1 is not linear)")
    func reluAfterEveryHiddenLayer() throws {
        var c = try LatentComponent(spec: .mlp(depth: 1, hiddenSize: 6), latentCount: 5, seed: 1)
        c.parameters[2] = Tensor.randomNormal([5, 6], std: 1, seed: 3)
        let f = Self.latents(3, 5, seed: 8)
        let (delta, _) = c.forward(f)
        var minus = f; minus.scalars = minus.scalars.map { -$0 }
        let (deltaMinus, _) = c.forward(minus)
        // A linear F would give F(−f) − c = −(F(f) − c) with c = 0.
        let a = delta.dense(rowCount: 3, width: 5).scalars, b = deltaMinus.dense(rowCount: 3, width: 5).scalars
        #expect(zip(a, b).contains { abs($0 + $1) > 1e-3 })
    }

    @Test("amplify-only scale never multiplies a latent by less than 1")
    func amplifyOnly() throws {
        var c = try LatentComponent(spec: .scale(.abs), latentCount: 4, seed: 0)
        c.parameters[0] = Tensor(shape: [4], scalars: [-0.7, 0.3, -2, 0])
        let f = Tensor(shape: [1, 4], scalars: [1, 1, 1, 1])
        let d = c.forward(f).delta.dense(rowCount: 1, width: 4).scalars
        #expect(d == [0.7, 0.3, 2, 0])
    }

    @Test("position selections")
    func positions() {
        let m = ComponentPositions.completion.rowMask(promptLengths: [2, 1], realLengths: [4, 2], length: 4)
        #expect(m == [false, false, true, true, false, true, false, false])
        #expect(ComponentPositions.prompt.rowMask(promptLengths: [2, 1], realLengths: [4, 2], length: 4)
                == [true, true, false, false, true, false, false, false])
        #expect(ComponentPositions.all.rowMask(promptLengths: [2, 1], realLengths: [4, 2], length: 4)
                == [true, true, true, true, true, true, false, false])
    }
}
