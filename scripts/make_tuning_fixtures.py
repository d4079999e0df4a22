#!/usr/bin/env python3
"""Generate ISaeRFT step-parity fixtures with TRL's own loss code.

Run from the repository root with the reference venv (torch, transformers, trl):

    /work/venv/ref/bin/pip install trl            # 1.16.0 was used; no torch reinstall
    /work/venv/ref/bin/python scripts/make_tuning_fixtures.py

Rewrites ``fixtures/tuning/``. Model: ``fixtures/gpt2/tiny_a`` (HF GPT2LMHeadModel, 2 layers,
d 64, vocab 1000), run in fp32 with eager attention. SAEs (SAELens v6 folder layout, written here):

* ``sae_jumprelu/``: jumprelu, d_sae 96, ``apply_b_dec_to_input`` true, hook
  ``blocks.0.hook_resid_post``; thresholds set per latent from the pre-activations of the fixture
  batch so that latents fire on some tokens and no pre-activation lies within ``MARGIN`` of a
  threshold (fp32 summation-order differences cannot flip a latent);
* ``sae_layernorm/``: standard (ReLU), d_sae 80, ``normalize_activations = layer_norm``.

The intervention is SAELens' splice with the error term and a hook on ``hook_sae_acts_post``:
``x' = dec(φ(f)) + stopgrad(x − dec(f))`` at every position (or at completion positions for the
``*_completion`` cases), applied with a forward hook on ``transformer.h[0]``.

Per case (component × objective × init) ``cases.safetensors`` holds, under ``<case>/``:
``before.<i>`` (parameters before the step), ``grad.<i>`` (d loss/d parameter from autograd),
``after.<i>`` (after one SGD step, lr ``LR``), ``loss``; ``cases.json`` lists the cases with
their metrics as TRL logged them. Losses come from TRL itself: ``DPOTrainer._compute_loss``
(sigmoid, ipo, hinge; reference = the same model with the component off, as TRL does for a fresh
PEFT adapter), ``ORPOTrainer.get_batch_loss_metrics`` and ``CPOTrainer.get_batch_loss_metrics``
(``loss_type="simpo"``), each called on a stand-in trainer object that carries only the
attributes those methods read; SFT is the HF model's own ``labels`` loss with the prompt and
padding set to -100 (what SFTTrainer's completion-only loss computes).

``random`` inits draw every parameter from N(0, 0.1²) (mlp: N(0, 0.3²)) so gradients reach every
parameter; ``identity`` inits are what Swift's ``LatentComponent(spec:latentCount:seed:)`` builds
(SplitMix64 Xavier-uniform hidden weights reproduced here bit for bit, everything else zero).

``objectives.safetensors`` / ``objectives.json``: objective-only cases on random log-probs
(cDPO with label smoothing as TRL ≤ 0.28 computed it, SimPO with ``cpo_alpha``, ORPO through
``ORPOTrainer.odds_ratio_loss``, SimPO through ``CPOTrainer.cpo_loss``).
"""

from __future__ import annotations

import json
import math
import types
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import GPT2LMHeadModel

from trl.experimental.cpo import CPOTrainer
from trl.experimental.orpo import ORPOTrainer
from trl.trainer.dpo_trainer import DPOTrainer
from trl.trainer.utils import add_fused_lm_head

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "tuning"
MODEL = ROOT / "fixtures" / "gpt2" / "tiny_a"
HOOK_LAYER = 0
HOOK = f"blocks.{HOOK_LAYER}.hook_resid_post"
LR = 0.1
MARGIN = 1e-4
BETA = 0.1
MLP_HIDDEN = 16
PAD = 0

torch.manual_seed(0)
GEN = torch.Generator().manual_seed(1234)

