import Foundation
import Testing
import IsaerftCore
import IsaerftFiles
import IsaerftTestSupport

@Suite("llama2.c checkpoint and tokenizer")
struct LlamaCCheckpointTests {
    static let model = "stories260K/stories260K.bin"
    static let tokenizer = "stories260K/tok512.bin"

    func stories() throws -> LlamaCCheckpoint? {
        guard let url = SharedData.url(Self.model) else {
            print(SharedData.missingMessage(Self.model))
            return nil
        }
        return try LlamaCCheckpoint(url: url)
    }

    @Test("stories260K: header (64, 172, 5, 8, 4, 512, 512), shared classifier")
    func header() throws {
        guard let ckpt = try stories() else { return }
        let h = ckpt.header
        let fields: [Int] = [h.dim, h.hiddenDim, h.layerCount, h.headCount, h.kvHeadCount, h.vocabSize, h.seqLen]
        #expect(fields == [64, 172, 5, 8, 4, 512, 512])
        #expect(h.sharedClassifier && h.headDim == 8)
    }

    @Test("stories260K: HF names and shapes, tied head, RoPE tables skipped")
    func shapes() throws {
        guard let ckpt = try stories() else { return }
        let converted = ckpt.converted()
        #expect(converted.tensors.names.count == 2 + 5 * 9)
        #expect(!converted.tensors.names.contains("lm_head.weight"))
        let shapes: [(String, [Int])] = [
            ("model.embed_tokens.weight", [512, 64]), ("model.norm.weight", [64]),
            ("model.layers.0.input_layernorm.weight", [64]), ("model.layers.4.self_attn.q_proj.weight", [64, 64]),
            ("model.layers.4.self_attn.k_proj.weight", [32, 64]), ("model.layers.2.self_attn.v_proj.weight", [32, 64]),
            ("model.layers.1.self_attn.o_proj.weight", [64, 64]), ("model.layers.3.post_attention_layernorm.weight", [64]),
            ("model.layers.0.mlp.gate_proj.weight", [172, 64]), ("model.layers.0.mlp.up_proj.weight", [172, 64]),
            ("model.layers.0.mlp.down_proj.weight", [64, 172]),
        ]
        for (name, shape) in shapes { #expect(try converted.tensors.tensor(name).shape == shape, "\(name)") }
        // Parameter count: 260,032 (hooks-and-models.md §3), i.e. without the 4,096 RoPE-table floats.
        let params = try converted.tensors.names.reduce(0) { $0 + (try converted.tensors.tensor($1).count) }
        #expect(params == 260_032)
        let config = try #require(try JSONSerialization.jsonObject(with: converted.configJSON) as? [String: Any])
        #expect(config["model_type"] as? String == "llama" && config["tie_word_embeddings"] as? Bool == true)
        #expect(config["head_dim"] as? Int == 8 && config["max_position_embeddings"] as? Int == 512)
        #expect(config["rms_norm_eps"] as? Double == 1e-5 && config["rope_theta"] as? Double == 10_000)
        #expect(config["bos_token_id"] as? Int == 1 && config["eos_token_id"] as? Int == 2)
        #expect(config["hidden_act"] as? String == "silu" && config["num_key_value_heads"] as? Int == 4)
        #expect(ggufThrown { _ = try converted.tensors.tensor("model.layers.5.mlp.up_proj.weight") }.contains("missing tensor"))
    }

    @Test("stories260K: q/k rows match a NumPy re-implementation of interleaved → rotate-half")
    func unpermutation() throws {
        guard let ckpt = try stories() else { return }
        let expected = try SafeTensorsFile(url: try ggufFixture("stories260K_layer0_qk.safetensors"))
        let converted = ckpt.converted()
        #expect(!expected.names.isEmpty)
        for name in expected.names {
            expectBitIdentical(try converted.tensors.tensor(name), try expected.tensor(name), name)
        }
        // Unpermuted tensors are the stored arrays as they are.
        let wv = try #require(ckpt.array("wv"))
        #expect(try converted.tensors.tensor("model.layers.0.self_attn.v_proj.weight").scalars == Array(wv.scalars.prefix(32 * 64)))
    }

    @Test("a truncated or padded copy fails the float-count check with byte counts")
    func sizeValidation() throws {
        guard let url = SharedData.url(Self.model) else { print(SharedData.missingMessage(Self.model)); return }
        let data = try Data(contentsOf: url)
        let short = ggufThrown { _ = try LlamaCCheckpoint(data: data.prefix(data.count - 4), url: url) }
        #expect(short.contains("truncated: needs 1056540 bytes, file has 1056536"), "\(short)")
        let long = ggufThrown { _ = try LlamaCCheckpoint(data: data + Data(count: 8), url: url) }
        #expect(long.contains("264128 floats"), "\(long)")
        // A negative vocabulary size (separate classifier) needs 512·64 more floats than the file has.
        var unshared = data
        unshared.replaceSubrange(20..<24, with: withUnsafeBytes(of: Int32(-512).littleEndian) { Data($0) })
        let message = ggufThrown { _ = try LlamaCCheckpoint(data: unshared, url: url) }
        #expect(message.contains("needs \(1_056_540 + 4 * 512 * 64) bytes"), "\(message)")
        var zero = data
        zero.replaceSubrange(12..<16, with: Data(count: 4))
        #expect(ggufThrown { _ = try LlamaCCheckpoint(data: zero, url: url) }.contains("implausible llama2.c header"))
    }

    @Test("a separate classifier becomes lm_head.weight and unties the head")
    func unsharedClassifier() throws {
        guard let url = SharedData.url(Self.model) else { print(SharedData.missingMessage(Self.model)); return }
        var data = try Data(contentsOf: url)
        data.replaceSubrange(20..<24, with: withUnsafeBytes(of: Int32(-512).littleEndian) { Data($0) })
        let wcls = (0..<(512 * 64)).map { Float($0) }
        data += wcls.withUnsafeBytes { Data($0) }
        let ckpt = try LlamaCCheckpoint(data: data, url: url)
        #expect(!ckpt.header.sharedClassifier)
        let converted = ckpt.converted()
        #expect(try converted.tensors.tensor("lm_head.weight").scalars == wcls)
        let config = try #require(try JSONSerialization.jsonObject(with: converted.configJSON) as? [String: Any])
        #expect(config["tie_word_embeddings"] as? Bool == false)
    }

    @Test("tok512.bin: 512 pieces with scores; max length 7; strict end")
    func tokenizer() throws {
        guard let url = SharedData.url(Self.tokenizer) else { print(SharedData.missingMessage(Self.tokenizer)); return }
        let t = try LlamaCTokenizerData(url: url, vocabSize: 512)
        #expect(t.maxTokenLength == 7 && t.pieces.count == 512 && t.scores.count == 512)
        // tokenizers.md §4: id 0 <unk>, 1 "\n<s>\n", 2 "\n</s>\n", 3..258 byte tokens <0x00>..<0xFF>.
        #expect(t.pieces[0] == Array("<unk>".utf8) && t.pieces[1] == Array("\n<s>\n".utf8))
        #expect(t.pieces[2] == Array("\n</s>\n".utf8) && t.pieces[3] == Array("<0x00>".utf8))
        #expect(t.pieces[410] == [0x20])
        #expect(ggufThrown { _ = try LlamaCTokenizerData(url: url, vocabSize: 511) }.contains("bytes follow the 511 tokens"))
        #expect(ggufThrown { _ = try LlamaCTokenizerData(url: url, vocabSize: 513) }.contains("truncated"))
    }
}
