/// A TransformerLens hook point: a named place in the forward pass whose value can be captured,
/// replaced or edited, and where a gradient can be read.
///
/// `description` is the exact TransformerLens name (`blocks.3.hook_resid_post`), so SAELens
/// `cfg.json` `hook_name` values resolve. Value shapes follow TransformerLens: `[b, p, d]` for
/// residual-width hooks, `[b, p, h, dh]` for q/k/v/z, `[b, h, q, k]` for scores and pattern,
/// `[b, p, 1]` for norm scales, `[b, p, m]` for MLP hooks.
public enum HookPoint: Hashable, Sendable, CustomStringConvertible {
    case embed, posEmbed
    case residPre(Int), residMid(Int), residPost(Int), attnOut(Int), mlpOut(Int)
    case ln1Scale(Int), ln1Normalized(Int), ln2Scale(Int), ln2Normalized(Int)
    case attnQ(Int), attnK(Int), attnV(Int), attnScores(Int), attnPattern(Int), attnZ(Int)
    case mlpPre(Int), mlpPost(Int)
    case lnFinalScale, lnFinalNormalized
    // Llama / Qwen / Gemma blocks (TransformerLens names for rotary, gated-MLP and Gemma post-norm models).
    case rotQ(Int), rotK(Int), mlpPreLinear(Int)
    case ln1PostScale(Int), ln1PostNormalized(Int), ln2PostScale(Int), ln2PostNormalized(Int)

    public var description: String {
        switch self {
        case .embed: "hook_embed"
        case .posEmbed: "hook_pos_embed"
        case .residPre(let l): "blocks.\(l).hook_resid_pre"
        case .residMid(let l): "blocks.\(l).hook_resid_mid"
        case .residPost(let l): "blocks.\(l).hook_resid_post"
        case .attnOut(let l): "blocks.\(l).hook_attn_out"
        case .mlpOut(let l): "blocks.\(l).hook_mlp_out"
        case .ln1Scale(let l): "blocks.\(l).ln1.hook_scale"
        case .ln1Normalized(let l): "blocks.\(l).ln1.hook_normalized"
        case .ln2Scale(let l): "blocks.\(l).ln2.hook_scale"
        case .ln2Normalized(let l): "blocks.\(l).ln2.hook_normalized"
        case .attnQ(let l): "blocks.\(l).attn.hook_q"
        case .attnK(let l): "blocks.\(l).attn.hook_k"
        case .attnV(let l): "blocks.\(l).attn.hook_v"
        case .attnScores(let l): "blocks.\(l).attn.hook_attn_scores"
        case .attnPattern(let l): "blocks.\(l).attn.hook_pattern"
        case .attnZ(let l): "blocks.\(l).attn.hook_z"
        case .mlpPre(let l): "blocks.\(l).mlp.hook_pre"
        case .mlpPost(let l): "blocks.\(l).mlp.hook_post"
        case .lnFinalScale: "ln_final.hook_scale"
        case .lnFinalNormalized: "ln_final.hook_normalized"
        case .rotQ(let l): "blocks.\(l).attn.hook_rot_q"
        case .rotK(let l): "blocks.\(l).attn.hook_rot_k"
        case .mlpPreLinear(let l): "blocks.\(l).mlp.hook_pre_linear"
        case .ln1PostScale(let l): "blocks.\(l).ln1_post.hook_scale"
        case .ln1PostNormalized(let l): "blocks.\(l).ln1_post.hook_normalized"
        case .ln2PostScale(let l): "blocks.\(l).ln2_post.hook_scale"
        case .ln2PostNormalized(let l): "blocks.\(l).ln2_post.hook_normalized"
        }
    }

    /// The block index, or nil for embedding and final-norm hooks.
    public var layer: Int? {
        switch self {
        case .embed, .posEmbed, .lnFinalScale, .lnFinalNormalized: nil
        case .residPre(let l), .residMid(let l), .residPost(let l), .attnOut(let l), .mlpOut(let l),
             .ln1Scale(let l), .ln1Normalized(let l), .ln2Scale(let l), .ln2Normalized(let l),
             .attnQ(let l), .attnK(let l), .attnV(let l), .attnScores(let l), .attnPattern(let l), .attnZ(let l),
             .mlpPre(let l), .mlpPost(let l), .rotQ(let l), .rotK(let l), .mlpPreLinear(let l),
             .ln1PostScale(let l), .ln1PostNormalized(let l), .ln2PostScale(let l), .ln2PostNormalized(let l): l
        }
    }

