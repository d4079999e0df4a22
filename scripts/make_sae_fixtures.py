#!/usr/bin/env python3
"""Generate SAE fixtures with SAELens itself, and the SAE registry table for Swift.

Run from the repository root, in a venv of its own (sae-lens pins transformer-lens and others;
do not install it into the shared reference venv):

    python3 -m venv /work/venv/sae
    /work/venv/sae/bin/pip install torch==2.13.0+cpu sae-lens==6.54.12
    /work/venv/sae/bin/python scripts/make_sae_fixtures.py            # fixtures/sae/ and the registry
    /work/venv/sae/bin/python scripts/make_sae_fixtures.py --registry # only the registry table

Rewrites ``fixtures/sae/`` completely. Every SAE is built from SAELens' own classes with seeded
random weights (d_in 64, the width of ``fixtures/gpt2/tiny_a``) and written by SAELens itself:
``save_model`` / ``save_inference_model`` for its folder format, a hand-written flat ``cfg.json``
for the pre-6 layout, and the ``gemma_2`` / ``gemma_3`` / ``llama_scope`` converters (with
``hf_hub_download`` pointed at local files, and the release's ``config_overrides`` as
``from_pretrained`` passes them) for Gemma Scope ``params.npz``, Gemma Scope 2
``params.safetensors`` and Llama Scope folders. Each fixture folder also holds

* ``reference.safetensors``: ``x`` (inputs), ``encode`` = ``sae.encode(x)``, ``decode`` =
  ``sae.decode(encode)`` (right after the encode, so run-time normalisation statistics are those of
  ``x``), ``forward`` = ``sae(x)``, ``hidden_pre`` = ``hook_sae_acts_pre`` from ``run_with_cache``;
* ``saelens_cfg.json``: ``sae.cfg.to_dict()`` of the SAE as SAELens loaded it (what it would save);
* ``gradient.safetensors``: ``g`` (a seeded random upstream gradient in ``x``'s shape, its own
  generator per fixture so the other files do not change) and ``x_grad`` = torch autograd's
  ``x.grad`` of ``(sae(x) * g).sum()`` (``use_error_term`` False: the Jacobian of the reconstruction).

``--roundtrip`` (also run at the end of a full run) loads every folder under
``fixtures/sae-roundtrip/`` (written by isaerft's ``SparseAutoencoder.save(folder:)``, see
``Tests/IsaerftSAETests/SAERoundTripTests.swift``) with ``SAE.load_from_disk``, encodes the source
fixture's rows and writes the worst differences against SAELens' own encodings of the source
fixture to ``fixtures/sae-roundtrip/check.json``.

Inputs are drawn until every kept row is at least ``MARGIN`` away from a discontinuity of the
encoder (JumpReLU threshold, gate sign, top-k boundary), so fp32 summation-order differences
cannot flip a feature on or off.

The registry table (``Sources/IsaerftSAE/Registry/SAERegistryData.swift``) is generated from the
installed SAELens' ``pretrained_saes.yaml``.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import zlib
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
import yaml
from safetensors.torch import load_file, save_file

import sae_lens
from sae_lens import SAE
from sae_lens.loading import pretrained_sae_loaders as loaders
from sae_lens.loading.pretrained_sae_loaders import handle_config_defaulting
from sae_lens.loading.pretrained_saes_directory import get_config_overrides, get_norm_scaling_factor
from sae_lens.saes import (
    AbsTopKSAE, AbsTopKSAEConfig, BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig, GatedSAE,
    GatedSAEConfig, JumpReLUSAE, JumpReLUSAEConfig, MatryoshkaBatchTopKTrainingSAE,
    MatryoshkaBatchTopKTrainingSAEConfig, StandardSAE, StandardSAEConfig, TopKSAE, TopKSAEConfig,
)
from sae_lens.saes.sae import SAEMetadata

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "sae"
REGISTRY_OUT = ROOT / "Sources" / "IsaerftSAE" / "Registry" / "SAERegistryData.swift"
D_IN = 64
ROWS = 16
MARGIN = 1e-3
MODEL = "isaerft/tiny_a"


def metadata(hook: str = "blocks.0.hook_resid_post", **extra) -> SAEMetadata:
    return SAEMetadata(model_name=MODEL, hook_name=hook, hook_head_index=None, context_size=16,
                       prepend_bos=True, dataset_path="isaerft/random", model_from_pretrained_kwargs={}, **extra)


def fill(sae, gen: torch.Generator, arch: str) -> None:
    """Sane scales: pre-activations ~ N(-0.2, 1), thresholds inside the active range."""
    d_in, d_sae = sae.cfg.d_in, sae.cfg.d_sae
    with torch.no_grad():
        sae.W_enc.copy_(torch.randn(d_in, d_sae, generator=gen) / math.sqrt(d_in))
        sae.W_dec.copy_(torch.randn(d_sae, d_in, generator=gen) * 0.15)
        sae.b_dec.copy_(torch.randn(d_in, generator=gen) * 0.1)
        if arch == "gated":
            sae.b_gate.copy_(torch.randn(d_sae, generator=gen) * 0.3 - 0.2)
            sae.r_mag.copy_(torch.randn(d_sae, generator=gen) * 0.2)
            sae.b_mag.copy_(torch.randn(d_sae, generator=gen) * 0.2)
        else:
            sae.b_enc.copy_(torch.randn(d_sae, generator=gen) * 0.2 - 0.2)
        if arch == "jumprelu":
            sae.threshold.copy_(torch.rand(d_sae, generator=gen) * 0.6 + 0.1)


def margin(sae, x: torch.Tensor) -> torch.Tensor:
    """Per row: distance (float64) of the nearest pre-activation to a point where the encoder jumps."""
    s = sae.to(torch.float64)
    try:
        x = x.to(torch.float64)
        if sae.cfg.reshape_activations == "hook_z":
            x = x.flatten(-2)
        norm = sae.cfg.normalize_activations
        if norm == "constant_norm_rescale":
            x = x * (sae.cfg.d_in ** 0.5) / x.norm(dim=-1, keepdim=True)
        elif norm == "layer_norm":
            x = x - x.mean(-1, keepdim=True)
            x = x / (x.std(-1, keepdim=True) + 1e-5)
        sae_in = x - s.b_dec * sae.cfg.apply_b_dec_to_input
        arch = sae.cfg.architecture()
        inf = torch.full(x.shape[:-1], float("inf"), dtype=torch.float64)
        if arch == "standard":
            return inf
        if arch == "gated":
            return (sae_in @ s.W_enc + s.b_gate).abs().min(-1).values
        h = sae_in @ s.W_enc + s.b_enc
        if arch == "jumprelu":
            return (h - s.threshold).abs().min(-1).values
        if getattr(sae.cfg, "rescale_acts_by_decoder_norm", False):
            h = h * s.W_dec.norm(dim=-1)
        if arch == "abstopk":
            h = h.abs()
        top = h.sort(-1, descending=True).values
        return top[..., sae.cfg.k - 1] - top[..., sae.cfg.k]
    finally:
        sae.to(torch.float32)


def inputs(sae, gen: torch.Generator, shape_tail=(D_IN,), scale: float = 1.0) -> torch.Tensor:
    kept = []
    while sum(r.shape[0] for r in kept) < ROWS:
        x = torch.randn(64, *shape_tail, generator=gen) * scale
        kept.append(x[margin(sae, x) > MARGIN])
    return torch.cat(kept)[:ROWS].contiguous()


def write_reference(folder: Path, sae, x: torch.Tensor) -> dict:
    sae.eval()
    with torch.no_grad():
        f = sae.encode(x)
        dec = sae.decode(f)
        fwd = sae(x)
        _, cache = sae.run_with_cache(x)
        pre = cache["hook_sae_acts_pre"]
    tensors = {"x": x, "encode": f, "decode": dec, "forward": fwd, "hidden_pre": pre}
    save_file({k: v.contiguous().float() for k, v in tensors.items()}, folder / "reference.safetensors",
              metadata={"sae_lens": sae_lens.__version__, "torch": torch.__version__})
    (folder / "saelens_cfg.json").write_text(json.dumps(sae.cfg.to_dict()))
    write_gradient(folder, sae, x)
    return {"active_fraction": float((f > 0).float().mean()), "rows": int(x.shape[0])}


def write_gradient(folder: Path, sae, x: torch.Tensor) -> None:
    """x.grad of (sae(x)·g).sum() by autograd, g ~ N(0, 1) from a generator seeded by the fixture name."""
    gen = torch.Generator().manual_seed(zlib.crc32(folder.name.encode()))
    g = torch.randn(x.shape, generator=gen)
    xg = x.clone().requires_grad_(True)
    assert not sae.use_error_term
    (sae(xg) * g).sum().backward()
    save_file({"g": g.contiguous(), "x_grad": xg.grad.contiguous().float()}, folder / "gradient.safetensors",
              metadata={"sae_lens": sae_lens.__version__, "torch": torch.__version__,
                        "what": "x_grad = d/dx sum(sae(x) * g), use_error_term False"})


def reload(folder: Path):
    return SAE.load_from_disk(folder)


# MARK: - SAELens folders


def folder_fixtures(gen: torch.Generator) -> dict:
    notes = {}

    def make(name, cls, cfg, arch, tail=(D_IN,), scale=1.0, after=None, sparsity=False):
        sae = cls(cfg)
        fill(sae, gen, arch)
        folder = OUT / name
        sae.save_model(folder)
        if sparsity:
            sparse = torch.log10(torch.rand(cfg.d_sae, generator=gen) * 0.1 + 1e-10)
            save_file({"sparsity": sparse}, folder / "sparsity.safetensors")
        if after:
            after(folder, sae)
        loaded = reload(folder)
        if after:
            loaded = after(folder, loaded, True) or loaded
        x = inputs(loaded, gen, tail, scale)
        notes[name] = {"architecture": loaded.cfg.architecture(), **write_reference(folder, loaded, x)}

    make("standard", StandardSAE, StandardSAEConfig(d_in=D_IN, d_sae=128, apply_b_dec_to_input=False,
                                                    metadata=metadata()), "standard", sparsity=True)
    make("standard_bdec", StandardSAE, StandardSAEConfig(d_in=D_IN, d_sae=96, apply_b_dec_to_input=True,
                                                         metadata=metadata("blocks.1.hook_resid_pre")), "standard")
    make("gated", GatedSAE, GatedSAEConfig(d_in=D_IN, d_sae=96, metadata=metadata("blocks.1.hook_mlp_out")), "gated")
    make("topk", TopKSAE, TopKSAEConfig(d_in=D_IN, d_sae=128, k=8, apply_b_dec_to_input=False, metadata=metadata()), "topk")
    make("topk_rescale", TopKSAE, TopKSAEConfig(d_in=D_IN, d_sae=96, k=10, rescale_acts_by_decoder_norm=True,
                                                metadata=metadata()), "topk")
    make("abstopk", AbsTopKSAE, AbsTopKSAEConfig(d_in=D_IN, d_sae=96, k=8, metadata=metadata()), "abstopk")
    make("jumprelu", JumpReLUSAE, JumpReLUSAEConfig(d_in=D_IN, d_sae=160, apply_b_dec_to_input=False,
                                                    metadata=metadata("blocks.1.hook_resid_post")), "jumprelu")
    make("layer_norm", StandardSAE, StandardSAEConfig(d_in=D_IN, d_sae=96, normalize_activations="layer_norm",
                                                      metadata=metadata()), "standard", scale=3.0)
    make("constant_norm", JumpReLUSAE, JumpReLUSAEConfig(d_in=D_IN, d_sae=96, normalize_activations="constant_norm_rescale",
                                                         metadata=metadata()), "jumprelu", scale=5.0)
    make("hook_z", StandardSAE, StandardSAEConfig(d_in=D_IN, d_sae=96, reshape_activations="hook_z",
                                                  metadata=metadata("blocks.0.attn.hook_z")), "standard", tail=(4, 16))

    # expected_average_only_in: the folder keeps the unfolded weights and an activation_scaler.json;
    # the reference is the SAE after fold_activation_norm_scaling_factor (what from_pretrained does
    # with a registry norm_scaling_factor, and what training does before its final save).
    scale = 0.37

    def with_scaler(folder, sae, loaded=False):
        if not loaded:
            (folder / "activation_scaler.json").write_text(json.dumps({"scaling_factor": scale}))
            return None
        sae.fold_activation_norm_scaling_factor(scale)
        return sae

    make("expected_average", StandardSAE, StandardSAEConfig(d_in=D_IN, d_sae=96, normalize_activations="expected_average_only_in",
                                                            metadata=metadata()), "standard", scale=1 / scale, after=with_scaler)
    notes["expected_average"]["scaling_factor"] = scale

    # BatchTopK and Matryoshka-BatchTopK: trained classes, saved by save_inference_model as jumprelu.
    for name, cls, cfg in [
        ("batchtopk", BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig(d_in=D_IN, d_sae=128, k=12, metadata=metadata())),
        ("matryoshka", MatryoshkaBatchTopKTrainingSAE, MatryoshkaBatchTopKTrainingSAEConfig(
            d_in=D_IN, d_sae=128, k=12, matryoshka_widths=[16, 48, 128], metadata=metadata())),
    ]:
        sae = cls(cfg)
        fill(sae, gen, "topk")
        sae.topk_threshold = torch.tensor(0.45, dtype=torch.double)
        folder = OUT / name
        sae.save_inference_model(folder)
        loaded = reload(folder)
        x = inputs(loaded, gen)
        notes[name] = {"architecture": loaded.cfg.architecture(), "topk_threshold": 0.45,
                       **write_reference(folder, loaded, x)}
    return notes


# MARK: - Pre-6 flat cfg.json


def legacy_fixtures(gen: torch.Generator) -> dict:
    notes = {}
    for name, extra, d_sae in [
        ("legacy", {"activation_fn_str": "relu"}, 96),
        ("legacy_topk", {"activation_fn_str": "topk", "activation_fn_kwargs": {"k": 6}}, 96),
    ]:
        cfg = {
            "model_name": MODEL, "hook_point": "blocks.1.hook_resid_pre", "hook_point_layer": 1,
            "hook_point_head_index": None, "d_in": D_IN, "d_sae": d_sae, "dtype": "torch.float32", "device": "cpu",
            "apply_b_dec_to_input": True, "normalize_activations": False, "context_size": 128, "prepend_bos": True,
            "dataset_path": "Skylion007/openwebtext", "finetuning_scaling_factor": False,
            "sae_lens_training_version": "2.1.3", "l1_coefficient": 8e-05, "lr": 0.0004, "expansion_factor": 1.5,
            "model_from_pretrained_kwargs": {"center_writing_weights": True}, **extra,
        }
        w = {"W_enc": torch.randn(D_IN, d_sae, generator=gen) / 8, "W_dec": torch.randn(d_sae, D_IN, generator=gen) * 0.15,
             "b_enc": torch.randn(d_sae, generator=gen) * 0.2 - 0.2, "b_dec": torch.randn(D_IN, generator=gen) * 0.1,
             "scaling_factor": torch.ones(d_sae)}
        folder = OUT / name
        folder.mkdir(parents=True)
        (folder / "cfg.json").write_text(json.dumps(cfg))
        save_file(w, folder / "sae_weights.safetensors")
        loaded = reload(folder)
        x = inputs(loaded, gen)
        notes[name] = {"architecture": loaded.cfg.architecture(), **write_reference(folder, loaded, x)}
    return notes


# MARK: - Converters (hf_hub_download pointed at local files)


def local_hub(root: Path):
    def download(repo_id=None, filename=None, subfolder=None, **_kw):
        path = root / subfolder / filename if subfolder else root / filename
        if not path.exists():
            raise loaders.EntryNotFoundError(f"{path} (fixture) does not exist")
        return str(path)
    return download


def converted(cfg_dict: dict, state_dict: dict):
    cfg_dict = handle_config_defaulting(cfg_dict)
    sae = SAE.from_dict(cfg_dict)
    sae.process_state_dict_for_loading(state_dict)
    sae.load_state_dict(state_dict, strict=True)
    return sae


def converter_fixtures(gen: torch.Generator) -> dict:
    notes = {}
    d_sae = 96
    # Gemma Scope: params.npz (np.savez, stored). Repository and folder as on the hub; d_in / d_sae
    # overridden (the gemma_2 converter takes them from a table and from width_16k).
    repo, folder_name = "google/gemma-scope-2b-pt-res", "layer_1/width_16k/average_l0_10"   # a real registry id
    folder = OUT / "gemma_scope"
    target = folder / folder_name
    target.mkdir(parents=True)
    params = {"W_enc": (np.random.default_rng(5).standard_normal((D_IN, d_sae)) / 8).astype(np.float32),
              "W_dec": (np.random.default_rng(6).standard_normal((d_sae, D_IN)) * 0.15).astype(np.float32),
              "b_enc": (np.random.default_rng(7).standard_normal(d_sae) * 0.2 - 0.2).astype(np.float32),
              "b_dec": (np.random.default_rng(8).standard_normal(D_IN) * 0.1).astype(np.float32),
              "threshold": (np.random.default_rng(9).random(d_sae) * 0.6 + 0.1).astype(np.float32)}
    np.savez(target / "params.npz", **params)
    loaders.hf_hub_download = local_hub(folder)
    overrides = {**get_config_overrides("gemma-scope-2b-pt-res", folder_name), "device": "cpu", "dtype": "float32"}
    cfg, state, _ = loaders.gemma_2_sae_huggingface_loader(repo, folder_name, "cpu", False,
                                                           {**overrides, "d_in": D_IN, "d_sae": d_sae})
    sae = converted(cfg, state)
    notes["gemma_scope"] = {"repo_id": repo, "folder": folder_name, "file": f"{folder_name}/params.npz",
                            "release": "gemma-scope-2b-pt-res", "sae_id": folder_name,
                            "npz": "np.savez (zip, STORED members)",
                            **write_reference(folder, sae, inputs(sae, gen))}

    # Gemma Scope 2: params.safetensors with lowercase keys and a config.json beside it.
    # Folder of gemma-scope-2-270m-pt-res-all / layer_1_width_16k_l0_small.
    repo, folder_name = "google/gemma-scope-2-270m-pt", "resid_post_all/layer_1_width_16k_l0_small"
    folder = OUT / "gemma_scope_2"
    target = folder / folder_name
    target.mkdir(parents=True)
    save_file({"w_enc": torch.randn(D_IN, d_sae, generator=gen) / 8, "w_dec": torch.randn(d_sae, D_IN, generator=gen) * 0.15,
               "b_enc": torch.randn(d_sae, generator=gen) * 0.2 - 0.2, "b_dec": torch.randn(D_IN, generator=gen) * 0.1,
               "threshold": torch.rand(d_sae, generator=gen) * 0.6 + 0.1}, target / "params.safetensors")
    (target / "config.json").write_text(json.dumps({"architecture": "jump_relu", "model_name": "gemma-v3-270m-pt",
                                                    "hf_hook_point_in": "model.layers.1.output"}))
    loaders.hf_hub_download = local_hub(folder)
    loaders.get_safetensors_tensor_shapes = lambda _repo, _f: {"w_enc": [D_IN, d_sae], "w_dec": [d_sae, D_IN]}
    overrides = {**get_config_overrides("gemma-scope-2-270m-pt-res-all", "layer_1_width_16k_l0_small"), "device": "cpu", "dtype": "float32"}
    cfg, state, _ = loaders.gemma_3_sae_huggingface_loader(repo, folder_name, "cpu", False, overrides)
    sae = converted(cfg, state)
    notes["gemma_scope_2"] = {"repo_id": repo, "folder": folder_name, "release": "gemma-scope-2-270m-pt-res-all",
                              "sae_id": "layer_1_width_16k_l0_small", **write_reference(folder, sae, inputs(sae, gen))}

    # Llama Scope: hyperparams.json + checkpoints/final.safetensors; from_pretrained then folds the
    # registry's norm_scaling_factor (llama_scope_lxr_8x / l1r_8x), which equals √d_in /
    # dataset_average_activation_norm.in — so the fixture's average norm is chosen to match it.
    repo, folder_name = "fnlp/Llama3_1-8B-Base-LXR-8x", "Llama3_1-8B-Base-L1R-8x"
    norm_scaling_factor = get_norm_scaling_factor("llama_scope_lxr_8x", "l1r_8x")
    folder = OUT / "llama_scope"
    target = folder / folder_name
    (target / "checkpoints").mkdir(parents=True)
    avg_norm = D_IN ** 0.5 / norm_scaling_factor
    (target / "hyperparams.json").write_text(json.dumps({
        "d_model": D_IN, "d_sae": d_sae, "hook_point_in": "blocks.1.hook_resid_post",
        "hook_point_out": "blocks.1.hook_resid_post", "jump_relu_threshold": 0.04,
        "dataset_average_activation_norm": {"in": avg_norm, "out": avg_norm}}))
    save_file({"encoder.weight": torch.randn(d_sae, D_IN, generator=gen) / 8,
               "decoder.weight": torch.randn(D_IN, d_sae, generator=gen) * 0.15,
               "encoder.bias": torch.randn(d_sae, generator=gen) * 0.05,
               "decoder.bias": torch.randn(D_IN, generator=gen) * 0.1}, target / "checkpoints" / "final.safetensors")
    loaders.hf_hub_download = local_hub(folder)
    overrides = {**get_config_overrides("llama_scope_lxr_8x", "l1r_8x"), "device": "cpu", "dtype": "float32"}
    cfg, state, _ = loaders.llama_scope_sae_huggingface_loader(repo, folder_name, "cpu", False, overrides)
    sae = converted(cfg, state)
    sae.fold_activation_norm_scaling_factor(norm_scaling_factor)
    notes["llama_scope"] = {"repo_id": repo, "folder": folder_name, "release": "llama_scope_lxr_8x", "sae_id": "l1r_8x",
                            "norm_scaling_factor": norm_scaling_factor,
                            **write_reference(folder, sae, inputs(sae, gen, scale=avg_norm / D_IN ** 0.5))}
    return notes


# MARK: - Registry table


REGISTRY_RELEASES = [
    "gpt2-small-res-jb", "gpt2-small-res-jb-feature-splitting", "gemma-scope-2b-pt-res",
    "gemma-scope-2b-pt-res-canonical",
    *[f"gemma-scope-2-270m-{v}-{k}{a}" for v in ("pt", "it") for k in ("res", "mlp", "att") for a in ("", "-all")],
    *[f"llama_scope_lx{k}_{x}" for k in ("r", "a", "m") for x in ("8x", "32x")],
]


def write_registry() -> None:
    path = Path(sae_lens.__file__).parent / "pretrained_saes.yaml"
    data = yaml.safe_load(path.read_text())
    lines = []
    for release in REGISTRY_RELEASES:
        r = data[release]
        kwargs = (r.get("config_overrides") or {}).get("model_from_pretrained_kwargs") or {}
        flags = ",".join(k for k, v in sorted(kwargs.items()) if v is True) or "-"
        lines.append("\t".join(["@", release, r["repo_id"], r["model"], r.get("conversion_func") or "sae_lens", flags]))
        for s in r["saes"]:
            path_value = "=" if s["path"] == s["id"] else s["path"]
            def num(key):
                v = s.get(key)
                return "-" if v is None else repr(float(v))
            lines.append("\t".join([s["id"], path_value, num("l0"), num("norm_scaling_factor"), s.get("neuronpedia") or "-"]))
    body = "\n".join(lines)
    assert '"""' not in body and "\\" not in body
    REGISTRY_OUT.write_text(
        "// Generated by scripts/make_sae_fixtures.py from SAELens "
        f"{sae_lens.__version__} sae_lens/pretrained_saes.yaml. Do not edit.\n"
        "//\n"
        "// One release per '@' line: @ <release> <repo_id> <model> <conversion_func> <model_from_pretrained_kwargs set true | ->\n"
        "// then one SAE per line: <id> <path ('=' when equal to id)> <l0 | -> <norm_scaling_factor | -> <neuronpedia | ->\n"
        "// Fields are tab-separated.\n\n"
        "extension SAERegistry {\n"
        f"    static let yamlVersion = \"{sae_lens.__version__}\"\n\n"
        "    static let table = \"\"\"\n" + body + "\n\"\"\"\n}\n")
    print(f"wrote {REGISTRY_OUT.relative_to(ROOT)} ({len(lines)} lines)")