# Token ids (vocab 1000): prompts, chosen and rejected completions of different lengths.
PAIRS = [
    ([11, 523, 87, 402], [615, 33, 999], [250, 71, 444, 999]),
    ([301, 12, 45], [77, 8, 130, 901, 999], [66, 999]),
    ([5, 640, 222, 18, 733], [404, 999], [12, 505, 999]),
]
SFT_ROWS = [([17, 330, 2, 91], [480, 62, 7, 999]), ([400, 3], [58, 999])]


# ---------------------------------------------------------------- SplitMix64 (as IsaerftCore)
class SplitMix64:
    M = (1 << 64) - 1

    def __init__(self, seed: int):
        self.state = seed & self.M

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & self.M
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.M
        return z ^ (z >> 31)

    def unit_float(self) -> np.float32:
        return np.float32(self.next() >> 40) * np.float32(2.0**-24)


def xavier_splitmix(shape, seed_rng: SplitMix64) -> torch.Tensor:
    out_f, in_f = shape
    bound = np.float32(math.sqrt(6.0 / (out_f + in_f)))
    vals = np.empty(out_f * in_f, dtype=np.float32)
    for i in range(vals.size):
        u = seed_rng.unit_float()
        vals[i] = (np.float32(2) * u - np.float32(1)) * bound
    return torch.from_numpy(vals.reshape(shape))


# ---------------------------------------------------------------- SAE
class SAE:
    def __init__(self, arch, w_enc, b_enc, w_dec, b_dec, threshold=None, apply_b_dec=True, norm="none"):
        self.arch, self.W_enc, self.b_enc, self.W_dec, self.b_dec = arch, w_enc, b_enc, w_dec, b_dec
        self.threshold, self.apply_b_dec, self.norm = threshold, apply_b_dec, norm

    def process_in(self, x):
        stats = None
        if self.norm == "layer_norm":
            mu = x.mean(-1, keepdim=True)
            xc = x - mu
            std = xc.std(-1, keepdim=True)  # unbiased, as SAELens
            x = xc / (std + 1e-5)
            stats = (mu, std)
        if self.apply_b_dec:
            x = x - self.b_dec
        return x, stats

    def pre(self, x):
        s, _ = self.process_in(x)
        return s @ self.W_enc + self.b_enc

    def encode(self, x):
        s, stats = self.process_in(x)
        h = s @ self.W_enc + self.b_enc
        if self.arch == "jumprelu":
            f = F.relu(h) * (h > self.threshold)
        else:
            f = F.relu(h)
        return f, stats

    def decode(self, f, stats):
        y = f @ self.W_dec + self.b_dec
        if self.norm == "layer_norm":
            mu, std = stats
            y = y * std + mu
        return y

    def save(self, folder: Path, d_sae: int):
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {"W_enc": self.W_enc, "b_enc": self.b_enc, "W_dec": self.W_dec, "b_dec": self.b_dec}
        if self.threshold is not None:
            tensors["threshold"] = self.threshold
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "sae_weights.safetensors"))
        cfg = {"d_in": 64, "d_sae": d_sae, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": self.apply_b_dec,
               "normalize_activations": self.norm, "reshape_activations": "none",
               "metadata": {"sae_lens_version": "6.54.12", "model_name": "isaerft/tiny_a", "hook_name": HOOK,
                            "hook_head_index": None, "context_size": 16, "prepend_bos": False,
                            "dataset_path": "isaerft/random", "model_from_pretrained_kwargs": {}},
               "architecture": self.arch}
        (folder / "cfg.json").write_text(json.dumps(cfg))


# ---------------------------------------------------------------- components
class Abs1(torch.autograd.Function):
    """|s| with derivative sign(s), +1 at 0 (the prototype's grad_1_abs)."""

    @staticmethod
    def forward(ctx, s):
        ctx.save_for_backward(s)
        return s.abs()

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return g * torch.where(s < 0, -1.0, 1.0)


