#!/usr/bin/env python3
"""Generate steering and logit-effect references for IsaerftAnalysis with TransformerLens.

Run from the repository root in the reference venv (versions in scripts/requirements-fixtures.txt):

    /work/venv/ref/bin/python scripts/make_analysis_fixtures.py

Rewrites ``fixtures/analysis/``. Inputs are committed fixtures only: the GPT-2 model
``fixtures/gpt2/tiny_a`` (loaded into a ``HookedTransformer`` exactly as ``scripts/make_fixtures.py``
does: hand-built ``HookedTransformerConfig`` + TransformerLens' ``convert_gpt2_weights``) and the SAE
``fixtures/sae/standard`` (``W_enc``, ``b_enc``, ``W_dec``, ``b_dec`` read with safetensors; it reads
``blocks.0.hook_resid_post`` of an unprocessed model, ``apply_b_dec_to_input`` false).

``reference.safetensors`` holds (V = 1000 vocabulary, T = 16 tokens, P = 10 "prompt" positions):

* ``forward.<case>`` ``[T, V]``: logits of ``run_with_hooks`` on ``manifest.tokens`` with the hook
  of the case (the TransformerLens steering recipe; the SAE tutorial hooks are written the same way):
  - ``clean``: no hook;
  - ``add_all_resid_post0``: ``x + COEFF·W_dec[LATENT]`` at every position of ``blocks.0.hook_resid_post``;
  - ``add_prompt_resid_post0``: the same at positions ``[:P]`` only;
  - ``add_all_resid_pre1`` / ``add_all_resid_mid1``: the same direction at ``blocks.1.hook_resid_pre`` /
    ``blocks.1.hook_resid_mid`` (hook overridden; the SAE's own hook is resid_post 0);
  - ``clamp_all``: SAELens ``use_error_term`` clamp written out: ``f = ReLU((x − b_dec·apply)·W_enc + b_enc)``,
    ``x + (CLAMP − f_i)·W_dec[i]`` at every position;
  - ``clamp_conditional``: the same only where ``f_i > 0``;
  - ``ablate_all``: clamp to 0.
* ``generate.<policy>.ids`` (as float32) ``[P0 + S]`` and ``generate.<policy>.logits`` ``[S, V]``:
  greedy generation of S tokens after the ``P0``-token prompt ``manifest.generate_prompt`` with
  ``COEFF·W_dec[LATENT]`` added at ``blocks.0.hook_resid_post`` on absolute positions
  ``< P0`` (prompt), ``≥ P0`` (generated) or all, computed by a full recompute of the whole sequence
  every step (no KV cache), last-position logits per step.
* ``logit_effects.processed`` ``[L, V]``: ``W_dec[LATENTS] @ W_U`` with TransformerLens'
  ``from_pretrained`` processing (``ln_final.w`` folded into ``W_U``, ``W_U`` centred over the
  vocabulary): what SAEDashboard / Neuronpedia show for a TL model.
* ``logit_effects.raw`` ``[L, V]``: ``W_dec[LATENTS] @ wteᵀ`` (no norm, no centring).
* ``logit_effects.hook_z`` ``[Lz, V]``: for the ``fixtures/sae/hook_z`` SAE (``blocks.0.attn.hook_z``),
  ``W_dec[LATENTS_Z] @ W_O[0].reshape(n_heads·d_head, d_model) @ W_U`` of the processed model (the
  direct path of an attention SAE's decoder direction).

Tensor values are deterministic from run to run; the order of the header's ``__metadata__`` keys
is not (safetensors writes them from a hash map), so the file's SHA-256 in the manifest can change.

Labels (hand-written, in the formats the importers read):

* ``explanations/batch-0.jsonl.gz`` (gzip, mtime 0) and ``explanations/batch-1.jsonl``: lines shaped like
  Neuronpedia's bulk explanation exports (``v1/{modelId}/{sourceId}/explanations/batch-N.jsonl.gz``),
  with ``index`` as a string and as a number, extra fields, a second explanation for one latent, a
  line of another source, and a blank line;
* ``labels.csv``: ``index,label`` with a header, quoted fields, an escaped quote, a comma and a
  newline inside quotes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from importlib.metadata import version
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import GPT2LMHeadModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from make_fixtures import build_tl  # noqa: E402  (the same HookedTransformer construction)

OUT = ROOT / "fixtures" / "analysis"
MODEL_DIR = ROOT / "fixtures" / "gpt2" / "tiny_a"
SAE_DIR = ROOT / "fixtures" / "sae" / "standard"

LATENT = 7
COEFF = 6.0
CLAMP = 4.0
T, P = 16, 10
P0, STEPS = 6, 8
LATENTS = [0, 7, 42, 127]
LATENTS_Z = [0, 3, 95]
SEED = 4242
MIN_GAP = 0.05


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


EXPLANATIONS = [
    {"id": "cl0", "modelId": "isaerft-tiny-a", "layer": "0-res-test", "index": "7",
     "description": " numbers & <tags>", "typeName": "oai_token-act-pair", "explanationModelName": "gpt-4o-mini",
     "embedding": None, "scoreV1": 0.5, "authorId": "x"},
    {"id": "cl1", "modelId": "isaerft-tiny-a", "layer": "0-res-test", "index": 42,
     "description": "the word \"café\"", "typeName": "np_acts-logits-general", "explanationModelName": "gemini-2.5-flash-lite"},
    {"id": "cl2", "modelId": "isaerft-tiny-a", "layer": "1-res-test", "index": "7",
     "description": "another source", "typeName": "oai_token-act-pair", "explanationModelName": "gpt-4o-mini"},
]
EXPLANATIONS_1 = [
    {"id": "cl3", "modelId": "isaerft-tiny-a", "layer": "0-res-test", "index": "0",
     "description": "start of text", "typeName": "oai_token-act-pair", "explanationModelName": "gpt-4o-mini"},
    {"id": "cl4", "modelId": "isaerft-tiny-a", "layer": "0-res-test", "index": "7",
     "description": "second explanation of 7", "typeName": "manual", "explanationModelName": None},
]
LABELS_CSV = 'index,label\n0,plain label\n7,"quoted, with comma"\n42,"a ""quote"" inside"\n127,"two\nlines"\n'


def write_labels() -> None:
    folder = OUT / "explanations"
    folder.mkdir(parents=True, exist_ok=True)
    lines = "\n".join(json.dumps(e) for e in EXPLANATIONS[:2]) + "\n\n" + json.dumps(EXPLANATIONS[2]) + "\n"
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as g:
        g.write(lines.encode())
    (folder / "batch-0.jsonl.gz").write_bytes(buf.getvalue())
    (folder / "batch-1.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EXPLANATIONS_1))
    (OUT / "labels.csv").write_text(LABELS_CSV)


def main() -> None:
    torch.manual_seed(SEED)
    hf = GPT2LMHeadModel.from_pretrained(MODEL_DIR, attn_implementation="eager", dtype=torch.float32).eval()
    tl = build_tl(hf, processed=False)
    tl_processed = build_tl(hf, processed=True)
    sae = load_file(str(SAE_DIR / "sae_weights.safetensors"))
    cfg = json.loads((SAE_DIR / "cfg.json").read_text())
    assert cfg["architecture"] == "standard" and cfg["normalize_activations"] == "none"
    apply_b_dec = cfg["apply_b_dec_to_input"]
    W_enc, b_enc, W_dec, b_dec = sae["W_enc"], sae["b_enc"], sae["W_dec"], sae["b_dec"]
    d = W_dec[LATENT]
    V = hf.config.vocab_size

    gen = torch.Generator().manual_seed(SEED)
    tokens = torch.randint(1, V - 1, (1, T), generator=gen)
    ref: dict[str, torch.Tensor] = {}

    def add_hook(positions):
        def hook(x, hook):
            x = x.clone()
            x[:, positions] += COEFF * d
            return x
        return hook

    def clamp_hook(value, conditional):
        def hook(x, hook):
            sae_in = x - b_dec if apply_b_dec else x
            f = torch.relu(sae_in @ W_enc + b_enc)[..., LATENT]
            delta = (value - f)
            if conditional:
                delta = torch.where(f > 0, delta, torch.zeros_like(delta))
            return x + delta[..., None] * d
        return hook

    cases = {
        "clean": [],
        "add_all_resid_post0": [("blocks.0.hook_resid_post", add_hook(slice(None)))],
        "add_prompt_resid_post0": [("blocks.0.hook_resid_post", add_hook(slice(0, P)))],
        "add_all_resid_pre1": [("blocks.1.hook_resid_pre", add_hook(slice(None)))],
        "add_all_resid_mid1": [("blocks.1.hook_resid_mid", add_hook(slice(None)))],
        "clamp_all": [("blocks.0.hook_resid_post", clamp_hook(CLAMP, False))],
        "clamp_conditional": [("blocks.0.hook_resid_post", clamp_hook(CLAMP, True))],
        "ablate_all": [("blocks.0.hook_resid_post", clamp_hook(0.0, False))],
    }
    active = {}
    with torch.no_grad():
        x0 = tl.run_with_cache(tokens, names_filter="blocks.0.hook_resid_post")[1]["blocks.0.hook_resid_post"]
        f0 = torch.relu((x0 - b_dec if apply_b_dec else x0) @ W_enc + b_enc)[0, :, LATENT]
        active = {"latent_active_positions": int((f0 > 0).sum()), "latent_max": float(f0.max())}
        for name, hooks in cases.items():
            ref[f"forward.{name}"] = tl.run_with_hooks(tokens, fwd_hooks=hooks)[0].contiguous()
        # HF and TL agree on the clean logits (sanity check of the TL construction).
        assert torch.allclose(hf(tokens).logits[0], ref["forward.clean"], atol=1e-4)

        # Greedy generation: prompts are drawn until every step's top-two logit gap is ≥ MIN_GAP
        # under every policy, so fp32 summation-order differences cannot change a token.
        for attempt in range(100):
            prompt = torch.randint(1, V - 1, (1, P0), generator=gen)
            gaps, generated = {}, {}
            for policy in ["prompt", "generated", "all"]:
                ids = prompt.clone()
                step_logits = []
                for _ in range(STEPS):
                    n = ids.shape[1]
                    pos = {"prompt": slice(0, P0), "generated": slice(P0, n), "all": slice(None)}[policy]
                    logits = tl.run_with_hooks(ids, fwd_hooks=[("blocks.0.hook_resid_post", add_hook(pos))])[0, -1]
                    top2 = torch.topk(logits, 2).values
                    gaps[policy] = min(gaps.get(policy, 1e9), float(top2[0] - top2[1]))
                    step_logits.append(logits)
                    ids = torch.cat([ids, logits.argmax().view(1, 1)], dim=1)
                generated[policy] = (ids[0].to(torch.float32), torch.stack(step_logits).contiguous())
            if min(gaps.values()) >= MIN_GAP:
                break
        else:
            raise SystemExit("no prompt with a safe top-two gap")
        for policy, (ids, logits) in generated.items():
            ref[f"generate.{policy}.ids"] = ids
            ref[f"generate.{policy}.logits"] = logits

        ref["logit_effects.processed"] = (W_dec[LATENTS] @ tl_processed.W_U).contiguous()
        ref["logit_effects.raw"] = (W_dec[LATENTS] @ hf.transformer.wte.weight.T).contiguous()
        W_dec_z = load_file(str(SAE_DIR.parent / "hook_z" / "sae_weights.safetensors"))["W_dec"]
        W_O = tl_processed.W_O[0].reshape(-1, tl_processed.cfg.d_model)
        ref["logit_effects.hook_z"] = (W_dec_z[LATENTS_Z] @ W_O @ tl_processed.W_U).contiguous()

    OUT.mkdir(parents=True, exist_ok=True)
    write_labels()
    vers = {p: version(p) for p in ["torch", "transformers", "transformer-lens", "safetensors"]}
    path = OUT / "reference.safetensors"
    save_file(ref, str(path), metadata={k: str(v) for k, v in vers.items()})
    manifest = {
        "generator": "scripts/make_analysis_fixtures.py",
        "versions": vers,
        "model": "fixtures/gpt2/tiny_a",
        "sae": "fixtures/sae/standard",
        "hook": "blocks.0.hook_resid_post",
        "latent": LATENT,
        "coefficient": COEFF,
        "clamp_value": CLAMP,
        "prompt_positions": P,
        "tokens": tokens[0].tolist(),
        "generate_prompt": prompt[0].tolist(),
        "generate_steps": STEPS,
        "generate_min_top2_gap": gaps,
        "logit_effect_latents": LATENTS,
        "logit_effect_latents_hook_z": LATENTS_Z,
        **active,
        "sha256": {"reference.safetensors": sha256(path)},
    }
    path.chmod(0o644)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({k: manifest[k] for k in ["generate_min_top2_gap", "latent_active_positions", "latent_max"]}))


if __name__ == "__main__":
    main()