    /// Position in the forward pass (larger runs later).
    public func order(layerCount: Int) -> Int {
        let slot: Int
        switch self {
        case .embed: return 0
        case .posEmbed: return 1
        case .lnFinalScale: return 2 + layerCount * 32
        case .lnFinalNormalized: return 3 + layerCount * 32
        case .residPre: slot = 0
        case .ln1Scale: slot = 1
        case .ln1Normalized: slot = 2
        case .attnQ: slot = 3
        case .attnK: slot = 4
        case .attnV: slot = 5
        case .rotQ: slot = 6
        case .rotK: slot = 7
        case .attnScores: slot = 8
        case .attnPattern: slot = 9
        case .attnZ: slot = 10
        case .ln1PostScale: slot = 11
        case .ln1PostNormalized: slot = 12
        case .attnOut: slot = 13
        case .residMid: slot = 14
        case .ln2Scale: slot = 15
        case .ln2Normalized: slot = 16
        case .mlpPre: slot = 17
        case .mlpPreLinear: slot = 18
        case .mlpPost: slot = 19
        case .ln2PostScale: slot = 20
        case .ln2PostNormalized: slot = 21
        case .mlpOut: slot = 22
        case .residPost: slot = 23
        }
        return 2 + layer! * 32 + slot
    }

    /// Parses a TransformerLens name; `nil` for names this model family does not have.
    public init?(name: String) {
        switch name {
        case "hook_embed": self = .embed; return
        case "hook_pos_embed": self = .posEmbed; return
        case "ln_final.hook_scale": self = .lnFinalScale; return
        case "ln_final.hook_normalized": self = .lnFinalNormalized; return
        default: break
        }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0] == "blocks", let l = Int(parts[1]), l >= 0,
              String(l) == parts[1] else { return nil }
        switch parts.dropFirst(2).joined(separator: ".") {
        case "hook_resid_pre": self = .residPre(l)
        case "hook_resid_mid": self = .residMid(l)
        case "hook_resid_post": self = .residPost(l)
        case "hook_attn_out": self = .attnOut(l)
        case "hook_mlp_out": self = .mlpOut(l)
        case "ln1.hook_scale": self = .ln1Scale(l)
        case "ln1.hook_normalized": self = .ln1Normalized(l)
        case "ln2.hook_scale": self = .ln2Scale(l)
        case "ln2.hook_normalized": self = .ln2Normalized(l)
        case "attn.hook_q": self = .attnQ(l)
        case "attn.hook_k": self = .attnK(l)
        case "attn.hook_v": self = .attnV(l)
        case "attn.hook_attn_scores": self = .attnScores(l)
        case "attn.hook_pattern": self = .attnPattern(l)
        case "attn.hook_z": self = .attnZ(l)
        case "mlp.hook_pre": self = .mlpPre(l)
        case "mlp.hook_post": self = .mlpPost(l)
        case "attn.hook_rot_q": self = .rotQ(l)
        case "attn.hook_rot_k": self = .rotK(l)
        case "mlp.hook_pre_linear": self = .mlpPreLinear(l)
        case "ln1_post.hook_scale": self = .ln1PostScale(l)
        case "ln1_post.hook_normalized": self = .ln1PostNormalized(l)
        case "ln2_post.hook_scale": self = .ln2PostScale(l)
        case "ln2_post.hook_normalized": self = .ln2PostNormalized(l)
        default: return nil
        }
    }

    /// Every hook point of a Llama/Qwen/Gemma-style model, in forward order (`postNorms`: Gemma 2/3).
    public static func allRotary(layerCount: Int, postNorms: Bool) -> [HookPoint] {
        var out: [HookPoint] = [.embed]
        for l in 0..<layerCount {
            out += [.residPre(l), .ln1Scale(l), .ln1Normalized(l), .attnQ(l), .attnK(l), .attnV(l), .rotQ(l), .rotK(l),
                    .attnScores(l), .attnPattern(l), .attnZ(l)]
            if postNorms { out += [.ln1PostScale(l), .ln1PostNormalized(l)] }
            out += [.attnOut(l), .residMid(l), .ln2Scale(l), .ln2Normalized(l), .mlpPre(l), .mlpPreLinear(l), .mlpPost(l)]
            if postNorms { out += [.ln2PostScale(l), .ln2PostNormalized(l)] }
            out += [.mlpOut(l), .residPost(l)]
        }
        return out + [.lnFinalScale, .lnFinalNormalized]
    }

    /// Every hook point of a GPT-2-style model with `layerCount` blocks, in forward order.
    public static func all(layerCount: Int) -> [HookPoint] {
        var out: [HookPoint] = [.embed, .posEmbed]
        for l in 0..<layerCount {
            out += [.residPre(l), .ln1Scale(l), .ln1Normalized(l), .attnQ(l), .attnK(l), .attnV(l),
                    .attnScores(l), .attnPattern(l), .attnZ(l), .attnOut(l), .residMid(l), .ln2Scale(l),
                    .ln2Normalized(l), .mlpPre(l), .mlpPost(l), .mlpOut(l), .residPost(l)]
        }
        return out + [.lnFinalScale, .lnFinalNormalized]
    }
}