class Component(torch.nn.Module):
    def __init__(self, kind, d, params, abs_processor=False, active_only=False):
        super().__init__()
        self.kind, self.abs_processor, self.active_only = kind, abs_processor, active_only
        self.params = torch.nn.ParameterList([torch.nn.Parameter(p.clone()) for p in params])

    def forward(self, f):
        p = self.params
        if self.kind == "scale":
            s = Abs1.apply(p[0]) if self.abs_processor else p[0]
            return (1 + s) * f
        if self.kind == "bias":
            return f + (p[0] * (f > 0) if self.active_only else p[0])
        # mlp: nn.Linear layers (weight [out, in]) with ReLU after every hidden layer
        a = f
        layers = len(p) // 2
        for i in range(layers):
            a = F.linear(a, p[2 * i], p[2 * i + 1])
            if i < layers - 1:
                a = F.relu(a)
        return f + a


class Splice:
    """Forward hook on transformer.h[HOOK_LAYER]: SAELens' error-term splice with φ on the latents."""

    def __init__(self, sae: SAE, comp: Component | None, row_mask: torch.Tensor | None):
        self.sae, self.comp, self.row_mask, self.enabled = sae, comp, row_mask, True

    def __call__(self, module, args, output):
        if not self.enabled or self.comp is None:
            return output
        x = output.detach()
        f, stats = self.sae.encode(x)
        phi = self.comp(f)
        if self.row_mask is not None:
            m = self.row_mask[: x.shape[0], : x.shape[1]].unsqueeze(-1)
            phi = torch.where(m, phi, f)
        with torch.no_grad():
            err = x - self.sae.decode(f, stats)
        return self.sae.decode(phi, stats) + err


# ---------------------------------------------------------------- batches
def stacked_batch():
    rows = [p + c for p, c, _ in PAIRS] + [p + r for p, _, r in PAIRS]
    prompts = [len(p) for p, _, _ in PAIRS] * 2
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), PAD, dtype=torch.long)
    att = torch.zeros((len(rows), T), dtype=torch.long)
    comp = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        att[i, : len(r)] = 1
        comp[i, prompts[i]: len(r)] = 1
    return ids, att, comp


def side_batch(side):
    """ORPO/CPO-style per-side tensors: input ids (right-padded), attention mask, labels (-100 on prompt/pad)."""
    rows = [(p, c if side == "chosen" else r) for p, c, r in PAIRS]
    T = max(len(p) + len(c) for p, c in rows)
    ids = torch.full((len(rows), T), PAD, dtype=torch.long)
    att = torch.zeros((len(rows), T), dtype=torch.long)
    lab = torch.full((len(rows), T), -100, dtype=torch.long)
    for i, (p, c) in enumerate(rows):
        full = p + c
        ids[i, : len(full)] = torch.tensor(full)
        att[i, : len(full)] = 1
        lab[i, len(p): len(full)] = torch.tensor(c)
    return {f"{side}_input_ids": ids, f"{side}_attention_mask": att, f"{side}_labels": lab}


def sft_batch():
    T = max(len(p) + len(c) for p, c in SFT_ROWS)
    ids = torch.full((len(SFT_ROWS), T), PAD, dtype=torch.long)
    att = torch.zeros_like(ids)
    lab = torch.full_like(ids, -100)
    for i, (p, c) in enumerate(SFT_ROWS):
        full = p + c
        ids[i, : len(full)] = torch.tensor(full)
        att[i, : len(full)] = 1
        lab[i, len(p): len(full)] = torch.tensor(c)
    return ids, att, lab


# ---------------------------------------------------------------- TRL stand-ins
class FakeAccelerator:
    device = torch.device("cpu")

    def gather_for_metrics(self, x):
        return x

    def gather(self, x):
        return x

    def unwrap_model(self, m):
        return m


