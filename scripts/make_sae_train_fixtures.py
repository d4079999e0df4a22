#!/usr/bin/env python3
"""Generate SAE-training and optimiser parity fixtures (fixtures/sae-train/).

Run from the repository root with the sae-lens venv:

    /work/venv/sae/bin/python scripts/make_sae_train_fixtures.py

SAE training (one file per case, ``<case>.safetensors`` + ``<case>.json``): tiny shapes (d_in 16,
d_sae 48, batch 32, k 4), built from SAELens 6.54.12's own training classes
(``StandardTrainingSAE``, ``TopKTrainingSAE``, ``BatchTopKTrainingSAE``, ``JumpReLUTrainingSAE``,
``GatedTrainingSAE``). Two optimiser steps are run by a copy of ``SAETrainer._train_step``
(forward with the dead-latent mask, firing statistics, backward, ``clip_grad_norm_(…, 1.0)``,
``Adam.step``, LR scheduler and coefficient scheduler steps), because the trainer itself needs a
model and an activation store. Recorded per step k (0, 1): ``x{k}`` (raw input; the trainer scales
it by ``scale`` when normalize_activations is expected_average_only_in), ``s{k}.loss.<name>``,
``s{k}.grad.<param>`` (before clipping), ``s{k}.grad_norm``, ``s{k}.lr``, ``s{k}.coef``,
``s{k}.param.<param>`` (after the update), ``s{k}.exp_avg.<param>``, ``s{k}.since_fired``
(after the step), ``s{k}.fire_counts``, ``s{k}.topk_threshold`` (batchtopk). ``init.<param>``
and ``init.since_fired`` are the starting state; ``inference.<tensor>`` is what
``save_inference_model`` writes after folding the activation scale (SAELens' end-of-training order).

Deliberate differences from SAELens: none in the maths. SAELens 6.54.12 already parameterises the
JumpReLU threshold directly (clamped at 0 before each forward), as we do; its aux-k reconstruction
has no b_dec and no ReLU, and its gated auxiliary reconstruction does not detach W_dec / b_dec: we
reproduce all of these.

Starting points are SAELens' initialisation (seeded torch RNG) with biases, thresholds, r_mag and
decoder-row norms perturbed so that every gradient path is exercised. Inputs are redrawn until no
pre-activation lies within MARGIN of a decision boundary (ReLU at 0, JumpReLU threshold and the
rectangle-kernel edges θ ± ε/2, gate sign, top-k / batch-top-k / aux-k cut-offs), so that fp32
summation-order differences cannot flip a decision.

Optimisers (``optim.safetensors`` + ``optim.json``): torch.optim Adam / AdamW (with weight decay,
and a name excluded from it) / SGD (plain, momentum, Nesterov) for 3 steps on given gradients with
``clip_grad_norm_``; LR schedules from HF ``get_scheduler`` and SAELens ``get_lr_scheduler`` over
short horizons, and ``CoefficientScheduler`` values.
"""

from __future__ import annotations

import copy
import json
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors.torch import save_file

import sae_lens
from sae_lens.saes import (
    BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig, GatedTrainingSAE, GatedTrainingSAEConfig,
    JumpReLUTrainingSAE, JumpReLUTrainingSAEConfig, StandardTrainingSAE, StandardTrainingSAEConfig,
    TopKTrainingSAE, TopKTrainingSAEConfig,
)
from sae_lens.saes.sae import TrainStepInput
from sae_lens.training.optim import CoefficientScheduler, get_lr_scheduler

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "sae-train"
D_IN, D_SAE, BATCH, K = 16, 48, 32, 4
DEAD_WINDOW = 5
MARGIN = 1e-5
VERSIONS = {"torch": torch.__version__, "sae_lens": version("sae-lens")}


