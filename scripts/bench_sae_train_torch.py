#!/usr/bin/env python3
"""SAE training-step throughput in PyTorch, for `isaerft bench sae-train --torch-python PY`.

Times one full step (forward, losses, backward, clip_grad_norm_(1.0), Adam.step, zero_grad) on
random activations, d_in 768, in two forms:

* ``plain``: a short PyTorch SAE written for speed (standard: ReLU + L1 weighted by decoder norms;
  topk: decoder-norm rescaling, per-row top-k, sparse decode through ``F.embedding_bag``);
* ``saelens``: SAELens' own ``StandardTrainingSAE`` / ``TopKTrainingSAE`` ``training_forward_pass``
  (the trainer's step without logging), when sae_lens imports.

Prints one JSON object: activations/s (median of --repeats after one warm-up) per form.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F


def plain_step_fn(arch, d_in, d_sae, k, l1):
    g = torch.Generator().manual_seed(0)
    W_dec = torch.empty(d_sae, d_in).uniform_(-(6 / d_in) ** 0.5, (6 / d_in) ** 0.5, generator=g)
    W_dec = W_dec / W_dec.norm(dim=1, keepdim=True) * 0.1
    W_dec = torch.nn.Parameter(W_dec)
    W_enc = torch.nn.Parameter(W_dec.detach().T.clone().contiguous())
    b_enc = torch.nn.Parameter(torch.zeros(d_sae))
    b_dec = torch.nn.Parameter(torch.zeros(d_in))
    params = [W_dec, W_enc, b_enc, b_dec]
    opt = torch.optim.Adam(params, lr=3e-4)

    def step(x):
        sae_in = x - b_dec
        h = sae_in @ W_enc + b_enc
        norms = W_dec.norm(dim=1)
        if arch == "standard":
            f = F.relu(h)
            x_hat = f @ W_dec + b_dec
            loss = (x_hat - x).pow(2).sum(-1).mean() + l1 * (f * norms).sum(-1).mean()
        else:
            h = h * norms
            vals, idx = torch.topk(h, k, dim=-1, sorted=False)
            vals = F.relu(vals) / norms[idx]
            x_hat = F.embedding_bag(idx, W_dec, per_sample_weights=vals, mode="sum") + b_dec
            loss = (x_hat - x).pow(2).sum(-1).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
    return step


def saelens_step_fn(arch, d_in, d_sae, k, l1):
    from sae_lens.saes import StandardTrainingSAE, StandardTrainingSAEConfig, TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.saes.sae import TrainStepInput
    if arch == "standard":
        sae = StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=l1))
        coefs = {"l1": l1}
    else:
        sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d_in, d_sae=d_sae, k=k))
        coefs = {}
    opt = torch.optim.Adam(sae.parameters(), lr=3e-4)
    dead = torch.zeros(d_sae, dtype=torch.bool)

    def step(x):
        out = sae.training_forward_pass(TrainStepInput(sae_in=x, dead_neuron_mask=dead, coefficients=coefs,
                                                       n_training_steps=0, is_logging_step=False))
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
    return step


def time_it(step, x, repeats):
    step(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--architecture", default="topk", choices=["topk", "standard"])
    ap.add_argument("--d-in", type=int, default=768)
    ap.add_argument("--d-sae", type=int, default=6144)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--l1", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-saelens", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    x = torch.randn(a.batch, a.d_in, generator=torch.Generator().manual_seed(1))
    out = {"torch": torch.__version__, "threads": a.threads, "architecture": a.architecture, "d_sae": a.d_sae, "batch": a.batch}
    t = time_it(plain_step_fn(a.architecture, a.d_in, a.d_sae, a.k, a.l1), x, a.repeats)
    out["plain_activations_per_s"] = a.batch / t
    if not a.no_saelens:
        try:
            t = time_it(saelens_step_fn(a.architecture, a.d_in, a.d_sae, a.k, a.l1), x, a.repeats)
            out["saelens_activations_per_s"] = a.batch / t
        except ImportError as e:
            out["saelens_error"] = str(e)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