def dpo_loss(model, splice, loss_type):
    ids, att, comp = stacked_batch()
    ref_model = lambda **kw: _ref_call(model, splice, kw)  # noqa: E731
    fake = types.SimpleNamespace(
        model=model, accelerator=FakeAccelerator(), aux_loss_enabled=False, precompute_ref_logps=False,
        ref_model=ref_model, ld_alpha=None, f_divergence_type="reverse_kl", loss_types=[loss_type], loss_weights=[1.0],
        beta=BETA, label_smoothing=0.0, use_weighting=False,
        args=types.SimpleNamespace(gradient_checkpointing_kwargs=None, discopop_tau=0.05),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)}, _total_train_tokens=0, _tp_size=1)
    loss = DPOTrainer._compute_loss(fake, model, {"input_ids": ids, "attention_mask": att, "completion_mask": comp}, False)
    mode = "train" if model.training else "eval"
    metrics = {k: float(v[-1]) for k, v in fake._metrics[mode].items()
               if k.startswith(("rewards/", "logps/"))}
    return loss, metrics


def _ref_call(model, splice, kw):
    splice.enabled = False
    try:
        return model(**kw)
    finally:
        splice.enabled = True


def orpo_loss(model):
    batch = {**side_batch("chosen"), **side_batch("rejected")}
    fake = types.SimpleNamespace(is_encoder_decoder=False, padding_value=PAD, accelerator=FakeAccelerator(),
                                 aux_loss_enabled=False, beta=BETA)
    fake.concatenated_inputs = ORPOTrainer.concatenated_inputs
    fake.get_batch_logps = ORPOTrainer.get_batch_logps
    fake.concatenated_forward = types.MethodType(ORPOTrainer.concatenated_forward, fake)
    fake.odds_ratio_loss = types.MethodType(ORPOTrainer.odds_ratio_loss, fake)
    loss, metrics = ORPOTrainer.get_batch_loss_metrics(fake, model, batch)
    keep = ("rewards/", "logps/", "nll_loss", "log_odds_ratio", "log_odds_chosen")
    return loss, {k: float(v) for k, v in metrics.items() if k.startswith(keep)}


def simpo_loss(model, gamma=0.5, cpo_alpha=0.0):
    batch = {**side_batch("chosen"), **side_batch("rejected")}
    fake = types.SimpleNamespace(is_encoder_decoder=False, pad_token_id=PAD, accelerator=FakeAccelerator(),
                                 aux_loss_enabled=False, beta=BETA, cpo_alpha=cpo_alpha, loss_type="simpo",
                                 alpha=0.0, simpo_gamma=gamma, label_smoothing=0.0)
    fake.concatenated_inputs = CPOTrainer.concatenated_inputs
    fake.get_batch_logps = CPOTrainer.get_batch_logps
    fake.concatenated_forward = types.MethodType(CPOTrainer.concatenated_forward, fake)
    fake.cpo_loss = types.MethodType(CPOTrainer.cpo_loss, fake)
    loss, metrics = CPOTrainer.get_batch_loss_metrics(fake, model, batch)
    keep = ("rewards/", "logps/", "nll_loss")
    return loss, {k: float(v) for k, v in metrics.items() if k.startswith(keep)}


def sft_loss(model):
    ids, att, lab = sft_batch()
    return model(input_ids=ids, attention_mask=att, labels=lab).loss, {}


def objective_loss(model, splice, objective):
    if objective in ("dpo", "ipo", "hinge"):
        return dpo_loss(model, splice, {"dpo": "sigmoid"}.get(objective, objective))
    if objective == "orpo":
        return orpo_loss(model)
    if objective == "simpo":
        return simpo_loss(model)
    return sft_loss(model)


# ---------------------------------------------------------------- set-up
def make_model():
    model = GPT2LMHeadModel.from_pretrained(str(MODEL), attn_implementation="eager", dtype=torch.float32)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "mean_logits", "is_top1"))
    return model