def boundaries_ok(sae, arch, x, cfg_extra, dead):
    """True when no decision in the forward pass is within MARGIN of flipping."""
    with torch.no_grad():
        sae_in = sae.process_sae_in(x)
        if arch == "gated":
            g = sae_in @ sae.W_enc + sae.b_gate
            m = sae_in @ (sae.W_enc * sae.r_mag.exp()) + sae.b_mag
            return bool((g.abs() > MARGIN).all() and (m.abs() > MARGIN).all())
        h = sae_in @ sae.W_enc + sae.b_enc
        if arch in ("topk", "batchtopk"):
            if sae.cfg.rescale_acts_by_decoder_norm:
                h = h * sae.W_dec.norm(dim=-1)
            if (h.abs() <= MARGIN).any():
                return False
            if arch == "topk":
                s = h.sort(dim=-1, descending=True).values
                if ((s[:, K - 1] - s[:, K]).abs() <= MARGIN).any():
                    return False
            else:
                s = h.relu().flatten().sort(descending=True).values
                n = int(K * BATCH)
                if (s[n - 1] - s[n]).abs() <= MARGIN:
                    return False
            nd = int(dead.sum())
            if nd > 0:
                ka = min(D_IN // 2, nd)
                hd = h[:, dead].sort(dim=-1, descending=True).values
                if ka < nd and ((hd[:, ka - 1] - hd[:, ka]).abs() <= MARGIN).any():
                    return False
            return True
        if (h.abs() <= MARGIN).any():
            return False
        if arch == "jumprelu":
            th = sae.threshold.clamp(min=0)
            bw = sae.cfg.jumprelu_bandwidth
            for edge in (th, th - bw / 2, th + bw / 2):
                if ((h - edge).abs() <= MARGIN).any():
                    return False
        return True


def perturb(sae, arch, gen):
    with torch.no_grad():
        sae.b_dec.copy_(0.1 * torch.randn(D_IN, generator=gen))
        sae.W_dec.mul_(0.5 + torch.rand(D_SAE, 1, generator=gen) * 2)   # row norms 0.05 … 0.25
        sae.W_enc.add_(0.05 * torch.randn(D_IN, D_SAE, generator=gen))
        if arch == "gated":
            sae.b_gate.copy_(0.05 * torch.randn(D_SAE, generator=gen))
            sae.b_mag.copy_(0.05 * torch.randn(D_SAE, generator=gen))
            sae.r_mag.copy_(0.2 * torch.randn(D_SAE, generator=gen))
        else:
            sae.b_enc.copy_(0.05 * torch.randn(D_SAE, generator=gen))
        if arch == "jumprelu":
            sae.threshold.copy_(0.03 + 0.05 * torch.randn(D_SAE, generator=gen))   # some negative: clamped


def params(sae):
    return {n: p for n, p in sae.named_parameters()}


def run_case(name, arch, cfg_cls, sae_cls, cfg_kwargs, trainer_kwargs, seed):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    cfg = cfg_cls(d_in=D_IN, d_sae=D_SAE, dtype="float32", device="cpu", **cfg_kwargs)
    sae = sae_cls(cfg)
    perturb(sae, arch, gen)
    since_fired = torch.randint(0, 2 * DEAD_WINDOW, (D_SAE,), generator=gen).float()
    scale = trainer_kwargs.get("scale")
    lr = trainer_kwargs["lr"]
    total_steps = trainer_kwargs["total_steps"]
    out = {}
    for n, p in params(sae).items():
        out[f"init.{n}"] = p.detach().clone()
    out["init.since_fired"] = since_fired.clone()
    if arch == "batchtopk":
        with torch.no_grad():
            sae.topk_threshold.fill_(trainer_kwargs.get("init_topk_threshold", 0.0))
        out["init.topk_threshold"] = torch.tensor([float(sae.topk_threshold)], dtype=torch.float32)

    opt = torch.optim.Adam(sae.parameters(), lr=lr, betas=(0.9, 0.999))
    sched = get_lr_scheduler(trainer_kwargs.get("scheduler", "constant"), optimizer=opt, training_steps=total_steps, lr=lr,
                             warm_up_steps=trainer_kwargs.get("lr_warm_up_steps", 0),
                             decay_steps=trainer_kwargs.get("lr_decay_steps", 0), lr_end=lr / 10, num_cycles=1)
    coef_scheds = {}
    for cname, c in sae.get_coefficients().items():
        if isinstance(c, float) or isinstance(c, int):
            coef_scheds[cname] = CoefficientScheduler(0, c)
        else:
            coef_scheds[cname] = CoefficientScheduler(c.warm_up_steps, c.value)

    xgen = torch.Generator().manual_seed(seed + 2)
    for step in range(2):
        dead = since_fired > DEAD_WINDOW
        for _ in range(2000):
            x = torch.randn(BATCH, D_IN, generator=xgen) + 0.3
            xs = x * scale if scale is not None else x
            if boundaries_ok(sae, arch, xs, cfg_kwargs, dead):
                break
        else:
            raise RuntimeError(f"{name}: no input batch clear of decision boundaries")
        out[f"x{step}"] = x.clone()
        coefs = {n: s.value for n, s in coef_scheds.items()}
        out[f"s{step}.lr"] = torch.tensor([opt.param_groups[0]["lr"]], dtype=torch.float64)
        out[f"s{step}.coef"] = torch.tensor([next(iter(coefs.values()), 0.0)], dtype=torch.float64)
        sae.train()
        o = sae.training_forward_pass(TrainStepInput(sae_in=xs, dead_neuron_mask=dead, coefficients=coefs,
                                                     n_training_steps=step, is_logging_step=False))
        with torch.no_grad():
            fired = (o.feature_acts > 0).float()
            since_fired += 1
            since_fired[fired.sum(0) > 0] = 0
        o.loss.backward()
        for n, p in params(sae).items():
            out[f"s{step}.grad.{n}"] = p.grad.detach().clone()
        gn = torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        sched.step()
        for s in coef_scheds.values():
            s.step()
        out[f"s{step}.loss.overall_loss"] = o.loss.detach().reshape(1).double()
        for ln, lv in o.losses.items():
            out[f"s{step}.loss.{ln}"] = torch.as_tensor(lv).detach().reshape(1).double()
        out[f"s{step}.grad_norm"] = gn.detach().reshape(1).double()
        out[f"s{step}.l0"] = fired.sum(-1).mean().reshape(1).double()
        out[f"s{step}.fire_counts"] = fired.sum(0)
        out[f"s{step}.since_fired"] = since_fired.clone()
        out[f"s{step}.sae_out"] = o.sae_out.detach().clone()
        for n, p in params(sae).items():
            out[f"s{step}.param.{n}"] = p.detach().clone()
            out[f"s{step}.exp_avg.{n}"] = opt.state[p]["exp_avg"].clone()
            out[f"s{step}.exp_avg_sq.{n}"] = opt.state[p]["exp_avg_sq"].clone()
        if arch == "batchtopk":
            out[f"s{step}.topk_threshold"] = torch.tensor([float(sae.topk_threshold)], dtype=torch.float64)

    # What SAELens saves at the end of training: fold the activation scale, then the inference state dict.
    final = copy.deepcopy(sae)
    if scale is not None:
        final.fold_activation_norm_scaling_factor(scale)
    sd = {k: v.detach().clone() for k, v in final.state_dict().items()}
    final.process_state_dict_for_saving_inference(sd)
    for k, v in sd.items():
        out[f"inference.{k}"] = v.float().contiguous()
    inference_cfg = final.cfg.get_inference_sae_cfg_dict()

    tensors = {k: v.float().contiguous() if v.dtype != torch.float64 else v.contiguous() for k, v in out.items()}
    save_file(tensors, str(OUT / f"{name}.safetensors"), metadata={"versions": json.dumps(VERSIONS)})
    meta = {"case": name, "architecture": arch, "d_in": D_IN, "d_sae": D_SAE, "batch": BATCH,
            "dead_feature_window": DEAD_WINDOW, "sae_cfg": {k: v for k, v in cfg_kwargs.items()},
            "trainer": trainer_kwargs, "inference_architecture": inference_cfg["architecture"],
            "versions": VERSIONS}
    (OUT / f"{name}.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def sae_cases():
    run_case("standard", "standard", StandardTrainingSAEConfig, StandardTrainingSAE,
             dict(l1_coefficient=0.5, l1_warm_up_steps=3, apply_b_dec_to_input=True,
                  normalize_activations="expected_average_only_in"),
             dict(lr=1e-3, total_steps=10, lr_warm_up_steps=2, scale=1.7), seed=10)
    run_case("standard_nobdec", "standard", StandardTrainingSAEConfig, StandardTrainingSAE,
             dict(l1_coefficient=2.0, apply_b_dec_to_input=False),
             dict(lr=1e-3, total_steps=10), seed=11)
    run_case("topk", "topk", TopKTrainingSAEConfig, TopKTrainingSAE,
             dict(k=K, aux_loss_coefficient=0.7, apply_b_dec_to_input=True),
             dict(lr=1e-3, total_steps=10), seed=20)
    run_case("topk_norescale", "topk", TopKTrainingSAEConfig, TopKTrainingSAE,
             dict(k=K, rescale_acts_by_decoder_norm=False, apply_b_dec_to_input=True),
             dict(lr=1e-3, total_steps=10, scheduler="cosineannealing", lr_decay_steps=2), seed=21)
    run_case("batchtopk", "batchtopk", BatchTopKTrainingSAEConfig, BatchTopKTrainingSAE,
             dict(k=K, apply_b_dec_to_input=True, normalize_activations="expected_average_only_in"),
             dict(lr=1e-3, total_steps=10, init_topk_threshold=0.05, scale=0.8), seed=30)
    run_case("jumprelu_step", "jumprelu", JumpReLUTrainingSAEConfig, JumpReLUTrainingSAE,
             dict(l0_coefficient=0.3, jumprelu_bandwidth=0.05, jumprelu_init_threshold=0.01,
                  jumprelu_sparsity_loss_mode="step", pre_act_loss_coefficient=0.2, apply_b_dec_to_input=True),
             dict(lr=1e-3, total_steps=10), seed=40)
    run_case("jumprelu_tanh", "jumprelu", JumpReLUTrainingSAEConfig, JumpReLUTrainingSAE,
             dict(l0_coefficient=0.3, l0_warm_up_steps=2, jumprelu_bandwidth=0.1, jumprelu_sparsity_loss_mode="tanh",
                  jumprelu_ste_to_input=True, apply_b_dec_to_input=False),
             dict(lr=1e-3, total_steps=10), seed=41)
    run_case("gated", "gated", GatedTrainingSAEConfig, GatedTrainingSAE,
             dict(l1_coefficient=0.4, apply_b_dec_to_input=True),
             dict(lr=1e-3, total_steps=10), seed=50)


def optimiser_cases():
    from transformers import get_scheduler  # noqa: F401  (HF schedules)
    out, meta = {}, {"versions": VERSIONS, "cases": []}
    gen = torch.Generator().manual_seed(7)
    shapes = {"weight": (5, 3), "bias": (3,), "scale": (4,)}
    init = {n: torch.randn(*s, generator=gen) for n, s in shapes.items()}
    grads = [{n: torch.randn(*s, generator=gen) * (0.3 if i == 1 else 1.0) for n, s in shapes.items()} for i in range(3)]
    for n, t in init.items():
        out[f"init.{n}"] = t
    for i, g in enumerate(grads):
        for n, t in g.items():
            out[f"grad{i}.{n}"] = t
    cases = [
        ("adam", dict(kind="adam", lr=0.01, weight_decay=0.0), 1.0),
        ("adam_l2", dict(kind="adam", lr=0.01, weight_decay=0.1), 0.0),
        ("adamw", dict(kind="adamw", lr=0.01, weight_decay=0.1), 2.0),
        ("sgd", dict(kind="sgd", lr=0.1, weight_decay=0.0), 0.0),
        ("sgd_momentum", dict(kind="sgd", lr=0.1, momentum=0.9, weight_decay=0.05), 1.5),
        ("sgd_nesterov", dict(kind="sgd", lr=0.1, momentum=0.9, nesterov=True), 0.0),
    ]
    for name, c, clip in cases:
        ps = {n: t.clone().requires_grad_(True) for n, t in init.items()}
        decay = [ps["weight"], ps["scale"]]
        no_decay = [ps["bias"]]
        wd = c.get("weight_decay", 0.0)
        groups = [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]
        if c["kind"] == "adam":
            opt = torch.optim.Adam(groups, lr=c["lr"], betas=(0.9, 0.999), eps=1e-8)
        elif c["kind"] == "adamw":
            opt = torch.optim.AdamW(groups, lr=c["lr"], betas=(0.9, 0.999), eps=1e-8)
        else:
            opt = torch.optim.SGD(groups, lr=c["lr"], momentum=c.get("momentum", 0.0), nesterov=c.get("nesterov", False))
        for i, g in enumerate(grads):
            for n, p in ps.items():
                p.grad = g[n].clone()
            norm = torch.nn.utils.clip_grad_norm_(list(ps.values()), clip) if clip > 0 else None
            if norm is not None:
                out[f"{name}.norm{i}"] = norm.reshape(1).double()
            opt.step()
            for n, p in ps.items():
                out[f"{name}.step{i}.{n}"] = p.detach().clone()
        meta["cases"].append({"name": name, "clip": clip, **c})
    # HF schedules: multiplier × lr per step.
    from transformers import get_scheduler
    sched_cases = []
    for sname, warm, total in [("linear", 3, 10), ("linear", 0, 7), ("cosine", 2, 9), ("constant", 0, 5),
                               ("constant_with_warmup", 4, 8)]:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.AdamW([p], lr=0.5)
        s = get_scheduler(sname, opt, num_warmup_steps=warm, num_training_steps=total)
        lrs = []
        for _ in range(total):
            lrs.append(opt.param_groups[0]["lr"]); opt.step(); s.step()
        key = f"hf.{sname}.{warm}.{total}"
        out[key] = torch.tensor(lrs, dtype=torch.float64)
        sched_cases.append({"key": key, "kind": sname, "warmup": warm, "total": total, "lr": 0.5})
    for main, warm, decay, total in [("constant", 3, 0, 10), ("constant", 2, 3, 12), ("cosineannealing", 3, 2, 15),
                                     ("cosineannealing", 0, 0, 8), ("cosineannealingwarmrestarts", 2, 0, 14),
                                     ("constant", 1, 0, 4)]:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.Adam([p], lr=0.3)
        s = get_lr_scheduler(main, optimizer=opt, training_steps=total, lr=0.3, warm_up_steps=warm, decay_steps=decay,
                             lr_end=0.03, num_cycles=2)
        lrs = []
        for _ in range(total):
            lrs.append(opt.param_groups[0]["lr"]); opt.step(); s.step()
        key = f"saelens.{main}.{warm}.{decay}.{total}"
        out[key] = torch.tensor(lrs, dtype=torch.float64)
        sched_cases.append({"key": key, "kind": main, "warmup": warm, "decay": decay, "total": total, "lr": 0.3,
                            "lr_end": 0.03, "cycles": 2})
    for warm in (0, 3):
        cs = CoefficientScheduler(warm, 2.5)
        vals = []
        for _ in range(6):
            vals.append(cs.value); cs.step()
        out[f"coef.{warm}"] = torch.tensor(vals, dtype=torch.float64)
    meta["schedules"] = sched_cases
    save_file({k: v.contiguous() for k, v in out.items()}, str(OUT / "optim.safetensors"))
    (OUT / "optim.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    sae_cases()
    optimiser_cases()
    print("wrote", sorted(p.name for p in OUT.iterdir()))
