#!/usr/bin/env python3
"""Writes the small safetensors fixtures read by Tests/IsaerftFilesTests.

Run with the reference venv (torch 2.13 CPU, safetensors 0.8.0, huggingface_hub 2.4.0):

    /work/venv/ref/bin/python scripts/make_safetensors_fixtures.py

Everything goes to fixtures/safetensors/ (a few KB in all) with a manifest.json giving each
file's SHA-256 and the library versions that wrote it. The values are deterministic formulas
that the Swift tests recompute, or companion tensors converted by torch itself (for F16/BF16),
so the tests never hard-code numbers copied from our own implementation.
"""
import hashlib
import json
import math
import os
import shutil
import sys

import huggingface_hub
import numpy as np
import safetensors
import torch
from huggingface_hub import save_torch_state_dict
from safetensors.torch import save_file

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "safetensors"))


def ramp(n, scale=0.25, offset=-1.0):
    """float32 values i * scale + offset, i = 0..n-1 (exactly representable)."""
    return torch.arange(n, dtype=torch.float32) * scale + offset


def special_halves():
    """float16 bit patterns covering every class: ±0, subnormals, normals, max, ±inf, NaNs."""
    bits = [
        0x0000, 0x8000,  # +0, -0
        0x0001, 0x8001, 0x0002, 0x0155, 0x03FF, 0x83FF,  # subnormals (smallest, largest)
        0x0400, 0x8400,  # smallest normal
        0x3C00, 0xBC00, 0x3555, 0x4248, 0x7BFF, 0xFBFF,  # 1, -1, ~1/3, ~pi, ±65504
        0x7C00, 0xFC00,  # ±inf
        0x7E00, 0xFE00, 0x7C01, 0x7FFF,  # NaNs (quiet, signalling, payloads)
    ]
    return torch.tensor(bits, dtype=torch.int32).to(torch.int16).view(torch.float16)


def special_bfloats():
    """bfloat16 bit patterns covering every class."""
    bits = [
        0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x0080, 0x3F80, 0xBF80, 0x3EAB, 0x4049,
        0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7F81,
    ]
    return torch.tensor(bits, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)


def rounding_sources():
    """float32 values that exercise round-to-nearest-even into f16/bf16 (ties, carries, overflow,
    underflow to subnormal and to zero)."""
    vals = [
        0.0, -0.0, 1.0, 1.0 + 2**-11, 1.0 + 3 * 2**-11, 1.0 + 2**-8, 1.0 + 3 * 2**-8, 65504.0,
        65519.0, 65520.0, 1e6, -1e6, 2**-24, 2**-25, 2**-25 * 1.5, 2**-26, 3 * 2**-25, 2**-14,
        2**-14 - 2**-25, 1 / 3, -math.pi, math.e, 1e-8, -1e-30, 3.4e38, float("inf"),
        float("-inf"), 0.1, 123.456, -7.875e-5, 2**-133, 2**-149,
    ]
    return torch.tensor(vals, dtype=torch.float32)


def write_manifest():
    entries = {}
    for dirpath, _, names in os.walk(ROOT):
        for name in sorted(names):
            if name == "manifest.json":
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                entries[os.path.relpath(path, ROOT)] = hashlib.sha256(f.read()).hexdigest()
    manifest = {
        "generator": "scripts/make_safetensors_fixtures.py",
        "versions": {
            "python": sys.version.split()[0], "torch": torch.__version__,
            "safetensors": safetensors.__version__, "numpy": np.__version__,
            "huggingface_hub": huggingface_hub.__version__,
        },
        "sha256": dict(sorted(entries.items())),
    }
    with open(os.path.join(ROOT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    os.makedirs(ROOT)
    p = lambda name: os.path.join(ROOT, name)

    # F32: weight[r, c] = (r*4 + c) * 0.25 - 1; bias[i] = i * 0.5 + 2; a scalar and an empty tensor.
    save_file({
        "weight": ramp(12).reshape(3, 4),
        "bias": ramp(4, 0.5, 2.0),
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "empty": torch.zeros(0, 5, dtype=torch.float32),
    }, p("f32.safetensors"), metadata={"format": "pt"})

    # F16: special bit patterns with torch's own float32 conversion beside them, and
    # float32 sources beside torch's round-to-nearest-even float16 of them.
    halves = special_halves()
    src = rounding_sources()
    save_file({
        "specials": halves, "specials_as_f32": halves.float(),
        "rounding_source": src, "rounding_f16": src.half(),
        "ramp": ramp(6).half().reshape(2, 3),
    }, p("f16.safetensors"))

    bfloats = special_bfloats()
    save_file({
        "specials": bfloats, "specials_as_f32": bfloats.float(),
        "rounding_source": src, "rounding_bf16": src.bfloat16(),
        "ramp": ramp(6).bfloat16().reshape(3, 2),
    }, p("bf16.safetensors"))

    # Integers and the remaining dtypes.
    save_file({
        "ids": torch.tensor([[0, 1, -1], [2**62, -(2**62), 2**63 - 1]], dtype=torch.int64),
        "positions": torch.arange(5, dtype=torch.int32) - 2,
        "small": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "bytes": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "shorts": torch.tensor([-32768, 7, 32767], dtype=torch.int16),
        "mask": torch.tensor([True, False, True]),
        "doubles": torch.tensor([0.1, -2.5, 1e300], dtype=torch.float64),
    }, p("i64.safetensors"))

    # Metadata with characters JSON must escape.
    save_file({"x": ramp(2)}, p("metadata.safetensors"), metadata={
        "format": "pt", "note": 'quote " backslash \\ newline \n tab \t', "unicode": "é ü 中 🙂",
        "empty": "",
    })

    # For the byte-for-byte writer comparison: one dtype per group, one metadata key.
    save_file({
        "b.weight": ramp(6).reshape(2, 3), "a.bias": ramp(3, 1.0, 0.0),
        "tokens": torch.tensor([5, -6, 7], dtype=torch.int64),
    }, p("writer_reference.safetensors"), metadata={"format": "pt"})
    save_file({
        "h": ramp(5).half(), "g": ramp(3, 2.0, 1.0).bfloat16(), "f": ramp(2),
    }, p("writer_reference_half.safetensors"))

    # A 2-shard checkpoint written by huggingface_hub's own sharding (index json + 2 files).
    state = {
        "embed.weight": ramp(32).reshape(8, 4), "h.0.weight": ramp(16, 0.5, 0.0).reshape(4, 4),
        "h.1.weight": ramp(16, -0.5, 3.0).reshape(4, 4), "ln_f.bias": ramp(4, 1.0, 10.0),
    }
    os.makedirs(p("sharded"))
    save_torch_state_dict(state, p("sharded"), max_shard_size=200)
    write_manifest()


if __name__ == "__main__":
    main()
