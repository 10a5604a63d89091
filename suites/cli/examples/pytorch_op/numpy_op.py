#!/usr/bin/env python3
"""A stand-in for an MoE GEMM custom op, checked by moecheck through files.

    numpy_op.py DUMP_DIR OUT.npy

reads a dump written by `moecheck dump` (a gemm1 or gemm2 case), computes the stage's output the
way an implementation of the contract would, and saves it as OUT.npy in the case's dtype (bf16
as uint16 bit patterns, fp16 as float16). `moecheck verify --dir DUMP_DIR --stage gemm1
--output OUT.npy` then judges it.

It is written from DESIGN.md sections 2 to 4 alone, not from moecheck's C++: it unpacks the
packed weights itself, walks the alignment (sorted_token_ids, expert_ids,
num_tokens_post_padded) block by block as a kernel does, computes in float64 and rounds once to
the output dtype. Rows the contract leaves unwritten (routes of experts not computed) keep the
poison pattern 0xffff, as a kernel given a poisoned output would leave them.

To check a real PyTorch op instead, replace `run_op` (see the README section "An implementation
that lives elsewhere").
"""
import json
import sys
from pathlib import Path

import numpy as np

# Nibble p of a K-packed int32 word holds k = 8j + ORDER[p] (exllama_nk, shuffled gptq_kn).
ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
POISON = 0xFFFF


def bits_to_float(bits, dtype):
    """uint16 bit patterns of bf16 or fp16 -> float64."""
    bits = np.asarray(bits, dtype=np.uint16)
    if dtype == "bf16":
        return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return bits.view(np.float16).astype(np.float64)


def float_to_bits(x, dtype):
    """float64 -> uint16 bit patterns, round to nearest even (via float32 for bf16)."""
    x = np.asarray(x, dtype=np.float64)
    if dtype == "fp16":
        return x.astype(np.float16).view(np.uint16)
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    rounded[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)  # stays a NaN
    return rounded


def nibbles(words, count):
    """The `count` 4-bit fields of each unsigned word, nibble p on a new last axis."""
    shifts = 4 * np.arange(count, dtype=np.uint64)
    return ((words.astype(np.uint64)[..., None] >> shifts) & 0xF).astype(np.int64)


