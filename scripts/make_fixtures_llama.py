#!/usr/bin/env python3
"""Generate Llama / Qwen2 / Qwen3 / Gemma 2 / Gemma 3 parity fixtures for the Swift implementation.

Run from the repository root:

    /work/venv/ref/bin/python scripts/make_fixtures_llama.py

Rewrites ``fixtures/llama/`` completely. Everything is built from configs with random
weights (no hub downloads) and fixed seeds, so the output is deterministic for a given
set of library versions (``scripts/requirements-fixtures.txt``). Same file format and
conventions as ``scripts/make_fixtures.py`` (GPT-2).

Per configuration ``fixtures/llama/<name>/`` holds

* ``config.json`` + ``model.safetensors``: exactly what ``<Arch>ForCausalLM.save_pretrained``
  writes (``model.*`` keys; ``lm_head.weight`` only for untied heads; Gemma norm weights
  stored as ``w`` with the ``(1 + w)`` convention). ``generation_config.json`` is deleted.
* ``reference.safetensors``: reference tensors (``fixtures/llama/manifest.json`` ->
  ``tensor_notes``).

Reference
---------
HF ``transformers`` (eager attention, fp32, eval) is THE reference for everything.
Hook activations are read from the HF modules with PyTorch forward hooks / forward
pre-hooks plus a wrapper around the modelling file's ``eager_attention_forward``
(which sees q/k after QK-norm and RoPE, and returns the softmax pattern and z).
TransformerLens 3.9 ``HookedTransformer`` (built from a hand-made
``HookedTransformerConfig`` + TL's own ``convert_{llama,qwen2,qwen3,gemma}_weights``,
no weight processing) is run on the same weights as a cross-check of every stored hook
and gradient; the maxima are recorded in the manifest (``tl_crosscheck``).

Hook -> HF mapping (L = layer index, ``lay = model.model.layers[L]``)
---------------------------------------------------------------------
In TransformerLens' terms, "ln1" is the pre-attention norm, "ln2" the pre-MLP norm.

===========================  =====================================================================
TL hook                      HF source
===========================  =====================================================================
hook_embed                   output of ``model.model.embed_tokens`` (Gemma: the
                             ``*ScaledWordEmbedding`` multiplies by sqrt(d) INSIDE that module,
                             so hook_embed INCLUDES sqrt(d), like TL which folds it into W_E).
                             Equals blocks.0.hook_resid_pre (no positional embedding).
blocks.L.hook_resid_pre      input ``hidden_states`` of ``lay`` (forward pre-hook)
blocks.L.ln1.hook_scale      sqrt(mean(x^2) + eps) over d_model, x = input of ``lay.input_layernorm``
                             (fp32; TL formula; HF multiplies by rsqrt instead -> ~1 ulp)
blocks.L.ln1.hook_normalized x / hook_scale: BEFORE the weight multiply (w, or (1 + w) for Gemma)
blocks.L.attn.hook_q         output of ``lay.self_attn.q_proj`` viewed [b,p,h,dh] (incl. Qwen2 bias;
                             BEFORE QK-norm and RoPE)
blocks.L.attn.hook_k / _v    outputs of ``k_proj`` / ``v_proj`` viewed [b,p,hk,dh] (KV heads, not
                             repeated for GQA)
blocks.L.attn.hook_rot_q     ``query`` argument of ``eager_attention_forward``, transposed to
                             [b,p,h,dh]: after QK-norm (Qwen3, Gemma 3) and RoPE
blocks.L.attn.hook_rot_k     ``key`` argument of ``eager_attention_forward`` [b,p,hk,dh] (before
                             ``repeat_kv``)
blocks.L.attn.hook_pattern   ``attn_weights`` returned by ``eager_attention_forward`` [b,h,q,k]
                             (softmax after scale, soft-cap (Gemma 2), causal / sliding mask)
blocks.L.attn.hook_z         ``attn_output`` returned by ``eager_attention_forward`` [b,p,h,dh]
                             (= input of ``o_proj`` before the reshape)
blocks.L.hook_attn_out       Llama/Qwen: output[0] of ``lay.self_attn`` (o_proj output).
                             Gemma: output of ``lay.post_attention_layernorm`` (i.e. AFTER the
                             post-attention norm, what Gemma Scope att SAEs read)
blocks.L.ln1_post.*          Gemma only: input x of ``lay.post_attention_layernorm`` -> scale,
                             x/scale (so ln1_post.hook_normalized * (1 + w) == hook_attn_out)
blocks.L.hook_resid_mid      resid_pre + attn_out = input of the pre-MLP norm:
                             Llama/Qwen ``lay.post_attention_layernorm`` (!), Gemma
                             ``lay.pre_feedforward_layernorm``
blocks.L.ln2.*               scale / normalized of that same pre-MLP norm input
blocks.L.mlp.hook_pre        output of ``lay.mlp.gate_proj`` (gate pre-activation)
blocks.L.mlp.hook_pre_linear output of ``lay.mlp.up_proj``
blocks.L.mlp.hook_post       input of ``lay.mlp.down_proj`` = act(gate) * up
blocks.L.hook_mlp_out        Llama/Qwen: output of ``lay.mlp``. Gemma: output of
                             ``lay.post_feedforward_layernorm`` (AFTER the post-MLP norm)
blocks.L.ln2_post.*          Gemma only: input x of ``lay.post_feedforward_layernorm``
blocks.L.hook_resid_post     output of ``lay`` (= blocks.{L+1}.hook_resid_pre)
ln_final.*                   input x of ``model.model.norm`` -> scale, x/scale
===========================  =====================================================================

Note the name clash: HF ``post_attention_layernorm`` is the PRE-MLP norm (TL ln2) in
Llama/Qwen, but the POST-attention norm (TL ln1_post) in Gemma 2/3.

Gradients (``single.grad.*``): the embedding output is replaced (forward hook) by a
leaf tensor that requires grad, all weights are frozen, the hooked HF tensors are kept
in the graph and ``torch.autograd.grad(single.loss, [...])`` is taken w.r.t. them.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
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
from transformers import (
    Gemma2Config,
    Gemma2ForCausalLM,
    Gemma3ForCausalLM,
    Gemma3TextConfig,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)
from transformers.models.gemma2 import modeling_gemma2
from transformers.models.gemma3 import modeling_gemma3
from transformers.models.llama import modeling_llama
from transformers.models.qwen2 import modeling_qwen2
from transformers.models.qwen3 import modeling_qwen3

import transformer_lens
from transformer_lens import HookedTransformer, HookedTransformerConfig
from transformer_lens.pretrained.weight_conversions.gemma import convert_gemma_weights
from transformer_lens.pretrained.weight_conversions.llama import convert_llama_weights
from transformer_lens.pretrained.weight_conversions.qwen2 import convert_qwen2_weights
from transformer_lens.pretrained.weight_conversions.qwen3 import convert_qwen3_weights

try:
    from importlib.metadata import version as _pkg_version
except ImportError:  # pragma: no cover
    _pkg_version = None

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "fixtures" / "llama"

INIT_STD = 0.2
TL_HF_TOL = 1e-4  # absolute, on O(1..10) activations / logits
SIZE_LIMIT = 3_000_000

RIGHT_PAD = 4  # batch row 1: last 4 positions are padding
LEFT_PAD = 3  # batch row 2: first 3 positions are padding
PAD_ID = 0

FAMILIES = {
    "llama": dict(config=LlamaConfig, model=LlamaForCausalLM, modeling=modeling_llama, gemma=False),
    "qwen2": dict(config=Qwen2Config, model=Qwen2ForCausalLM, modeling=modeling_qwen2, gemma=False),
    "qwen3": dict(config=Qwen3Config, model=Qwen3ForCausalLM, modeling=modeling_qwen3, gemma=False),
    "gemma2": dict(config=Gemma2Config, model=Gemma2ForCausalLM, modeling=modeling_gemma2, gemma=True),
    "gemma3": dict(config=Gemma3TextConfig, model=Gemma3ForCausalLM, modeling=modeling_gemma3, gemma=True),
}

# Sizes follow the brief; the deviations needed to keep fixtures/llama under 3 MB are marked.
CONFIGS = [
    dict(
        name="llama_a",
        family="llama",
        seed=4001,
        hf=dict(
            vocab_size=200,  # brief: 300 (3 MB budget)
            hidden_size=64,
            intermediate_size=96,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            max_position_embeddings=128,
            rms_norm_eps=1e-5,
            rope_theta=10000.0,
            tie_word_embeddings=False,
            hidden_act="silu",
        ),
        T=16,
        T2=14,
        P=6,
        N=12,
        batch=True,
    ),
    dict(
        name="llama3_b",
        family="llama",
        seed=4002,
        hf=dict(
            vocab_size=257,
            hidden_size=48,
            intermediate_size=64,
            num_hidden_layers=3,
            num_attention_heads=6,
            num_key_value_heads=2,
            head_dim=8,
            max_position_embeddings=2048,
            rms_norm_eps=1e-5,
            rope_theta=500000.0,
            rope_scaling=dict(
                rope_type="llama3",
                factor=8.0,
                low_freq_factor=1.0,
                high_freq_factor=4.0,
                # brief: 32. With head_dim 8 and theta 5e5 the wavelengths are 6.3, 167, 4443, 118k:
                # orig 32 would only keep / divide; 256 puts 167 in (orig/high, orig/low) = (64, 256),
                # so all three branches (keep, blend, divide by factor) are exercised.
                original_max_position_embeddings=256,
            ),
            tie_word_embeddings=True,
            hidden_act="silu",
        ),
        T=17,
        T2=18,
        P=6,
        N=12,
        batch=False,
    ),
    dict(
        name="qwen2_c",
        family="qwen2",
        seed=4003,
        hf=dict(
            vocab_size=200,  # brief: 300 (3 MB budget)
            hidden_size=32,  # brief: 64 (3 MB budget)
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=1,
            max_position_embeddings=128,
            rms_norm_eps=1e-6,
            rope_theta=1000000.0,
            tie_word_embeddings=True,
            hidden_act="silu",
            use_sliding_window=False,
        ),
        T=16,
        T2=18,
        P=6,
        N=12,
        batch=False,
    ),
    dict(
        name="qwen3_d",
        family="qwen3",
        seed=4004,
        hf=dict(
            vocab_size=200,  # brief: 300 (3 MB budget)
            hidden_size=32,  # brief: 64 (3 MB budget)
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,  # != hidden / heads = 8 (brief: 32 with hidden 64)
            max_position_embeddings=128,
            rms_norm_eps=1e-6,
            rope_theta=1000000.0,
            tie_word_embeddings=True,  # like Qwen3-0.6B
            hidden_act="silu",
            use_sliding_window=False,
        ),
        T=16,
        T2=18,
        P=6,
        N=12,
        batch=False,
    ),
    dict(
        name="gemma2_e",
        family="gemma2",
        seed=4005,
        hf=dict(
            vocab_size=200,  # brief: 300 (3 MB budget)
            hidden_size=32,  # brief: 64 (3 MB budget)
            intermediate_size=64,  # brief: 128 (3 MB budget)
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            max_position_embeddings=128,
            rms_norm_eps=1e-6,
            rope_theta=10000.0,
            query_pre_attn_scalar=16,
            sliding_window=8,
            # small caps so that capping matters with random weights (real Gemma 2: 50 / 30)
            attn_logit_softcapping=5.0,
            final_logit_softcapping=3.0,
            hidden_activation="gelu_pytorch_tanh",
            tie_word_embeddings=True,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=2,
        ),
        T=20,
        T2=18,
        P=6,
        N=12,
        batch=True,
    ),
    dict(
        name="gemma3_f",
        family="gemma3",
        seed=4006,
        hf=dict(
            vocab_size=200,  # brief: 300 (3 MB budget)
            hidden_size=32,  # brief: 64 (3 MB budget)
            intermediate_size=64,  # brief: 128 (3 MB budget)
            num_hidden_layers=6,  # layer_types default: layer 5 full_attention, 0-4 sliding
            num_attention_heads=4,
            num_key_value_heads=1,
            head_dim=16,  # != hidden / heads = 8 (brief: 32 with hidden 64)
            max_position_embeddings=128,
            rms_norm_eps=1e-6,
            query_pre_attn_scalar=32,  # != head_dim: the scale must come from this, not dh
            sliding_window=8,
            rope_parameters={
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
            },
            hidden_activation="gelu_pytorch_tanh",
            tie_word_embeddings=True,
            pad_token_id=0,
            eos_token_id=1,
            bos_token_id=2,
        ),
        T=20,
        T2=18,
        P=6,
        N=12,
        batch=True,
    ),
]


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------


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


def hook_names(n_layers: int, gemma: bool) -> list[str]:
    names = ["hook_embed"]
    for L in range(n_layers):
        b = f"blocks.{L}"
        names += [
            f"{b}.hook_resid_pre",
            f"{b}.ln1.hook_scale",
            f"{b}.ln1.hook_normalized",
            f"{b}.attn.hook_q",
            f"{b}.attn.hook_k",
            f"{b}.attn.hook_v",
            f"{b}.attn.hook_rot_q",
            f"{b}.attn.hook_rot_k",
            f"{b}.attn.hook_pattern",
            f"{b}.attn.hook_z",
        ]
        if gemma:
            names += [f"{b}.ln1_post.hook_scale", f"{b}.ln1_post.hook_normalized"]
        names += [
            f"{b}.hook_attn_out",
            f"{b}.hook_resid_mid",
            f"{b}.ln2.hook_scale",
            f"{b}.ln2.hook_normalized",
            f"{b}.mlp.hook_pre",
            f"{b}.mlp.hook_pre_linear",
            f"{b}.mlp.hook_post",
        ]
        if gemma:
            names += [f"{b}.ln2_post.hook_scale", f"{b}.ln2_post.hook_normalized"]
        names += [f"{b}.hook_mlp_out", f"{b}.hook_resid_post"]
    names += ["ln_final.hook_scale", "ln_final.hook_normalized"]
    return names


def grad_hook_names(n_layers: int) -> list[str]:
    names = ["hook_embed", "blocks.0.hook_resid_pre", "blocks.0.attn.hook_z"]
    names += [f"blocks.{L}.hook_resid_post" for L in range(n_layers)]
    return names


def next_token_loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V).float(), ids[:, 1:].reshape(-1))


def random_ids(gen: torch.Generator, shape, V: int) -> torch.Tensor:
    # ids in [3, V-1): never pad (0), Gemma eos (1) / bos (2)
    return torch.randint(3, V - 1, shape, generator=gen, dtype=torch.int64)


def is_norm_weight(name: str) -> bool:
    return name.endswith("norm.weight")  # *_layernorm, q_norm, k_norm, model.norm


def build_hf(c: dict):
    fam = FAMILIES[c["family"]]
    cfg = fam["config"](**c["hf"], attention_dropout=0.0)
    torch.manual_seed(c["seed"])
    model = fam["model"]._from_config(cfg, attn_implementation="eager", dtype=torch.float32)
    gen = torch.Generator().manual_seed(c["seed"])
    with torch.no_grad():
        for name, p in model.named_parameters():  # a tied lm_head appears once (as embed_tokens)
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32) * INIT_STD
            if is_norm_weight(name) and not fam["gemma"]:
                p.copy_(1.0 + noise)  # Llama/Qwen RMSNorm: x * w
            else:
                p.copy_(noise)  # weights, biases; Gemma norms: x * (1 + w), HF stores w
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    tied = model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert tied == bool(c["hf"]["tie_word_embeddings"]), "tying differs from config"
    if fam["gemma"]:
        es = model.model.embed_tokens.embed_scale
        assert float(es) == float(torch.tensor(c["hf"]["hidden_size"] ** 0.5, dtype=torch.float32)), es
    return model


def rms_stats(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """TransformerLens RMSNorm hooks: scale = sqrt(mean(x^2) + eps), normalized = x / scale."""
    x = x.float()
    scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
    return scale, x / scale


# ----------------------------------------------------------------------------------------------
# recording hooks on the HF model
# ----------------------------------------------------------------------------------------------


class HFRecorder:
    """Registers forward hooks / pre-hooks on an HF Llama-family model and records TL hooks.

    ``keep_graph``: store the live tensors (for autograd) instead of detached copies.
    ``leaf_embed``: replace the embedding output by a leaf tensor requiring grad.
    """

    def __init__(self, model, family: str, keep_graph: bool = False, leaf_embed: bool = False):
        self.model = model
        self.fam = FAMILIES[family]
        self.gemma = self.fam["gemma"]
        self.keep = keep_graph
        self.leaf_embed = leaf_embed
        self.eps = model.config.rms_norm_eps
        self.raw: dict[str, torch.Tensor] = {}
        self.handles = []
        self._orig_eager = None

    def _put(self, key, t):
        self.raw[key] = t if self.keep else t.detach().clone()

    def __enter__(self):
        m = self.model.model
        H = self.model.config.num_attention_heads
        Hk = self.model.config.num_key_value_heads

        def embed_hook(mod, inp, out):
            if self.leaf_embed:
                out = out.detach().clone().requires_grad_(True)
            self._put("hook_embed", out)
            return out

        self.handles.append(m.embed_tokens.register_forward_hook(embed_hook))

        def pre_input(key):
            def fn(mod, args, kwargs):
                x = args[0] if args else kwargs["hidden_states"]
                self._put(key, x)

            return fn

        def fwd_output(key):
            def fn(mod, inp, out):
                y = out[0] if isinstance(out, tuple) else out
                self._put(key, y)

            return fn

        def proj_heads(key, nh):
            def fn(mod, inp, out):
                self._put(key, out.view(*out.shape[:-1], nh, -1))

            return fn

        for L, lay in enumerate(m.layers):
            b = f"blocks.{L}"
            a = lay.self_attn
            reg = self.handles.append
            reg(lay.register_forward_pre_hook(pre_input(f"{b}.hook_resid_pre"), with_kwargs=True))
            reg(lay.register_forward_hook(fwd_output(f"{b}.hook_resid_post")))
            reg(lay.input_layernorm.register_forward_pre_hook(pre_input(f"{b}.ln1.in"), with_kwargs=True))
            reg(a.q_proj.register_forward_hook(proj_heads(f"{b}.attn.hook_q", H)))
            reg(a.k_proj.register_forward_hook(proj_heads(f"{b}.attn.hook_k", Hk)))
            reg(a.v_proj.register_forward_hook(proj_heads(f"{b}.attn.hook_v", Hk)))
            reg(lay.mlp.gate_proj.register_forward_hook(fwd_output(f"{b}.mlp.hook_pre")))
            reg(lay.mlp.up_proj.register_forward_hook(fwd_output(f"{b}.mlp.hook_pre_linear")))
            reg(lay.mlp.down_proj.register_forward_pre_hook(pre_input(f"{b}.mlp.hook_post"), with_kwargs=True))
            if self.gemma:
                reg(lay.post_attention_layernorm.register_forward_pre_hook(pre_input(f"{b}.ln1_post.in"), with_kwargs=True))
                reg(lay.post_attention_layernorm.register_forward_hook(fwd_output(f"{b}.hook_attn_out")))
                reg(lay.pre_feedforward_layernorm.register_forward_pre_hook(pre_input(f"{b}.hook_resid_mid"), with_kwargs=True))
                reg(lay.post_feedforward_layernorm.register_forward_pre_hook(pre_input(f"{b}.ln2_post.in"), with_kwargs=True))
                reg(lay.post_feedforward_layernorm.register_forward_hook(fwd_output(f"{b}.hook_mlp_out")))
            else:
                reg(a.register_forward_hook(fwd_output(f"{b}.hook_attn_out")))
                # Llama/Qwen: post_attention_layernorm is the PRE-MLP norm (TL ln2)
                reg(lay.post_attention_layernorm.register_forward_pre_hook(pre_input(f"{b}.hook_resid_mid"), with_kwargs=True))
                reg(lay.mlp.register_forward_hook(fwd_output(f"{b}.hook_mlp_out")))
        self.handles.append(m.norm.register_forward_pre_hook(pre_input("ln_final.in"), with_kwargs=True))

        # eager attention: q/k after QK-norm + RoPE, pattern, z
        modeling = self.fam["modeling"]
        orig = modeling.eager_attention_forward
        self._orig_eager = orig

        def eager_wrapper(module, query, key, value, attention_mask, **kwargs):
            out, weights = orig(module, query, key, value, attention_mask, **kwargs)
            b = f"blocks.{module.layer_idx}"
            self._put(f"{b}.attn.hook_rot_q", query.transpose(1, 2))
            self._put(f"{b}.attn.hook_rot_k", key.transpose(1, 2))
            self._put(f"{b}.attn.hook_pattern", weights)
            self._put(f"{b}.attn.hook_z", out)
            return out, weights

        modeling.eager_attention_forward = eager_wrapper
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles = []
        self.fam["modeling"].eager_attention_forward = self._orig_eager
        return False

    def hooks(self) -> dict[str, torch.Tensor]:
        """TL-named hook tensors (norm stats derived from the recorded norm inputs)."""
        out = {}
        for k, v in self.raw.items():
            if k.endswith(".in"):
                base = k[: -len(".in")]
                s, n = rms_stats(v, self.eps)
                out[f"{base}.hook_scale"] = s
                out[f"{base}.hook_normalized"] = n
            elif k.endswith(".hook_resid_mid"):
                out[k] = v
                s, n = rms_stats(v, self.eps)
                ln2 = k.replace(".hook_resid_mid", ".ln2")
                out[f"{ln2}.hook_scale"] = s
                out[f"{ln2}.hook_normalized"] = n
            else:
                out[k] = v
        return out


# ----------------------------------------------------------------------------------------------
# TransformerLens cross-check
# ----------------------------------------------------------------------------------------------


def tl_config(c: dict, model) -> HookedTransformerConfig:
    hc = model.config
    fam = c["family"]
    nh, nkv = hc.num_attention_heads, hc.num_key_value_heads
    dh = getattr(hc, "head_dim", None) or hc.hidden_size // nh
    d = dict(
        model_name=f"custom-{c['name']}",
        n_layers=hc.num_hidden_layers,
        d_model=hc.hidden_size,
        d_head=dh,
        n_heads=nh,
        n_key_value_heads=nkv,
        d_mlp=hc.intermediate_size,
        n_ctx=hc.max_position_embeddings,
        d_vocab=hc.vocab_size,
        d_vocab_out=hc.vocab_size,
        eps=hc.rms_norm_eps,
        normalization_type="RMS",
        positional_embedding_type="rotary",
        rotary_adjacent_pairs=False,
        rotary_dim=dh,
        final_rms=True,
        gated_mlp=True,
        use_attn_scale=True,
        init_weights=False,
        default_prepend_bos=False,
        tokenizer_name=None,
        device="cpu",
        dtype=torch.float32,
    )
    rp = hc.rope_parameters
    if fam in ("llama", "qwen2", "qwen3"):
        d.update(act_fn=hc.hidden_act, rotary_base=rp["rope_theta"], original_architecture={
            "llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}[fam])
        if fam == "qwen3":
            d["use_qk_norm"] = True
        if rp.get("rope_type") == "llama3":
            d.update(
                use_NTK_by_parts_rope=True,
                NTK_original_ctx_len=rp["original_max_position_embeddings"],
                NTK_by_parts_low_freq_factor=rp["low_freq_factor"],
                NTK_by_parts_high_freq_factor=rp["high_freq_factor"],
                NTK_by_parts_factor=rp["factor"],
            )
    else:
        types = ["local" if t == "sliding_attention" else "global" for t in hc.layer_types]
        d.update(
            act_fn=hc.hidden_activation,
            attn_scale=math.sqrt(hc.query_pre_attn_scalar),
            use_local_attn=True,
            window_size=hc.sliding_window,
            attn_types=types,
            use_normalization_before_and_after=True,
        )
        if fam == "gemma2":
            d.update(
                rotary_base=rp["rope_theta"],
                attn_scores_soft_cap=float(hc.attn_logit_softcapping),
                output_logits_soft_cap=float(hc.final_logit_softcapping),
                original_architecture="Gemma2ForCausalLM",
            )
        else:
            d.update(
                rotary_base=rp["full_attention"]["rope_theta"],
                rotary_base_local=rp["sliding_attention"]["rope_theta"],
                use_qk_norm=True,
                original_architecture="Gemma3ForCausalLM",
            )
    return HookedTransformerConfig(**d)


def build_tl(c: dict, model) -> HookedTransformer:
    cfg = tl_config(c, model)
    tl = HookedTransformer(copy.deepcopy(cfg), tokenizer=None, move_to_device=True)
    conv = {"llama": convert_llama_weights, "qwen2": convert_qwen2_weights, "qwen3": convert_qwen3_weights,
            "gemma2": convert_gemma_weights, "gemma3": convert_gemma_weights}[c["family"]]
    sd = {k: v.detach().clone() for k, v in conv(model, cfg).items()}
    tl.load_and_process_state_dict(
        sd, fold_ln=False, center_writing_weights=False, center_unembed=False, fold_value_biases=False
    )
    tl.eval()
    return tl


# ----------------------------------------------------------------------------------------------
# per configuration
# ----------------------------------------------------------------------------------------------


def make_one(c: dict, vers: dict) -> dict:
    name, fam = c["name"], c["family"]
    gemma = FAMILIES[fam]["gemma"]
    out = OUT_DIR / name
    out.mkdir(parents=True, exist_ok=True)
    model = build_hf(c)
    hc = model.config
    V, nL = hc.vocab_size, hc.num_hidden_layers
    gen = torch.Generator().manual_seed(c["seed"] + 7)
    ref: dict[str, torch.Tensor] = {}
    summary: dict = {"name": name, "family": fam, "architecture": type(model).__name__}

    # ---------------- model files ----------------
    model.save_pretrained(out)
    if (out / "generation_config.json").exists():
        os.remove(out / "generation_config.json")
    extra = sorted(set(os.listdir(out)) - {"config.json", "model.safetensors"})
    assert not extra, f"unexpected files from save_pretrained: {extra}"

    # ---------------- single sequence: logits + hooks ----------------
    T = c["T"]
    ids = random_ids(gen, (1, T), V)
    ref["single.input_ids"] = ids
    with torch.no_grad(), HFRecorder(model, fam) as rec:
        logits = model(ids).logits.float()
    hooks = rec.hooks()
    names = hook_names(nL, gemma)
    missing = [n for n in names if n not in hooks]
    assert not missing, f"HF recorder lacks {missing}"
    unexpected = sorted(set(hooks) - set(names))
    assert not unexpected, unexpected
    ref["single.logits"] = logits
    loss = next_token_loss(logits, ids)
    ref["single.loss"] = loss.reshape(())
    for n in names:
        ref[f"single.hook.{n}"] = hooks[n].float()

    # internal consistency of the recorded hooks
    with torch.no_grad():
        plain = model(ids, output_hidden_states=True)
    assert torch.equal(plain.logits, logits), "hooks changed the forward"
    checks = {}
    for L in range(nL):
        b = f"blocks.{L}"
        checks[f"{b}.resid_pre==hidden_states"] = (hooks[f"{b}.hook_resid_pre"] - plain.hidden_states[L]).abs().max().item()
        checks[f"{b}.resid_mid"] = (hooks[f"{b}.hook_resid_pre"] + hooks[f"{b}.hook_attn_out"] - hooks[f"{b}.hook_resid_mid"]).abs().max().item()
        checks[f"{b}.resid_post"] = (hooks[f"{b}.hook_resid_mid"] + hooks[f"{b}.hook_mlp_out"] - hooks[f"{b}.hook_resid_post"]).abs().max().item()
        if L + 1 < nL:
            assert torch.equal(hooks[f"{b}.hook_resid_post"], hooks[f"blocks.{L + 1}.hook_resid_pre"])
        z = hooks[f"{b}.attn.hook_z"]
        ao = model.model.layers[L].self_attn.o_proj(z.reshape(1, T, -1))
        if gemma:
            lay = model.model.layers[L]
            checks[f"{b}.ln1_post"] = (hooks[f"{b}.ln1_post.hook_normalized"] * (1 + lay.post_attention_layernorm.weight) - hooks[f"{b}.hook_attn_out"]).abs().max().item()
            ao = lay.post_attention_layernorm(ao)
        checks[f"{b}.z->attn_out"] = (ao - hooks[f"{b}.hook_attn_out"]).abs().max().item()
        pat = hooks[f"{b}.attn.hook_pattern"]
        checks[f"{b}.pattern_rowsum"] = (pat.sum(-1) - 1).abs().max().item()
        upper = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        assert (pat[..., upper] == 0).all(), "pattern not causal"
        lt = hc.layer_types[L] if getattr(hc, "layer_types", None) else "full_attention"
        if lt == "sliding_attention":
            W = hc.sliding_window
            far = torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-W)  # i - j >= W
            assert far.any() and (pat[..., far] == 0).all(), "sliding window not applied"
            near = ~upper & ~far
            assert (pat[..., near] > 0).all()
        else:
            assert (pat[..., ~upper] > 0).all()
    assert torch.equal(hooks["hook_embed"], hooks["blocks.0.hook_resid_pre"])
    worst_internal = max(checks.values())
    summary["max_abs_internal_hook_consistency"] = worst_internal
    assert worst_internal < 1e-4, {k: v for k, v in checks.items() if v >= 1e-4}

    # reload from the written files: must give the same logits
    reloaded = type(model).from_pretrained(out, attn_implementation="eager", dtype=torch.float32)
    reloaded.eval()
    with torch.no_grad():
        rl = reloaded(ids).logits
    summary["max_abs_reloaded_vs_original_logits"] = (rl - logits).abs().max().item()
    assert summary["max_abs_reloaded_vs_original_logits"] == 0.0, "reloaded model differs"
    del reloaded

    # eager vs sdpa (not for Gemma 2: soft-capping is eager-only)
    if fam != "gemma2":
        sdpa = type(model)._from_config(copy.deepcopy(hc), attn_implementation="sdpa", dtype=torch.float32)
        sdpa.load_state_dict(model.state_dict())
        sdpa.eval()
        with torch.no_grad():
            summary["max_abs_hf_eager_vs_sdpa_logits"] = (sdpa(ids).logits - logits).abs().max().item()
        del sdpa
        assert model.config._attn_implementation == "eager", model.config._attn_implementation

    # ---------------- gradients wrt hook activations ----------------
    gnames = grad_hook_names(nL)
    with torch.enable_grad(), HFRecorder(model, fam, keep_graph=True, leaf_embed=True) as grec:
        lg = model(ids).logits
        gloss = next_token_loss(lg, ids)
        tensors = [grec.raw[n] for n in gnames]
        grads = torch.autograd.grad(gloss, tensors, allow_unused=False)
    assert abs(gloss.item() - loss.item()) < 1e-6
    for n, g in zip(gnames, grads):
        ref[f"single.grad.{n}"] = g.detach().float().clone()
    # resid_pre 0 and hook_embed are the same tensor
    assert torch.equal(ref["single.grad.hook_embed"], ref["single.grad.blocks.0.hook_resid_pre"])

    # ---------------- TransformerLens cross-check ----------------
    tlx = {}
    try:
        tl = build_tl(c, model)
        with torch.no_grad():
            tl_logits, cache = tl.run_with_cache(ids, return_type="logits")
        tlx["logits"] = (tl_logits - logits).abs().max().item()
        per_hook = {}
        absent = []
        for n in names:
            if n in cache.cache_dict:
                per_hook[n] = (cache[n].float() - ref[f"single.hook.{n}"]).abs().max().item()
            else:
                absent.append(n)
        tlx["hooks_max_abs"] = max(per_hook.values())
        tlx["hooks_worst"] = max(per_hook, key=per_hook.get)
        tlx["hooks_compared"] = len(per_hook)
        tlx["hooks_absent_in_tl"] = absent
        # gradients through TL
        store = {}

        def grab(hname):
            def fn(act, hook):
                store[hname] = act

            return fn

        for p in tl.parameters():
            p.requires_grad_(False)
        emb_leaf = {}

        def leaf_embed(act, hook):
            t = act.detach().clone().requires_grad_(True)
            emb_leaf["t"] = t
            return t

        fwd = [("hook_embed", leaf_embed)] + [(n, grab(n)) for n in gnames if n != "hook_embed"]
        with torch.enable_grad():
            tlg = tl.run_with_hooks(ids, return_type="logits", fwd_hooks=fwd)
            tl_loss = next_token_loss(tlg, ids)
            tl_grads = torch.autograd.grad(tl_loss, [emb_leaf["t"]] + [store[n] for n in gnames if n != "hook_embed"])
        gd = {}
        for n, g in zip(gnames, tl_grads):
            gd[n] = (g - ref[f"single.grad.{n}"]).abs().max().item()
        tlx["loss_abs"] = abs(tl_loss.item() - loss.item())
        tlx["grads_max_abs"] = max(gd.values())
        tlx["grads_worst"] = max(gd, key=gd.get)
        tlx["ok"] = tlx["logits"] < TL_HF_TOL and tlx["hooks_max_abs"] < TL_HF_TOL and tlx["grads_max_abs"] < 1e-5
        print(
            f"[{name}] TL vs HF: logits {tlx['logits']:.2e}, hooks {tlx['hooks_max_abs']:.2e} "
            f"({tlx['hooks_worst']}), grads {tlx['grads_max_abs']:.2e}, absent {absent}"
        )
        if not tlx["ok"]:
            bad = {k: v for k, v in per_hook.items() if v >= TL_HF_TOL}
            tlx["hooks_over_tol"] = dict(sorted(bad.items(), key=lambda kv: -kv[1])[:12])
            print(f"[{name}]   TL disagrees (HF stays the reference): {tlx['hooks_over_tol']}")
        del tl, cache
    except Exception as e:  # record, HF stays the reference
        tlx = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(f"[{name}] TL cross-check failed: {tlx['error']}")
    summary["tl_crosscheck"] = tlx

    # ---------------- padded batch ----------------
    if c["batch"]:
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
        worst = 0.0
        with torch.no_grad():
            for r in range(3):
                valid = mask[r].bool()
                solo = model(bids[r : r + 1, valid]).logits[0]
                worst = max(worst, (solo - blog[r, valid]).abs().max().item())
        summary["max_abs_batch_valid_vs_unpadded"] = worst
        assert worst < 1e-4, worst

    # ---------------- greedy generation ----------------
    P, N = c["P"], c["N"]
    prompt = random_ids(gen, (1, P), V)
    model.generation_config.eos_token_id = None
    with torch.no_grad():
        gout = model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            max_new_tokens=N,
            min_new_tokens=N,
            do_sample=False,
            num_beams=1,
            pad_token_id=PAD_ID,
            eos_token_id=None,
        )
    assert gout.shape == (1, P + N), gout.shape
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
    meta = {
        "isaerft_fixture": json.dumps(
            {"config": name, "generator": "scripts/make_fixtures_llama.py", "versions": vers}, sort_keys=True
        )
    }
    safetensors.torch.save_file(ref, str(out / "reference.safetensors"), metadata=meta)

    files = {}
    for fn in sorted(os.listdir(out)):
        p = out / fn
        os.chmod(p, 0o644)
        files[fn] = {"bytes": p.stat().st_size, "sha256": sha256(p)}
    with safetensors.safe_open(str(out / "model.safetensors"), "pt") as f:
        model_keys = {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    summary.update(
        {
            "config": c["hf"],
            "layer_types": list(getattr(hc, "layer_types", None) or []),
            "rope_parameters": hc.rope_parameters,
            "tied_head": bool(c["hf"]["tie_word_embeddings"]),
            "seed": c["seed"],
            "T": T,
            "T2": c["T2"] if c["batch"] else None,
            "generate": {"prompt_len": P, "new_tokens": N},
            "loss": loss.item(),
            "files": files,
            "model_keys": {k: str(v) for k, v in model_keys.items()},
            "tensors": {k: f"{str(v.dtype).replace('torch.', '')}{list(v.shape)}" for k, v in ref.items()},
        }
    )
    return summary


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", message="HookedTransformer is deprecated", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
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
        "generator": "scripts/make_fixtures_llama.py",
        "versions": vers,
        "init": f"all weights/biases N(0, {INIT_STD}); Llama/Qwen RMSNorm weights (incl. Qwen3 q/k norms) "
        f"1 + N(0, {INIT_STD}); Gemma norm weights w ~ N(0, {INIT_STD}) (HF stores w, computes x*(1+w)); "
        "fp32; eval",
        "hf_attn_implementation": "eager",
        "reference": "HF transformers; hooks read with forward hooks / pre-hooks on HF modules and a wrapper "
        "around eager_attention_forward (mapping in the script's docstring and hook_map below)",
        "tl_crosscheck": "TransformerLens HookedTransformer from a hand-made HookedTransformerConfig + TL's "
        "convert_{llama,qwen2,qwen3,gemma}_weights, no processing; per config max |TL - HF| over every "
        "stored hook and gradient under configs[].tl_crosscheck",
        "hook_map": {
            "hook_embed": "embed_tokens output (Gemma: includes sqrt(d_model), the scale lives in the embedding module); == blocks.0.hook_resid_pre",
            "blocks.L.hook_resid_pre": "decoder layer L input",
            "blocks.L.ln1.hook_scale": "sqrt(mean(x^2)+eps) of input_layernorm input x, [b,p,1]",
            "blocks.L.ln1.hook_normalized": "x / scale, BEFORE the norm weight (w or 1+w)",
            "blocks.L.attn.hook_q/k/v": "q_proj/k_proj/v_proj outputs viewed [b,p,heads,dh]; k,v have n_kv heads (not repeated); before QK-norm and RoPE",
            "blocks.L.attn.hook_rot_q/rot_k": "q/k after QK-norm (Qwen3, Gemma 3) and RoPE, [b,p,h|hk,dh]",
            "blocks.L.attn.hook_pattern": "softmax probabilities [b,h,q,k]; masked (future / outside sliding window) entries exactly 0",
            "blocks.L.attn.hook_z": "pattern @ v per query head, [b,p,h,dh], input of o_proj",
            "blocks.L.hook_attn_out": "Llama/Qwen: o_proj output. Gemma: post_attention_layernorm output (after the post-attention norm)",
            "blocks.L.ln1_post.*": "Gemma: stats of post_attention_layernorm input (= o_proj output)",
            "blocks.L.hook_resid_mid": "resid_pre + attn_out (input of the pre-MLP norm: Llama post_attention_layernorm, Gemma pre_feedforward_layernorm)",
            "blocks.L.ln2.*": "stats of the pre-MLP norm input (= resid_mid)",
            "blocks.L.mlp.hook_pre": "gate_proj output",
            "blocks.L.mlp.hook_pre_linear": "up_proj output",
            "blocks.L.mlp.hook_post": "act(gate) * up (down_proj input); act silu (Llama/Qwen) or gelu tanh (Gemma)",
            "blocks.L.hook_mlp_out": "Llama/Qwen: down_proj output. Gemma: post_feedforward_layernorm output",
            "blocks.L.ln2_post.*": "Gemma: stats of post_feedforward_layernorm input (= down_proj output)",
            "blocks.L.hook_resid_post": "decoder layer L output",
            "ln_final.*": "stats of model.norm input (= last resid_post)",
        },
        "tensor_notes": {
            "single.input_ids": "[1,T] int64, ids in [3, V-1) (never 0 pad / 1 eos / 2 bos)",
            "single.logits": "HF logits [1,T,V] (Gemma 2: after final soft-cap)",
            "single.loss": "scalar: mean next-token CE over positions 0..T-2 from HF logits",
            "single.hook.*": "HF activations under TransformerLens hook names, see hook_map",
            "single.grad.*": "d single.loss / d hook activation (weights frozen), torch.autograd.grad on the HF graph",
            "batch.*": "Gemma 2/3 and llama_a only. row0 full, row1 right-padded (last 4), row2 left-padded (first 3); "
            "pad id 0; position_ids = clamp(cumsum(mask)-1, min=0) passed explicitly; compare only mask==1 positions; "
            "valid positions equal an unpadded single-row forward within 1e-4",
            "generate.*": "HF generate greedy (KV cache), max_new_tokens=12, eos disabled; equals a plain argmax loop without cache",
        },
        "deviations_from_brief": {
            "why": "the brief's sizes give about 5.7 MB (model weights alone about 3 MB); every structural "
            "feature is kept (GQA ratios, head_dim != hidden/heads, biases, QK-norm, sliding window 8 with T=20, "
            "Gemma 3 layer 5 global, llama3 RoPE scaling, tied/untied heads), only widths shrink",
            "vocab_size": "200 instead of 300 (llama_a, qwen2_c, qwen3_d, gemma2_e, gemma3_f); llama3_b keeps 257",
            "T": "16 (llama_a, qwen2_c, qwen3_d) and 17 (llama3_b) instead of about 20; Gemma configs keep T=20",
            "qwen2_c": "hidden 32 (4 heads -> head_dim 8), intermediate 64",
            "qwen3_d": "hidden 32, head_dim 16 (still != hidden/heads = 8), intermediate 64, tied head (like Qwen3-0.6B)",
            "gemma2_e": "hidden 32 (head_dim 16, so q width 64 != hidden), intermediate 64; soft-caps attn 5.0 / "
            "final 3.0 (instead of 50 / 30) so that capping matters with random weights",
            "gemma3_f": "hidden 32, head_dim 16 (!= hidden/heads = 8), intermediate 64; query_pre_attn_scalar 32 "
            "(now != head_dim, so the attention scale must come from query_pre_attn_scalar)",
            "llama3_b": "intermediate 64 (not given); rope_scaling original_max_position_embeddings 256 instead of 32 "
            "(head_dim 8, theta 5e5 -> wavelengths 6.3 / 167 / 4443 / 118k: keep / blend / divide / divide, so the "
            "smooth-blend branch is exercised), max_position_embeddings 2048",
            "llama_a": "intermediate 96 as in the brief; batch.* added (T2=14) to test RoPE with left padding",
        },

        "configs": summaries,
    }
    with open(OUT_DIR / "manifest.json", "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=False)
        f.write("\n")
    os.chmod(OUT_DIR / "manifest.json", 0o644)

    total = sum(p.stat().st_size for p in OUT_DIR.rglob("*") if p.is_file())
    print("\nSummary")
    for s in summaries:
        t = s["tl_crosscheck"]
        tl_txt = (
            f"TL logits {t['logits']:.2e} hooks {t['hooks_max_abs']:.2e} grads {t['grads_max_abs']:.2e}"
            if "logits" in t
            else f"TL failed: {t.get('error')}"
        )
        print(
            f"  {s['name']:<10} loss {s['loss']:.4f}  internal {s['max_abs_internal_hook_consistency']:.2e}  "
            f"sdpa {s.get('max_abs_hf_eager_vs_sdpa_logits', float('nan')):.2e}  "
            f"batch {s.get('max_abs_batch_valid_vs_unpadded', float('nan')):.2e}  {tl_txt}"
        )
        for fn, info in s["files"].items():
            print(f"      {fn:<24} {info['bytes']:>9} B")
    print(f"  total fixtures size: {total} bytes ({total / 1e6:.2f} MB)")
    assert total < SIZE_LIMIT, "fixtures too large"
    print("  versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))


if __name__ == "__main__":
    main()
