#!/usr/bin/env python3
"""SAE evaluation parity fixtures: SAELens' own ``run_evals`` on the tiny GPT-2 ``fixtures/gpt2/tiny_a``.

Run from the repository root in the SAELens venv (sae-lens 6.54.12 pins transformer-lens 3.9.0):

    /work/venv/sae/bin/python scripts/make_sae_eval_fixtures.py          # rewrites fixtures/sae-eval/
    /work/venv/sae/bin/python scripts/make_sae_eval_fixtures.py --bench tiny|gpt2-small  # times SAELens run_evals

The model is ``fixtures/gpt2/tiny_a`` loaded into a ``HookedTransformer`` exactly as
``scripts/make_fixtures.py`` builds it (hand-made config, ``convert_gpt2_weights``, no weight processing,
i.e. ``from_pretrained_no_processing``). The SAEs are the SAELens folders in ``fixtures/sae/``.

Token batches are random ids (BOS = 999 first in every row, and a BOS separator inside some rows, as
SAELens' packing puts between documents), redrawn until no SAE pre-activation lies within ``MARGIN`` of a
point where a feature switches on or off (ReLU zero, JumpReLU threshold, gate sign, top-k boundary):
fp32 summation-order differences then cannot change L0 or the feature densities.

SAELens is called through its public entry point ``sae_lens.evals.run_evals`` with
``get_eval_everything_config`` and a stub activation store that serves the stored batches (the same
batches for the reconstruction and the sparsity/variance passes, as ``run_evals`` resets the store
between them). SAELens 6.54.12 already uses the corrected formulas: ``explained_variance`` is the
mean-centred one (``ExplainedVarianceCalculator``: 1 − E‖x−x̂‖² / (E‖x‖² − ‖E x‖²), sums over every
batch) and ``mse`` is the per-token squared error summed over d_in, averaged over tokens (#711).
The old per-batch formula is still reported as ``explained_variance_legacy``; both are recorded and the
Swift evaluation reproduces both.

Output ``fixtures/sae-eval/``:
* ``tokens.safetensors``: ``tokens`` int64 ``[n_batches, batch_size, context_size]``;
* ``<case>.safetensors``: SAELens' ``feature_density``, ``consistent_activation_heuristic`` ``[d_sae]``
  (NaN where a latent never fires), and per-token ``ce_loss_without_sae`` ``[n_batches, B, T-1]`` and
  ``kl_div_with_sae`` ``[n_batches, B, T]`` (unmasked; for debugging);
* ``manifest.json``: versions, the cases (SAE folder, excluded tokens) and SAELens' metric dict per case.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import GPT2LMHeadModel

import sae_lens
from sae_lens import SAE
from sae_lens.evals import get_eval_everything_config, get_recons_loss, run_evals, _kl
from sae_lens.training.activation_scaler import ActivationScaler
from transformer_lens import HookedTransformer, HookedTransformerConfig
from transformer_lens.pretrained.weight_conversions.gpt2 import convert_gpt2_weights

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "sae-eval"
MODEL_DIR = ROOT / "fixtures" / "gpt2" / "tiny_a"
SAE_DIR = ROOT / "fixtures" / "sae"
BOS = 999
N_BATCHES, BATCH, CONTEXT = 3, 4, 16
MARGIN = 1e-4
SEED = 4242

# (case name, SAE folder, excluded tokens: a list, or False for none)
CASES = [
    ("standard", "standard", [BOS]),
    ("standard_all_tokens", "standard", False),
    ("jumprelu", "jumprelu", [BOS]),
    ("abstopk", "abstopk", [BOS]),
    ("gated", "gated", [BOS]),
    ("hook_z", "hook_z", [BOS]),
    ("layer_norm", "layer_norm", [BOS]),
]


def tl_config(hf: GPT2LMHeadModel) -> HookedTransformerConfig:
    hc = hf.config
    return HookedTransformerConfig(
        model_name="custom-gpt2", n_layers=hc.n_layer, d_model=hc.n_embd, d_head=hc.n_embd // hc.n_head,
        n_heads=hc.n_head, d_mlp=4 * hc.n_embd, n_ctx=hc.n_positions, d_vocab=hc.vocab_size,
        d_vocab_out=hc.vocab_size, act_fn=hc.activation_function, eps=hc.layer_norm_epsilon,
        use_attn_scale=True, use_local_attn=False, scale_attn_by_inverse_layer_idx=False,
        normalization_type="LN", positional_embedding_type="standard", original_architecture="GPT2LMHeadModel",
        tokenizer_name=None, default_prepend_bos=False, init_weights=False, device="cpu", dtype=torch.float32)


def load_model(hf: GPT2LMHeadModel) -> HookedTransformer:
    """``make_fixtures.build_tl(processed=False)``: from_pretrained_no_processing semantics."""
    cfg = tl_config(hf)
    tl = HookedTransformer(copy.deepcopy(cfg), tokenizer=None, move_to_device=True)
    sd = {k: v.detach().clone() for k, v in convert_gpt2_weights(hf, cfg).items()}
    tl.load_and_process_state_dict(sd, fold_ln=False, center_writing_weights=False, center_unembed=False,
                                   fold_value_biases=False)
    tl.eval()
    return tl


class FixedStore:
    """The parts of ``ActivationsStore`` that ``run_evals`` uses, serving fixed batches in order."""

    def __init__(self, batches: torch.Tensor):
        self.batches = batches
        self.context_size = batches.shape[2]
        self.store_batch_size_prompts = batches.shape[1]
        self.i = 0

    def get_batch_tokens(self, batch_size=None, **_kw):
        assert batch_size in (None, self.store_batch_size_prompts)
        b = self.batches[self.i % len(self.batches)]
        self.i += 1
        return b.clone()

    def reset_input_dataset(self):
        self.i = 0


def sae_rows(sae, acts: torch.Tensor) -> torch.Tensor:
    """Hook value → the rows the SAE reads (hook_z: heads flattened), float64."""
    x = acts.to(torch.float64)
    if "hook_z" in sae.cfg.metadata.hook_name:
        x = x.flatten(-2)
    return x.reshape(-1, sae.cfg.d_in)


def margin(sae, x: torch.Tensor) -> float:
    """Distance (float64) of the nearest pre-activation to a point where a feature switches on/off."""
    s = copy.deepcopy(sae).to(torch.float64)
    norm = sae.cfg.normalize_activations
    if norm == "constant_norm_rescale":
        x = x * (sae.cfg.d_in ** 0.5) / x.norm(dim=-1, keepdim=True)
    elif norm == "layer_norm":
        x = x - x.mean(-1, keepdim=True)
        x = x / (x.std(-1, keepdim=True) + 1e-5)
    sae_in = x - s.b_dec * sae.cfg.apply_b_dec_to_input
    arch = sae.cfg.architecture()
    if arch == "gated":
        gate = sae_in @ s.W_enc + s.b_gate
        mag = sae_in @ (s.W_enc * s.r_mag.exp()) + s.b_mag
        return min(gate.abs().min().item(), mag.abs().min().item())
    h = sae_in @ s.W_enc + s.b_enc
    if arch == "standard":
        return h.abs().min().item()
    if arch == "jumprelu":
        return min((h - s.threshold).abs().min().item(), h.abs().min().item())
    if getattr(sae.cfg, "rescale_acts_by_decoder_norm", False):
        h = h * s.W_dec.norm(dim=-1)
    if arch == "abstopk":
        h = h.abs()
    top = h.sort(-1, descending=True).values
    gap = (top[..., sae.cfg.k - 1] - top[..., sae.cfg.k]).min().item()
    return min(gap, top[..., : sae.cfg.k].abs().min().item())


def draw_tokens(gen: torch.Generator) -> torch.Tensor:
    t = torch.randint(0, BOS, (N_BATCHES, BATCH, CONTEXT), generator=gen, dtype=torch.int64)
    t[:, :, 0] = BOS
    t[0, 1, 7] = BOS   # document separators inside rows
    t[2, 3, 11] = BOS
    return t


def to_plain(obj):
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, torch.Tensor):
        return obj.item()
    return obj


def make(model, saes) -> None:
    gen = torch.Generator().manual_seed(SEED)
    for attempt in range(200):
        tokens = draw_tokens(gen)
        worst = math.inf
        for _, folder, _ in CASES:
            sae = saes[folder]
            hook = sae.cfg.metadata.hook_name
            _, cache = model.run_with_cache(tokens.flatten(0, 1), names_filter=[hook])
            worst = min(worst, margin(sae, sae_rows(sae, cache[hook])))
        if worst > MARGIN:
            break
    else:
        sys.exit("no token draw kept every pre-activation away from a discontinuity")
    print(f"tokens: attempt {attempt}, smallest margin {worst:.2e}")
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({"tokens": tokens.contiguous()}, OUT / "tokens.safetensors")

    cases = {}
    for name, folder, exclude in CASES:
        sae = saes[folder]
        metrics, feature_metrics = run_evals(
            sae, FixedStore(tokens), model, ActivationScaler(),
            eval_config=get_eval_everything_config(batch_size_prompts=BATCH, n_eval_reconstruction_batches=N_BATCHES,
                                                   n_eval_sparsity_variance_batches=N_BATCHES),
            exclude_special_tokens=exclude)
        ce, kl = [], []
        if "hook_z" in sae.cfg.metadata.hook_name:
            sae.turn_off_forward_pass_hook_z_reshaping()   # as run_evals does
        for b in tokens:
            with torch.no_grad():
                r = get_recons_loss(sae, model, ActivationScaler(), b, compute_kl=True, compute_ce_loss=True)
            ce.append(r["ce_loss_without_sae"])
            kl.append(r["kl_div_with_sae"])
        if "hook_z" in sae.cfg.metadata.hook_name:
            sae.turn_on_forward_pass_hook_z_reshaping()
        save_file({
            "feature_density": torch.tensor(feature_metrics["feature_density"], dtype=torch.float32),
            "consistent_activation_heuristic": torch.tensor(feature_metrics["consistent_activation_heuristic"],
                                                            dtype=torch.float32),
            "ce_loss_without_sae": torch.stack(ce).float().contiguous(),
            "kl_div_with_sae": torch.stack(kl).float().contiguous(),
        }, OUT / f"{name}.safetensors")
        cases[name] = {"sae": f"fixtures/sae/{folder}", "exclude_special_tokens": exclude or [],
                       "metrics": to_plain(metrics)}
        m = metrics
        print(f"{name:20s} l0 {m['sparsity']['l0']:.4f} ev {m['reconstruction_quality']['explained_variance']:.4f} "
              f"ce_score {m['model_performance_preservation']['ce_loss_score']:.4f} "
              f"kl_score {m['model_behavior_preservation']['kl_div_score']:.4f}")

    manifest = {
        "generator": "scripts/make_sae_eval_fixtures.py",
        "versions": {p: version(p) for p in ["sae-lens", "transformer-lens", "torch", "safetensors"]},
        "model": "fixtures/gpt2/tiny_a (HookedTransformer, no weight processing)",
        "entry_point": "sae_lens.evals.run_evals(get_eval_everything_config(batch_size_prompts, n, n), "
                       "exclude_special_tokens=<case>)",
        "n_batches": N_BATCHES, "batch_size_prompts": BATCH, "context_size": CONTEXT, "bos": BOS,
        "token_margin": worst,
        "notes": {
            "explained_variance": "SAELens 6.54.12 ExplainedVarianceCalculator: 1 - E||x-x_hat||^2 / (E||x||^2 - ||E x||^2) "
                                  "over all batches (corrected, mean-centred); the Swift evaluation matches this",
            "explained_variance_legacy": "mean over tokens of 1 - ||x-x_hat||^2 / ||x - mean_batch x||^2 "
                                         "(the pre-#665 per-batch formula); also matched",
            "mse": "mean over tokens of sum_d (x-x_hat)^2 (fixed in #711)",
        },
        "cases": cases,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for f in OUT.iterdir():
        f.chmod(0o644)   # safetensors writes 0600


def bench(model_kind: str, tokens_total: int, batch: int, context: int, model_dir=None, sae_dir=None) -> None:
    """Times SAELens' run_evals (everything config) the way the Swift CLI evaluates: ``tiny`` is
    tiny_a with fixtures/sae/standard; ``gpt2-small`` a random GPT-2-small-sized model with a random
    d_sae 24576 SAE at blocks.6.hook_resid_pre, or the GPT-2 folder / SAE folder given (e.g. the ones
    ``isaerft make-random-model`` and SAELens ``save_model`` wrote for the Swift timing)."""
    torch.manual_seed(0)
    if model_dir:
        hf = GPT2LMHeadModel.from_pretrained(model_dir, attn_implementation="eager").eval()
        model = load_model(hf)
        sae = SAE.load_from_disk(sae_dir)
    elif model_kind == "tiny":
        hf = GPT2LMHeadModel.from_pretrained(MODEL_DIR, attn_implementation="eager").eval()
        model = load_model(hf)
        sae = SAE.load_from_disk(SAE_DIR / "standard")
    else:
        from transformers import GPT2Config
        from sae_lens import StandardSAE, StandardSAEConfig
        from sae_lens.saes.sae import SAEMetadata
        hf = GPT2LMHeadModel(GPT2Config()).eval()      # random GPT-2-small-sized model
        model = load_model(hf)
        sae = StandardSAE(StandardSAEConfig(d_in=768, d_sae=24576, metadata=SAEMetadata(
            model_name="gpt2", hook_name="blocks.6.hook_resid_pre", hook_head_index=None)))
        with torch.no_grad():
            sae.W_enc.normal_(0, 768 ** -0.5)
            sae.W_dec.normal_(0, 0.05)
            sae.b_enc.fill_(-0.5)
    n_batches = max(1, tokens_total // (batch * context))
    V = model.cfg.d_vocab
    tokens = torch.randint(0, V - 1, (n_batches, batch, context))
    tokens[:, :, 0] = V - 1
    cfg = get_eval_everything_config(batch_size_prompts=batch, n_eval_reconstruction_batches=n_batches,
                                     n_eval_sparsity_variance_batches=n_batches)
    run_evals(sae, FixedStore(tokens[:1]), model, ActivationScaler(), eval_config=get_eval_everything_config(
        batch_size_prompts=batch, n_eval_reconstruction_batches=1, n_eval_sparsity_variance_batches=1),
        exclude_special_tokens=[V - 1])  # warm-up
    start = time.perf_counter()
    run_evals(sae, FixedStore(tokens), model, ActivationScaler(), eval_config=cfg, exclude_special_tokens=[V - 1])
    elapsed = time.perf_counter() - start
    n = n_batches * batch * context
    print(json.dumps({"model": model_kind, "tokens": n, "seconds": round(elapsed, 3),
                      "tokens_per_second": round(n / elapsed, 1), "threads": torch.get_num_threads(),
                      "batch": batch, "context": context}))


def main() -> None:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*deprecated.*")
    p = argparse.ArgumentParser()
    p.add_argument("--bench", choices=["tiny", "gpt2-small"], help="time SAELens' run_evals instead of writing fixtures")
    p.add_argument("--tokens", type=int, default=4096)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--model-dir", help="--bench: a GPT-2 folder to load instead of a random model")
    p.add_argument("--sae-dir", help="--bench: the SAELens folder to use with --model-dir")
    args = p.parse_args()
    if args.bench:
        bench(args.bench, args.tokens, args.batch, args.context, args.model_dir, args.sae_dir)
        return
    torch.manual_seed(0)
    hf = GPT2LMHeadModel.from_pretrained(MODEL_DIR, attn_implementation="eager").eval()
    model = load_model(hf)
    saes = {folder: SAE.load_from_disk(SAE_DIR / folder) for _, folder, _ in CASES}
    for s in saes.values():
        s.eval()
    make(model, saes)


if __name__ == "__main__":
    with torch.no_grad():
        main()