def dequantize(d, prefix, case):
    """w[e, n, k] = (q - z) * s in float64, from the case's packed format (DESIGN.md section 2)."""
    fmt, dt, group = case["format"], case["dtype"], case["group"]
    q_words = np.load(d / f"{prefix}_qweight.npy")
    scale_bits = np.load(d / f"{prefix}_scales.npy").view(np.uint16)
    zeros_file = d / f"{prefix}_zeros.npy"
    z_words = np.load(zeros_file) if zeros_file.exists() else None
    if fmt == "exllama_nk":
        e, n, _ = q_words.shape
        k = scale_bits.shape[2] * group
        nib = nibbles(q_words[:, :, : k // 8].view(np.uint32), 8)  # [E, N, K/8, 8]
        q = np.empty_like(nib)
        q[..., ORDER] = nib  # nibble p holds offset ORDER[p]
        q = q.reshape(e, n, k)
        s = bits_to_float(scale_bits, dt)  # [E, N, K/G]
        if z_words is None:
            z = np.full(s.shape, 8, dtype=np.int64)
        else:  # [E, N/8, K/G]: n at nibble n % 8 of word n / 8
            z = nibbles(z_words.view(np.uint32), 8).transpose(0, 1, 3, 2).reshape(e, n, -1)
    elif fmt == "gptq_kn":
        e, k8, n = q_words.shape
        k = 8 * k8
        nib = nibbles(q_words.view(np.uint32), 8).transpose(0, 1, 3, 2)  # [E, K/8, 8, N]
        q = np.empty_like(nib)
        if case["shuffled"]:
            q[:, :, ORDER, :] = nib
        else:
            q = nib
        q = q.reshape(e, k, n).transpose(0, 2, 1)
        s = bits_to_float(scale_bits, dt).transpose(0, 2, 1)  # [E, K/G, N] -> [E, N, K/G]
        z = nibbles(z_words.view(np.uint32), 8).reshape(e, k // group, n)  # n = 8c + p
        if case["zero_format"] == "v1":
            z = (z + 1) & 0xF  # GPTQ v1 stores z - 1
        z = z.transpose(0, 2, 1)
    elif fmt == "triton_nk_u8":
        e, n, k2 = q_words.shape
        k = 2 * k2
        b = q_words.astype(np.int64)
        q = np.stack([b & 0xF, b >> 4], axis=-1).reshape(e, n, k)  # k = 2j low, 2j + 1 high
        s = bits_to_float(scale_bits, dt)
        if z_words is None:
            z = np.full(s.shape, 8, dtype=np.int64)
        else:  # [E, N/2, K/G]: n at nibble n % 2 of byte n / 2
            zb = z_words.astype(np.int64)
            z = np.stack([zb & 0xF, zb >> 4], axis=-1).transpose(0, 1, 3, 2).reshape(e, n, -1)
    else:
        raise SystemExit(f"unknown format {fmt}")
    # Unreached experts carry NaN scales (the dump's poison): never read below.
    with np.errstate(invalid="ignore"):
        return (q - np.repeat(z, group, axis=2)) * np.repeat(s, group, axis=2)


def run_op(d, case):
    """The op: one routed GEMM (gemm1 or gemm2) of the dump, as uint16 bit patterns."""
    stage, dt, top_k = case["stage"], case["dtype"], case["top_k"]
    prefix = "w1" if stage == "gemm1" else "w2"
    w = dequantize(d, prefix, case)
    k = w.shape[2]
    a = bits_to_float(np.load(d / "activations.npy").view(np.uint16), dt)[:, :k]
    topk_weights = np.load(d / "topk_weights.npy").astype(np.float64).reshape(-1)
    sorted_ids = np.load(d / "sorted_token_ids.npy")
    expert_ids = np.load(d / "expert_ids.npy")
    used = int(np.load(d / "num_tokens_post_padded.npy")[0])
    numel = topk_weights.size
    block_m = case["block_m"]
    div = top_k if stage == "gemm1" else 1
    if stage == "gemm1" and case["apply_router_weight_on_input"]:
        # A'[i] = A[i / top_k] * w[i], rounded to the dtype: the weight moves to gemm1's input.
        a = bits_to_float(float_to_bits(a[np.arange(numel) // top_k] * topk_weights[:, None], dt), dt)
        div = 1
    out = np.full((numel, w.shape[1]), np.nan)
    for b in range(used // block_m):
        e = expert_ids[b]
        if e < 0:
            continue  # a block of an expert not computed here
        ids = sorted_ids[b * block_m : (b + 1) * block_m]
        ids = ids[ids < numel]  # padding slots hold the sentinel numel
        rows = a[ids // div] @ w[e].T
        if case["mul_routed_weight"]:
            rows *= topk_weights[ids, None]
        out[ids] = rows
    if case["output_topk"]:  # the fused reduction: out[t] = sum_j C[t * top_k + j]
        out = np.nansum(out.reshape(-1, top_k, out.shape[1]), axis=1)
    bits = float_to_bits(out, dt)
    bits[np.isnan(out)] = POISON  # never written
    return bits


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    d, out_file = Path(sys.argv[1]), Path(sys.argv[2])
    case = json.loads((d / "case.json").read_text())["case"]
    if case["stage"] not in ("gemm1", "gemm2"):
        raise SystemExit(f"this example computes gemm1 and gemm2, not {case['stage']}")
    bits = run_op(d, case)
    # bf16 has no NumPy dtype: its bit patterns go as uint16; fp16 as float16.
    np.save(out_file, bits if case["dtype"] == "bf16" else bits.view(np.float16))


if __name__ == "__main__":
    main()
