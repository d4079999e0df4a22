#!/usr/bin/env python3
"""PyTorch baseline for the Swift GPT-2 forward benchmark.

GPT-2-small-sized model (GPT2Config defaults: 124M params, d 768, 12 layers,
12 heads, vocab 50257) with random weights, fp32, eval mode, CPU.

(a) forward of GPT2LMHeadModel with logits, under torch.inference_mode();
(b) forward + backward to blocks.8.hook_resid_post (= output of HF
    ``model.transformer.h[8]``) with every parameter frozen: a forward hook
    replaces that hidden state by a detached clone that requires grad, the loss
    is the mean next-token cross-entropy, and torch.autograd.grad gives
    d loss / d hidden state.

Tokens/s = batch*seq / median wall time of ``--repeats`` timed runs after
``--warmup`` untimed ones. Prints ONE JSON line on stdout; progress goes to
stderr unless ``--json-only`` (then nothing else is printed).

    /work/venv/ref/bin/python scripts/bench_forward_torch.py [--threads 2]
        [--batch 8] [--seq 128] [--repeats 5] [--warmup 1]
        [--attn eager|sdpa] [--hook-layer 8] [--json-only]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--attn", choices=["eager", "sdpa"], default="sdpa")
    ap.add_argument("--hook-layer", type=int, default=8, help="backward target: blocks.L.hook_resid_post")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-only", action="store_true", help="print only the JSON line")
    args = ap.parse_args()

    if args.json_only:
        warnings.filterwarnings("ignore")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TQDM_DISABLE", "1")
        logging.disable(logging.WARNING)

    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel

    if args.json_only:
        transformers.logging.set_verbosity_error()

    def log(msg: str) -> None:
        if not args.json_only:
            print(msg, file=sys.stderr, flush=True)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    config = GPT2Config()  # defaults == GPT-2 small
    model = GPT2LMHeadModel._from_config(config, attn_implementation=args.attn, dtype=torch.float32)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    B, T = args.batch, args.seq
    gen = torch.Generator().manual_seed(args.seed + 1)
    ids = torch.randint(0, config.vocab_size, (B, T), generator=gen, dtype=torch.int64)
    tokens = B * T
    log(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}, "
        f"params {n_params / 1e6:.1f}M, batch {B} x seq {T}, attn {args.attn}"
    )

    def timed(fn) -> list[float]:
        for _ in range(args.warmup):
            fn()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return times

    # (a) forward with logits
    def forward() -> None:
        with torch.inference_mode():
            out = model(ids, use_cache=False).logits
        assert out.shape == (B, T, config.vocab_size)

    t_fwd = timed(forward)
    fwd_tps = tokens / statistics.median(t_fwd)
    log(f"forward: median {statistics.median(t_fwd):.3f}s ({', '.join(f'{t:.3f}' for t in t_fwd)}) -> {fwd_tps:.1f} tok/s")

    # (b) forward + backward to blocks.L.hook_resid_post with frozen weights
    holder: dict = {}

    def hook(mod, inp, out):
        h = out[0] if isinstance(out, tuple) else out
        h = h.detach().clone().requires_grad_()
        holder["h"] = h
        return (h,) + tuple(out[1:]) if isinstance(out, tuple) else h

    handle = model.transformer.h[args.hook_layer].register_forward_hook(hook)

    def forward_backward() -> None:
        with torch.enable_grad():
            logits = model(ids, use_cache=False).logits
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
            (g,) = torch.autograd.grad(loss, [holder["h"]])
        assert g.shape == (B, T, config.n_embd)

    t_fb = timed(forward_backward)
    handle.remove()
    fb_tps = tokens / statistics.median(t_fb)
    log(
        f"forward+backward to blocks.{args.hook_layer}.hook_resid_post: median {statistics.median(t_fb):.3f}s "
        f"({', '.join(f'{t:.3f}' for t in t_fb)}) -> {fb_tps:.1f} tok/s"
    )

    result = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "batch": B,
        "seq": T,
        "attn": args.attn,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "hook": f"blocks.{args.hook_layer}.hook_resid_post",
        "forward_tokens_per_s": round(fwd_tps, 2),
        "forward_backward_to_hook_tokens_per_s": round(fb_tps, 2),
        "forward_median_s": round(statistics.median(t_fwd), 4),
        "forward_backward_median_s": round(statistics.median(t_fb), 4),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