# MARK: - Folders written by isaerft, loaded by SAELens (issue #4)

ROUNDTRIP = ROOT / "fixtures" / "sae-roundtrip"


def check_roundtrip() -> None:
    """Loads each isaerft-written folder with SAE.load_from_disk, encodes the source fixture's rows,
    and records the worst |Δ| against SAELens' own encodings of the source fixture."""
    if not ROUNDTRIP.exists():
        print(f"{ROUNDTRIP.relative_to(ROOT)} does not exist: run the Swift round-trip test first")
        return
    results = {}
    for folder in sorted(p for p in ROUNDTRIP.iterdir() if p.is_dir()):
        source = OUT / folder.name
        entry = {"source": f"fixtures/sae/{folder.name}"}
        try:
            sae = SAE.load_from_disk(folder)
            sae.eval()
            ref = load_file(source / "reference.safetensors")
            with torch.no_grad():
                f = sae.encode(ref["x"])
                dec = sae.decode(f)
            enc_err = float((f - ref["encode"]).abs().max())
            dec_err = float((dec - ref["decode"]).abs().max())
            scale = float(ref["encode"].abs().max())
            entry.update({"loaded": True, "architecture": sae.cfg.architecture(),
                          "max_abs_encode_error": enc_err, "max_abs_decode_error": dec_err,
                          "max_abs_encode": scale,
                          "matched": bool(enc_err <= 1e-5 * max(1.0, scale) and dec_err <= 1e-5 * max(1.0, float(ref["decode"].abs().max())))})
        except Exception as e:  # recorded, so the Swift test names the failure
            entry.update({"loaded": False, "error": f"{type(e).__name__}: {e}", "matched": False})
        results[folder.name] = entry
    check = {"generator": "scripts/make_sae_fixtures.py --roundtrip", "sae_lens": sae_lens.__version__,
             "torch": torch.__version__, "tolerance": "1e-5 x max(1, max |reference|)", "folders": results}
    (ROUNDTRIP / "check.json").write_text(json.dumps(check, indent=2) + "\n")
    print(f"checked {len(results)} round-trip folders: " + ", ".join(f"{k} {'ok' if v['matched'] else 'FAILED'}" for k, v in results.items()))


def main() -> None:
    if "--roundtrip" in sys.argv:
        check_roundtrip()
        return
    write_registry()
    if "--registry" in sys.argv:
        return
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20251121)
    notes = {}
    notes.update(folder_fixtures(gen))
    notes.update(legacy_fixtures(gen))
    notes.update(converter_fixtures(gen))
    versions = {p: version(p) for p in ("sae-lens", "torch", "numpy", "safetensors", "transformer-lens")}
    versions["python"] = sys.version.split()[0]
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    manifest = {"generator": "scripts/make_sae_fixtures.py", "versions": versions, "d_in": D_IN, "rows": ROWS,
                "margin": MARGIN, "model_name": MODEL, "total_bytes": total + 2048, "fixtures": notes}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {len(notes)} fixtures, {total} bytes")
    assert total < 2_000_000, "fixtures exceed 2 MB"
    check_roundtrip()


if __name__ == "__main__":
    main()