def resid(model, ids, att):
    store = {}
    h = model.transformer.h[HOOK_LAYER].register_forward_hook(lambda m, a, o: store.setdefault("x", o.detach()))
    with torch.no_grad():
        model(input_ids=ids, attention_mask=att)
    h.remove()
    return store["x"]


def all_inputs(model):
    xs = []
    ids, att, _ = stacked_batch()
    xs.append(resid(model, ids, att).reshape(-1, 64))
    for side in ("chosen", "rejected"):
        b = side_batch(side)
        xs.append(resid(model, b[f"{side}_input_ids"], b[f"{side}_attention_mask"]).reshape(-1, 64))
    ids, att, _ = sft_batch()
    xs.append(resid(model, ids, att).reshape(-1, 64))
    return torch.cat(xs)


def make_jumprelu(x):
    d_sae = 96
    w_enc = torch.randn(64, d_sae, generator=GEN) / x.std() / 8
    b_dec = x.mean(0) + 0.01 * torch.randn(64, generator=GEN)
    b_enc = 0.05 * torch.randn(d_sae, generator=GEN)
    w_dec = torch.randn(d_sae, 64, generator=GEN) * x.std() / 4
    sae = SAE("jumprelu", w_enc, b_enc, w_dec, b_dec, threshold=torch.zeros(d_sae), apply_b_dec=True)
    h = sae.pre(x)
    # per latent: a threshold in the widest gap between consecutive pre-activations around the 60th percentile
    thr = torch.empty(d_sae)
    for i in range(d_sae):
        v, _ = torch.sort(h[:, i])
        lo = int(0.45 * len(v))
        hi = int(0.75 * len(v))
        gaps = v[lo + 1: hi] - v[lo: hi - 1]
        j = int(torch.argmax(gaps)) + lo
        thr[i] = max(float((v[j] + v[j + 1]) / 2), 1e-3)
    sae.threshold = thr
    margin = (h - thr).abs().min().item()
    assert margin > MARGIN, f"threshold margin {margin}"
    return sae, d_sae


def make_layernorm(x):
    d_sae = 80
    w_enc = torch.randn(64, d_sae, generator=GEN) / 8
    b_enc = 0.1 * torch.randn(d_sae, generator=GEN)
    w_dec = torch.randn(d_sae, 64, generator=GEN) / 4
    b_dec = 0.05 * torch.randn(64, generator=GEN)
    sae = SAE("standard", w_enc, b_enc, w_dec, b_dec, apply_b_dec=True, norm="layer_norm")
    margin = sae.pre(x).abs().min().item()
    assert margin > MARGIN, f"relu margin {margin}"
    return sae, d_sae


def shapes(kind, d, depth=1):
    if kind in ("scale", "bias"):
        return [[d]]
    return [[MLP_HIDDEN, d], [MLP_HIDDEN], [d, MLP_HIDDEN], [d]]


def init_params(kind, d, init, seed=0):
    sh = shapes(kind, d)
    if init == "identity":
        ps = [torch.zeros(s) for s in sh]
        if kind == "mlp":
            ps[0] = xavier_splitmix(sh[0], SplitMix64(seed))
        return ps
    std = 0.3 if kind == "mlp" else 0.1
    return [torch.randn(*s, generator=GEN) * std for s in sh]


COMPONENTS = {
    # name: (kind, spec json, abs, active_only)
    "scale": ("scale", {"kind": "scale", "scale_processor": "identity", "positions": "all"}, False, False),
    "scale_abs": ("scale", {"kind": "scale", "scale_processor": "abs", "positions": "all"}, True, False),
    "bias": ("bias", {"kind": "bias", "active_only": False, "positions": "all"}, False, False),
    "bias_active": ("bias", {"kind": "bias", "active_only": True, "positions": "all"}, False, True),
    "mlp1": ("mlp", {"kind": "mlp", "depth": 1, "hidden_size": MLP_HIDDEN, "positions": "all"}, False, False),
}
OBJECTIVES = ["dpo", "ipo", "hinge", "orpo", "simpo", "sft"]


