#!/usr/bin/env python3
"""Generate GPT-2 parity fixtures for the Swift implementation.

Run from the repository root:

    /work/venv/ref/bin/python scripts/make_fixtures.py

Rewrites ``fixtures/gpt2/`` completely. Everything is built from configs with
random weights (no hub downloads) and fixed seeds, so the output is
deterministic for a given set of library versions (see
``scripts/requirements-fixtures.txt``).

Per configuration ``fixtures/gpt2/<name>/`` holds

* ``config.json`` + ``model.safetensors``: either exactly what
  ``GPT2LMHeadModel.save_pretrained`` writes (keys ``transformer.*``, tied
  head, no ``lm_head.weight``) or, for the config marked ``hub_layout``, the
  original ``openai-community/gpt2`` layout (no ``transformer.`` prefix, with the
  ``h.N.attn.bias`` causal-mask buffers as float32 ``[1,1,n_positions,n_positions]``).
* ``reference.safetensors``: reference tensors (see README section of
  ``fixtures/gpt2/manifest.json`` -> ``tensor_notes``).

References:
* HF ``transformers`` (eager attention, fp32, eval) for logits / loss / batch /
  generate.
* TransformerLens ``HookedTransformer`` (legacy API, weights converted with
  TL's own ``convert_gpt2_weights``) for hook activations and gradients,
  with no weight processing (``single.*``) and with ``from_pretrained``'s
  default processing (``centered.*``: fold_ln, center_writing_weights,
  center_unembed, fold_value_biases).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import safetensors
import safetensors.torch
import torch
import torch.nn.functional as F
import transformers
from transformers import GPT2Config, GPT2LMHeadModel

import transformer_lens
from transformer_lens import HookedTransformer, HookedTransformerConfig
from transformer_lens.pretrained.weight_conversions.gpt2 import convert_gpt2_weights

try:
    from importlib.metadata import version as _pkg_version
except ImportError:  # pragma: no cover
    _pkg_version = None

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "fixtures" / "gpt2"

INIT_STD = 0.2
TL_HF_TOL = 1e-4

CONFIGS = [
    dict(
        name="tiny_a",
        seed=1001,
        n_embd=64,
        n_layer=2,
        n_head=4,
        vocab_size=1000,
        n_positions=128,
        activation_function="gelu_new",
        hub_layout=False,
        T=16,
        T2=14,
        P=6,
        N=16,
    ),
    dict(
        name="tiny_b_hub",
        seed=2002,
        n_embd=48,
        n_layer=3,
        n_head=3,
        vocab_size=517,
        n_positions=64,
        activation_function="gelu_new",
        hub_layout=True,
        T=18,
        T2=16,
        P=7,
        N=16,
    ),
    dict(
        name="tiny_c_gelu",
        seed=3003,
        n_embd=32,
        n_layer=1,
        n_head=2,
        vocab_size=300,
        n_positions=64,
        activation_function="gelu",
        hub_layout=False,
        T=13,
        T2=12,
        P=5,
        N=16,
    ),
]

RIGHT_PAD = 4  # batch row 1: last 4 positions are padding
LEFT_PAD = 3  # batch row 2: first 3 positions are padding
PAD_ID = 0


def versions() -> dict:
    def v(pkg, mod):
        try:
            return _pkg_version(pkg)
        except Exception:  # pragma: no cover
            return getattr(mod, "__version__", "unknown")

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "transformer_lens": v("transformer-lens", transformer_lens),
        "safetensors": v("safetensors", safetensors),
        "numpy": np.__version__,
    }


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hook_names(n_layers: int) -> list[str]:
    names = ["hook_embed", "hook_pos_embed"]
    for L in range(n_layers):
        b = f"blocks.{L}"
        names += [
            f"{b}.hook_resid_pre",
            f"{b}.ln1.hook_scale",
            f"{b}.ln1.hook_normalized",
            f"{b}.attn.hook_q",
            f"{b}.attn.hook_k",
            f"{b}.attn.hook_v",
            f"{b}.attn.hook_attn_scores",
            f"{b}.attn.hook_pattern",
            f"{b}.attn.hook_z",
            f"{b}.hook_attn_out",
            f"{b}.hook_resid_mid",
            f"{b}.ln2.hook_scale",
            f"{b}.ln2.hook_normalized",
            f"{b}.mlp.hook_pre",
            f"{b}.mlp.hook_post",
            f"{b}.hook_mlp_out",
            f"{b}.hook_resid_post",
        ]
    names += ["ln_final.hook_scale", "ln_final.hook_normalized"]
    return names


def grad_hook_names(n_layers: int) -> list[str]:
    names = [
        "hook_embed",
        "blocks.0.hook_resid_pre",
        "blocks.0.hook_resid_mid",
    ]
    names += [f"blocks.{L}.hook_resid_post" for L in range(n_layers)]
    names += [
        "blocks.0.attn.hook_z",
        "blocks.0.mlp.hook_post",
        f"blocks.{n_layers - 1}.hook_attn_out",
        "ln_final.hook_normalized",
    ]
    # keep order, drop duplicates (n_layers == 1 makes none, but be safe)
    return list(dict.fromkeys(names))


def build_hf(c: dict) -> GPT2LMHeadModel:
    V = c["vocab_size"]
    cfg = GPT2Config(
        vocab_size=V,
        n_positions=c["n_positions"],
        n_embd=c["n_embd"],
        n_layer=c["n_layer"],
        n_head=c["n_head"],
        activation_function=c["activation_function"],
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        bos_token_id=V - 1,
        eos_token_id=V - 1,
        tie_word_embeddings=True,
    )
    torch.manual_seed(c["seed"])
    model = GPT2LMHeadModel._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    gen = torch.Generator().manual_seed(c["seed"])
    with torch.no_grad():
        for name, p in model.named_parameters():  # tied lm_head appears once (as wte)
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32) * INIT_STD
            if (".ln_" in name or "ln_f" in name) and name.endswith(".weight"):
                p.copy_(1.0 + noise)
            else:
                p.copy_(noise)
    model.eval()
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr(), "head not tied"
    return model


def tl_config(hf_model: GPT2LMHeadModel) -> HookedTransformerConfig:
    hc = hf_model.config
    return HookedTransformerConfig(
        model_name="custom-gpt2",
        n_layers=hc.n_layer,
        d_model=hc.n_embd,
        d_head=hc.n_embd // hc.n_head,
        n_heads=hc.n_head,
        d_mlp=4 * hc.n_embd,
        n_ctx=hc.n_positions,
        d_vocab=hc.vocab_size,
        d_vocab_out=hc.vocab_size,
        act_fn=hc.activation_function,
        eps=hc.layer_norm_epsilon,
        use_attn_scale=True,
        use_local_attn=False,
        scale_attn_by_inverse_layer_idx=False,
        normalization_type="LN",
        positional_embedding_type="standard",
        original_architecture="GPT2LMHeadModel",
        tokenizer_name=None,
        default_prepend_bos=False,
        init_weights=False,
        device="cpu",
        dtype=torch.float32,
    )


def build_tl(hf_model: GPT2LMHeadModel, processed: bool) -> HookedTransformer:
    cfg = tl_config(hf_model)
    tl = HookedTransformer(copy.deepcopy(cfg), tokenizer=None, move_to_device=True)
    sd = convert_gpt2_weights(hf_model, cfg)
    sd = {k: v.detach().clone() for k, v in sd.items()}
    if processed:
        # == HookedTransformer.from_pretrained defaults (what SAELens used for gpt2-small-res-jb)
        flags = dict(fold_ln=True, center_writing_weights=True, center_unembed=True, fold_value_biases=True)
    else:
        # == from_pretrained_no_processing
        flags = dict(fold_ln=False, center_writing_weights=False, center_unembed=False, fold_value_biases=False)
    tl.load_and_process_state_dict(sd, **flags)
    tl.eval()
    return tl


def next_token_loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))


def hub_state_dict(model: GPT2LMHeadModel) -> dict[str, torch.Tensor]:
    """State dict in the original openai-community/gpt2 layout."""
    sd = {k: v.detach().clone().contiguous() for k, v in model.transformer.state_dict().items()}
    npos = model.config.n_positions
    mask = torch.tril(torch.ones(npos, npos, dtype=torch.float32)).view(1, 1, npos, npos)
    for L in range(model.config.n_layer):
        assert f"h.{L}.attn.bias" not in sd
        sd[f"h.{L}.attn.bias"] = mask.clone()
    return sd


def random_ids(gen: torch.Generator, shape, V: int) -> torch.Tensor:
    # avoid PAD_ID and the eos id (V-1) so padding / eos never appear as real tokens
    return torch.randint(1, V - 1, shape, generator=gen, dtype=torch.int64)


def make_one(c: dict, vers: dict) -> dict:
    name = c["name"]
    out = OUT_DIR / name
    out.mkdir(parents=True, exist_ok=True)
    V, nL = c["vocab_size"], c["n_layer"]
    model = build_hf(c)
    gen = torch.Generator().manual_seed(c["seed"] + 7)
    ref: dict[str, torch.Tensor] = {}
    summary: dict = {"name": name}

    # ---------------- model files ----------------
    if c["hub_layout"]:
        model.config.save_pretrained(out)
        safetensors.torch.save_file(hub_state_dict(model), str(out / "model.safetensors"), metadata={"format": "pt"})
    else:
        model.save_pretrained(out)
    extra = sorted(set(os.listdir(out)) - {"config.json", "model.safetensors", "generation_config.json"})
    assert not extra, f"unexpected files from save_pretrained: {extra}"
    if (out / "generation_config.json").exists():
        os.remove(out / "generation_config.json")

    # ---------------- single sequence ----------------
    T = c["T"]
    ids = random_ids(gen, (1, T), V)
    ref["single.input_ids"] = ids
    with torch.no_grad():
        hf_logits = model(ids).logits.float()
        sdpa = GPT2LMHeadModel._from_config(model.config, attn_implementation="sdpa")
        sdpa.load_state_dict(model.state_dict())
        sdpa.eval()
        sdpa_logits = sdpa(ids).logits
    ref["single.logits"] = hf_logits
    summary["max_abs_hf_eager_vs_sdpa_logits"] = (hf_logits - sdpa_logits).abs().max().item()
    loss = next_token_loss(hf_logits, ids)
    ref["single.loss"] = loss.reshape(())

    # reload from the written files: must give the same logits
    reloaded = GPT2LMHeadModel.from_pretrained(out, attn_implementation="eager")
    reloaded.eval()
    with torch.no_grad():
        rl = reloaded(ids).logits
    summary["max_abs_reloaded_vs_original_logits"] = (rl - hf_logits).abs().max().item()
    assert summary["max_abs_reloaded_vs_original_logits"] == 0.0, "reloaded model differs"

    # ---------------- TransformerLens, unprocessed ----------------
    tl = build_tl(model, processed=False)
    names = hook_names(nL)
    with torch.no_grad():
        tl_logits, cache = tl.run_with_cache(ids, return_type="logits")
    d = (tl_logits - hf_logits).abs().max().item()
    summary["max_abs_tl_vs_hf_logits"] = d
    print(f"[{name}] max |TL - HF| logits = {d:.3e}")
    assert d < TL_HF_TOL, f"TL vs HF logits differ by {d}"
    missing = [n for n in names if n not in cache.cache_dict]
    assert not missing, f"TL cache lacks {missing}"
    for n in names:
        ref[f"single.hook.{n}"] = cache[n].detach().float()

    # TransformerLens 2.x hooked ln*.hook_normalized AFTER the affine map (x/scale * w + b);
    # 3.x hooks it before. Keep the 2.x values too: they are the LayerNorm modules' outputs.
    ln_out: dict[str, torch.Tensor] = {}
    ln_mods = {f"blocks.{L}.ln{i}": getattr(tl.blocks[L], f"ln{i}") for L in range(nL) for i in (1, 2)}
    ln_mods["ln_final"] = tl.ln_final
    handles = [
        m.register_forward_hook(lambda mod, inp, o, key=k: ln_out.__setitem__(key, o)) for k, m in ln_mods.items()
    ]
    with torch.no_grad():
        tl(ids, return_type="logits")
    for h in handles:
        h.remove()
    for k, v in ln_out.items():
        ref[f"tl2.single.hook.{k}.hook_normalized"] = v.detach().float()

    # consistency checks on TL hooks vs HF hidden states
    with torch.no_grad():
        hs = model(ids, output_hidden_states=True).hidden_states
    for L in range(nL):
        dd = (hs[L] - cache[f"blocks.{L}.hook_resid_pre"]).abs().max().item()
        assert dd < TL_HF_TOL, (L, dd)
    scores = cache["blocks.0.attn.hook_attn_scores"]
    upper = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    assert torch.isneginf(scores[..., upper]).all(), "masked attn scores are not -inf"
    assert torch.isfinite(scores[..., ~upper]).all()

    # ---------------- gradients wrt hook activations ----------------
    gnames = grad_hook_names(nL)
    store: dict[str, torch.Tensor] = {}

    def make_hook(hname):
        def fn(act, hook):
            store[hname] = act
            return None

        return fn

    lnf_handle = tl.ln_final.register_forward_hook(lambda mod, inp, o: store.__setitem__("tl2.ln_final", o))
    with torch.enable_grad():
        logits_g = tl.run_with_hooks(ids, return_type="logits", fwd_hooks=[(n, make_hook(n)) for n in gnames])
        tl_loss = next_token_loss(logits_g, ids)
        grads = torch.autograd.grad(tl_loss, [store[n] for n in gnames] + [store["tl2.ln_final"]])
    lnf_handle.remove()
    ref["tl2.single.grad.ln_final.hook_normalized"] = grads[-1].detach().float()
    grads = grads[:-1]
    summary["abs_tl_vs_hf_loss"] = abs(tl_loss.item() - loss.item())
    assert summary["abs_tl_vs_hf_loss"] < TL_HF_TOL
    for n, g in zip(gnames, grads):
        ref[f"single.grad.{n}"] = g.detach().float()
    for p in tl.parameters():
        p.grad = None

    # cross-check one gradient with HF itself (layer-0 output == blocks.0.hook_resid_post)
    holder = {}

    def hf_hook(mod, inp, outp):
        h = outp[0] if isinstance(outp, tuple) else outp
        h = h.detach().clone().requires_grad_()
        holder["h"] = h
        return (h,) + tuple(outp[1:]) if isinstance(outp, tuple) else h

    for p in model.parameters():
        p.requires_grad_(False)
    handle = model.transformer.h[0].register_forward_hook(hf_hook)
    with torch.enable_grad():
        lg = model(ids).logits
        (g_hf,) = torch.autograd.grad(next_token_loss(lg, ids), [holder["h"]])
    handle.remove()
    dgrad = (g_hf - ref["single.grad.blocks.0.hook_resid_post"]).abs().max().item()
    summary["max_abs_tl_vs_hf_grad_resid_post0"] = dgrad
    assert dgrad < 1e-5, dgrad

    # ---------------- weight gradients (HF, every parameter trainable) ----------------
    params = dict(model.named_parameters())
    last = nL - 1
    wnames = ["transformer.wpe.weight", "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias",
              "transformer.h.0.attn.c_attn.weight", "transformer.h.0.attn.c_attn.bias",
              "transformer.h.0.attn.c_proj.weight", f"transformer.h.{last}.mlp.c_fc.weight",
              f"transformer.h.{last}.mlp.c_proj.bias", "transformer.ln_f.weight", "transformer.ln_f.bias"]
    if params["transformer.wte.weight"].numel() <= 20000:
        wnames.append("transformer.wte.weight")  # includes the tied head's contribution
    for p in model.parameters():
        p.requires_grad_(True)
    with torch.enable_grad():
        lw = next_token_loss(model(ids).logits, ids)
        gw = torch.autograd.grad(lw, [params[n] for n in wnames])
    for n, g in zip(wnames, gw):
        ref[f"single.wgrad.{n}"] = g.detach().float().clone()
    for p in model.parameters():
        p.requires_grad_(False)

    # ---------------- padded batch ----------------
    T2 = c["T2"]
    bids = random_ids(gen, (3, T2), V)
    mask = torch.ones(3, T2, dtype=torch.int64)
    mask[1, T2 - RIGHT_PAD :] = 0
    mask[2, :LEFT_PAD] = 0
    bids[mask == 0] = PAD_ID
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        blog = model(bids, attention_mask=mask, position_ids=pos).logits
    ref["batch.input_ids"] = bids
    ref["batch.attention_mask"] = mask
    ref["batch.position_ids"] = pos
    ref["batch.logits"] = blog
    # valid positions must equal an unpadded single-row forward
    worst = 0.0
    with torch.no_grad():
        for r in range(3):
            valid = mask[r].bool()
            solo = model(bids[r : r + 1, valid]).logits[0]
            worst = max(worst, (solo - blog[r, valid]).abs().max().item())
    summary["max_abs_batch_valid_vs_unpadded"] = worst
    assert worst < 1e-4, worst

    # ---------------- TL with SAELens' default processing ----------------
    tlc = build_tl(model, processed=True)
    with torch.no_grad():
        clog, ccache = tlc.run_with_cache(ids, return_type="logits")
    clp = F.log_softmax(clog, dim=-1)
    ref["centered.log_probs"] = clp
    hf_lp = F.log_softmax(hf_logits, dim=-1)
    summary["max_abs_centered_logprobs_vs_hf"] = (clp - hf_lp).abs().max().item()
    assert summary["max_abs_centered_logprobs_vs_hf"] < TL_HF_TOL
    worst = 0.0
    for L in range(nL):
        for kind in ("hook_resid_pre", "hook_resid_post"):
            n = f"blocks.{L}.{kind}"
            v = ccache[n].detach().float()
            ref[f"centered.hook.{n}"] = v
            raw = cache[n]
            worst = max(worst, (v - (raw - raw.mean(-1, keepdim=True))).abs().max().item())
    summary["max_abs_centered_vs_raw_minus_mean"] = worst
    assert worst < TL_HF_TOL, worst

    # ---------------- greedy generation ----------------
    P, N = c["P"], c["N"]
    prompt = random_ids(gen, (1, P), V)
    with torch.no_grad():
        gout = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=N,
            do_sample=False,
            num_beams=1,
            pad_token_id=PAD_ID,
            eos_token_id=None,
        )
    assert gout.shape == (1, P + N), gout.shape
    # independent greedy loop without KV cache
    seq = prompt.clone()
    with torch.no_grad():
        for _ in range(N):
            nxt = model(seq).logits[:, -1].argmax(-1, keepdim=True)
            seq = torch.cat([seq, nxt], dim=1)
    assert torch.equal(seq, gout), "generate() differs from a plain argmax loop"
    ref["generate.prompt_ids"] = prompt
    ref["generate.greedy_ids"] = gout.to(torch.int64)

    # ---------------- write ----------------
    ref = {k: v.detach().clone().contiguous() for k, v in ref.items()}
    # a single metadata key: safetensors writes metadata from a hash map, so with several keys
    # their order (and the file's bytes) would change from run to run
    meta = {
        "isaerft_fixture": json.dumps(
            {"config": name, "generator": "scripts/make_fixtures.py", "versions": vers}, sort_keys=True
        )
    }
    safetensors.torch.save_file(ref, str(out / "reference.safetensors"), metadata=meta)

    files = {}
    for fn in sorted(os.listdir(out)):
        p = out / fn
        os.chmod(p, 0o644)  # safetensors creates files 0600
        files[fn] = {"bytes": p.stat().st_size, "sha256": sha256(p)}
    with safetensors.safe_open(str(out / "model.safetensors"), "pt") as f:
        model_keys = {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    summary.update(
        {
            "config": {k: c[k] for k in ("n_embd", "n_layer", "n_head", "vocab_size", "n_positions", "activation_function")},
            "seed": c["seed"],
            "weights_layout": "hub (no transformer. prefix, h.N.attn.bias buffers)" if c["hub_layout"] else "save_pretrained (transformer. prefix, tied head)",
            "T": T,
            "T2": T2,
            "generate": {"prompt_len": P, "new_tokens": N},
            "files": files,
            "model_keys": model_keys,
            "tensors": {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)} for k, v in ref.items()},
        }
    )
    return summary


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    torch.use_deterministic_algorithms(True)
    vers = versions()
    if OUT_DIR.exists():
        shutil.rmtree(OUT_DIR)
    OUT_DIR.mkdir(parents=True)
    summaries = [make_one(c, vers) for c in CONFIGS]
    manifest = {
        "generator": "scripts/make_fixtures.py",
        "versions": vers,
        "init": f"all weights/biases N(0, {INIT_STD}); LayerNorm weights 1 + N(0, {INIT_STD}); fp32; eval",
        "hf_attn_implementation": "eager",
        "tl_model": "transformer_lens.HookedTransformer built from a hand-made HookedTransformerConfig, "
        "weights via transformer_lens.pretrained.weight_conversions.gpt2.convert_gpt2_weights",
        "tensor_notes": {
            "single.logits": "HF GPT2LMHeadModel logits [1,T,V]",
            "single.loss": "scalar: mean next-token CE over positions 0..T-2 from HF logits",
            "single.hook.*": "TransformerLens run_with_cache, no weight processing (from_pretrained_no_processing semantics)",
            "single.hook.*.ln*.hook_normalized": "TransformerLens 3.x: (x - mean)/scale BEFORE the affine w,b "
            "(TransformerLens 2.x hooked it AFTER *w+b)",
            "tl2.single.hook.*.ln*.hook_normalized": "TransformerLens 2.x convention for the same hooks: "
            "LayerNorm output after *w+b (what TL 2.16-2.18 record); tl2.single.grad.ln_final.hook_normalized "
            "likewise (d loss / d ln_final output)",
            "single.hook.*.attn.hook_attn_scores": "[b,h,q,k] scaled by 1/sqrt(dh), causal-masked entries are -inf",
            "single.hook.*.attn.hook_q/k/v/z": "[b,p,h,dh]",
            "single.grad.*": "d single.loss (computed from TL logits) / d hook activation, via torch.autograd.grad",
            "batch.*": "row0 full, row1 right-padded (last 4), row2 left-padded (first 3); pad id 0; "
            "position_ids = clamp(cumsum(mask)-1, min=0) passed explicitly; logits at pad (mask==0) "
            "query positions are not meaningful - compare only mask==1 positions",
            "centered.*": "TL with from_pretrained defaults fold_ln, center_writing_weights, center_unembed, "
            "fold_value_biases (SAELens gpt2-small-res-jb); centered resid == raw resid - mean over d_model",
            "centered.log_probs": "log_softmax of processed TL logits (== HF log_softmax within 1e-4)",
            "generate.*": "HF generate greedy, max_new_tokens=N, eos disabled; equals a plain argmax loop",
        },
        "configs": summaries,
    }
    with open(OUT_DIR / "manifest.json", "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=False)
        f.write("\n")

    total = sum(p.stat().st_size for p in OUT_DIR.rglob("*") if p.is_file())
    print("\nSummary")
    for s in summaries:
        print(
            f"  {s['name']:<12} TL-HF logits {s['max_abs_tl_vs_hf_logits']:.2e}  "
            f"eager-sdpa {s['max_abs_hf_eager_vs_sdpa_logits']:.2e}  "
            f"loss |TL-HF| {s['abs_tl_vs_hf_loss']:.2e}  grad TL-HF {s['max_abs_tl_vs_hf_grad_resid_post0']:.2e}  "
            f"batch {s['max_abs_batch_valid_vs_unpadded']:.2e}  centered {s['max_abs_centered_vs_raw_minus_mean']:.2e}  "
            f"logprobs {s['max_abs_centered_logprobs_vs_hf']:.2e}"
        )
        for fn, info in s["files"].items():
            print(f"      {fn:<24} {info['bytes']:>9} B")
    print(f"  total fixtures size: {total} bytes ({total / 1e6:.2f} MB)")
    assert total < 3_000_000, "fixtures too large"
    print("  versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))


if __name__ == "__main__":
    main()