def run_case(model, sae, d_sae, comp_name, objective, init, row_mask=None):
    kind, spec, abs_p, active = COMPONENTS[comp_name]
    before = init_params(kind, d_sae, init)
    comp = Component(kind, d_sae, before, abs_processor=abs_p, active_only=active)
    splice = Splice(sae, comp, row_mask)
    handle = model.transformer.h[HOOK_LAYER].register_forward_hook(splice)
    try:
        loss, metrics = objective_loss(model, splice, objective)
        loss.backward()
    finally:
        handle.remove()
    grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in comp.params]
    after = [p.detach() - LR * g for p, g in zip(comp.params, grads)]
    metrics["loss"] = float(loss)
    return before, grads, after, float(loss), metrics, spec


def objective_only_cases():
    """Objective values and gradients on random log-probs (no model)."""
    g = torch.Generator().manual_seed(99)
    B = 4
    c = -(torch.rand(B, generator=g, dtype=torch.float64) * 20 + 2)
    r = -(torch.rand(B, generator=g, dtype=torch.float64) * 20 + 2)
    rc = c + torch.randn(B, generator=g, dtype=torch.float64)
    rr = r + torch.randn(B, generator=g, dtype=torch.float64)
    nc = torch.tensor([3.0, 5.0, 2.0, 7.0], dtype=torch.float64)
    nr = torch.tensor([4.0, 2.0, 6.0, 3.0], dtype=torch.float64)
    nll_sum = torch.rand(B, generator=g, dtype=torch.float64) * 30
    nll_cnt = torch.tensor([9.0, 8.0, 7.0, 12.0], dtype=torch.float64)
    out, meta = {}, {}

    def record(name, fn, params):
        cc, r_ = c.clone().requires_grad_(True), r.clone().requires_grad_(True)
        nll = nll_sum.clone().requires_grad_(True)
        loss = fn(cc, r_, nll)
        loss.backward()
        out[f"{name}/loss"] = loss.detach().reshape(1)
        out[f"{name}/d_chosen"] = cc.grad
        out[f"{name}/d_rejected"] = r_.grad
        out[f"{name}/d_nll"] = nll.grad if nll.grad is not None else torch.zeros(B, dtype=torch.float64)
        meta[name] = params

    def cdpo(eps):
        def fn(cc, r_, _):
            z = BETA * ((cc - rc) - (r_ - rr))
            return (-(1 - eps) * F.logsigmoid(z) - eps * F.logsigmoid(-z)).mean()
        return fn

    record("dpo_ls0.1", cdpo(0.1), {"objective": "dpo", "beta": BETA, "label_smoothing": 0.1})
    record("ipo", lambda cc, r_, _: (((cc - rc) / nc - (r_ - rr) / nr - 1 / (2 * BETA)) ** 2).mean(),
           {"objective": "ipo", "beta": BETA})
    record("hinge", lambda cc, r_, _: torch.relu(1 - 5.0 * ((cc - rc) - (r_ - rr))).mean(), {"objective": "hinge", "beta": 5.0})

    def orpo(cc, r_, nll):
        fake = types.SimpleNamespace(beta=BETA, accelerator=FakeAccelerator())
        losses, *_ = ORPOTrainer.odds_ratio_loss(fake, (cc / nc), (r_ / nr))
        return nll.sum() / nll_cnt.sum() - losses.mean()

    # odds_ratio_loss casts to float32: compare with float32 tolerance
    record("orpo", orpo, {"objective": "orpo", "beta": BETA, "float32": True})

    def simpo(eps, alpha, gamma):
        def fn(cc, r_, _):
            fake = types.SimpleNamespace(beta=BETA, accelerator=FakeAccelerator(), alpha=0.0, loss_type="simpo",
                                         simpo_gamma=gamma, label_smoothing=eps)
            losses, _, _ = CPOTrainer.cpo_loss(fake, cc / nc, r_ / nr)
            return losses.mean() + alpha * (-cc.sum() / nc.sum())
        return fn

    record("simpo_ls0.2_alpha0.5", simpo(0.2, 0.5, 0.7),
           {"objective": "simpo", "beta": BETA, "gamma": 0.7, "label_smoothing": 0.2, "cpo_alpha": 0.5})
    inputs = {"chosen": c, "rejected": r, "ref_chosen": rc, "ref_rejected": rr, "chosen_counts": nc,
              "rejected_counts": nr, "nll_sums": nll_sum, "nll_counts": nll_cnt}
    out.update({f"input/{k}": v for k, v in inputs.items()})
    return out, meta


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    model = make_model()
    x = all_inputs(model)
    jr, jr_d = make_jumprelu(x)
    ln, ln_d = make_layernorm(x)
    jr.save(OUT / "sae_jumprelu", jr_d)
    ln.save(OUT / "sae_layernorm", ln_d)

    ids, att, comp = stacked_batch()
    completion_mask = comp.bool()

    tensors, cases = {}, []

    def add(name, sae_name, sae, d, comp_name, objective, init, row_mask=None, positions="all"):
        before, grads, after, loss, metrics, spec = run_case(model, sae, d, comp_name, objective, init, row_mask)
        spec = {**spec, "positions": positions}
        for i, (b, g_, a) in enumerate(zip(before, grads, after)):
            tensors[f"{name}/before.{i}"] = b.contiguous()
            tensors[f"{name}/grad.{i}"] = g_.contiguous()
            tensors[f"{name}/after.{i}"] = a.contiguous()
        worst_grad = max(float(g_.abs().max()) for g_ in grads)
        cases.append({"name": name, "sae": sae_name, "component": comp_name, "spec": spec, "objective": objective,
                      "init": init, "loss": loss, "metrics": metrics, "max_abs_grad": worst_grad,
                      "parameters": len(before)})

    for comp_name in COMPONENTS:
        for objective in OBJECTIVES:
            for init in ("random", "identity"):
                add(f"{comp_name}.{objective}.{init}", "sae_jumprelu", jr, jr_d, comp_name, objective, init)
    add("ln_scale.dpo.random", "sae_layernorm", ln, ln_d, "scale", "dpo", "random")
    add("ln_bias.sft.random", "sae_layernorm", ln, ln_d, "bias", "sft", "random")
    add("bias_completion.dpo.random", "sae_jumprelu", jr, jr_d, "bias", "dpo", "random",
        row_mask=completion_mask, positions="completion")

    # Base-model logits of the stacked batch (components off) for the bit-for-bit and fresh checks.
    with torch.no_grad():
        base_logits = model(input_ids=ids, attention_mask=att).logits
    tensors["batch/input_ids"] = ids
    tensors["batch/attention_mask"] = att
    tensors["batch/completion_mask"] = comp
    tensors["batch/base_logits"] = base_logits.contiguous()
    save_file(tensors, str(OUT / "cases.safetensors"))

    obj_tensors, obj_meta = objective_only_cases()
    save_file(obj_tensors, str(OUT / "objectives.safetensors"))
    (OUT / "objectives.json").write_text(json.dumps(obj_meta, indent=1))

    meta = {
        "versions": {"torch": torch.__version__, "transformers": version("transformers"), "trl": version("trl")},
        "model": "fixtures/gpt2/tiny_a", "hook": HOOK, "lr": LR, "beta": BETA, "simpo_gamma": 0.5, "cpo_alpha": 0.0,
        "mlp_hidden": MLP_HIDDEN, "pad": PAD, "margin": MARGIN,
        "pairs": [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in PAIRS],
        "sft": [{"prompt": p, "completion": c} for p, c in SFT_ROWS],
        "cases": cases,
    }
    (OUT / "cases.json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
