"""Roofline cost of a workload on bought devices, vectorised over devices x batch sizes (numpy).

Per operator: time = max(FLOPs / (peak x compute eff), bytes / (bandwidth x memory eff)) + kernels x launch overhead.
FLOPs: 2·m·k·n·count per GEMM; vector ops are taken as memory-bound (no FLOP term). Bytes: every GEMM reads A and
B and writes C through DRAM (activations between kernels, weights and the KV cache), except attention: the scores
of QK^T stay on chip and feed softmax and ·V in one fused kernel (FlashAttention-style), so qk_scores moves only Q
and K, attn_v only V and its output, and the scale/softmax vector ops move nothing. Activations, gating, residual
adds and RoPE are fused into the GEMM that produces their input (FUSED_VECTOR_OPS); norms and embeddings read and
write their elements once, as a kernel of their own. Power per operator = idle + (TDP - idle) x activity, where
activity weights the compute and memory units' busy fractions by their share of dynamic power
(COMPUTE_POWER_SHARE), so it never exceeds TDP; launch overhead runs at idle power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from catransformers.devices.efficiency import efficiency_for
from catransformers.devices.schema import DeviceFile
from catransformers.errors import UserError
from catransformers.models.spec import ModelSpec
from catransformers.workload.ops import Workload, WorkloadOptions, build_workload

PRECISIONS = {"int8": 1, "fp16": 2}  # bytes per element of weights, activations and KV cache
_PEAK_FIELD = {"int8": "int8_tops", "fp16": "fp16_tflops"}
# Elementwise ops fused into the producing GEMM's epilogue or the attention kernel (as TensorRT and
# FasterTransformer do): no DRAM traffic, no kernel of their own. Norms, embeddings and the rest are own passes.
FUSED_VECTOR_OPS = ("rope", "residual_attn", "residual_ffn", "ffn_gate_mul", "ffn_act", "pooler_act",
                    "score_scale", "softmax")
# Share of dynamic power drawn by the compute units at full use (the rest: memory system). Assumption, range
# 0.5-0.8, not fitted: it sets how far below TDP a memory-bound operator (LLM decode) runs.
COMPUTE_POWER_SHARE = 0.7


@dataclass(frozen=True)
class DeviceArrays:
    """Per-device columns the cost model broadcasts (one entry per device)."""

    peak_ops: np.ndarray  # ops/s at the chosen precision
    bw_bytes: np.ndarray  # bytes/s
    tdp_w: np.ndarray
    idle_w: np.ndarray
    eff_compute: np.ndarray
    eff_memory: np.ndarray
    launch_s: np.ndarray
    memory_bytes: np.ndarray


def check_precision(precision: str) -> str:
    key = precision.lower()
    if key not in PRECISIONS:
        raise UserError(f"unknown precision '{precision}'; allowed: {', '.join(PRECISIONS)}")
    return key


def supports(dev: DeviceFile, precision: str) -> bool:
    return getattr(dev, _PEAK_FIELD[check_precision(precision)]) is not None


def device_arrays(devices: list[DeviceFile], precision: str) -> DeviceArrays:
    """Columns for `devices` at `precision`; a device without that precision's peak figure is a UserError."""
    precision = check_precision(precision)
    field = _PEAK_FIELD[precision]
    for dev in devices:
        if getattr(dev, field) is None:
            have = [p for p in PRECISIONS if supports(dev, p)]
            raise UserError(f"device '{dev.id}' has no {precision} figure ({field}); use --precision "
                            f"{' or '.join(have)}, or add {field} to its TOML")
    effs = [efficiency_for(d.device_class, d.efficiency) for d in devices]
    f = lambda vals: np.asarray(vals, dtype=float)  # noqa: E731
    return DeviceArrays(
        peak_ops=f([getattr(d, field).value * 1e12 for d in devices]),
        bw_bytes=f([d.memory_bw_gbps.value * 1e9 for d in devices]),
        tdp_w=f([d.tdp_w.value for d in devices]),
        idle_w=f([d.idle_w.value for d in devices]),
        eff_compute=f([e.compute for e in effs]),
        eff_memory=f([e.memory for e in effs]),
        launch_s=f([e.launch_us * 1e-6 for e in effs]),
        memory_bytes=f([d.memory_gb.value * 1024.0**3 for d in devices]),
    )


def _op_terms(work: Workload, spec: ModelSpec, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FLOPs, DRAM elements and kernel launches per operator row of one workload."""
    kv_heads = {e.name: e.kv_heads for e in spec.encoders}
    names = np.char.replace(work.name.astype(str), "decode_", "")
    is_attn = work.component == "attn_score"
    fused = is_attn | np.isin(names, FUSED_VECTOR_OPS)
    qk = names == "qk_scores"
    av = names == "attn_v"
    m, k, n, c = work.m, work.k, work.n, work.count
    flops = np.where(work.is_gemm, 2.0 * m * k * n * c, 0.0)
    gemm_elems = np.where(qk, m * k + k * n, np.where(av, k * n + m * n, m * k + k * n + m * n)) * c
    vec_elems = np.where(fused, 0.0, 2.0 * work.elements * c)
    elems = np.where(work.is_gemm, gemm_elems, vec_elems) + work.extra_dram_words * c
    heads = np.array([kv_heads.get(str(e), 1) for e in work.encoder], dtype=float)
    kernels = np.where(work.is_gemm, np.where(is_attn, c / (batch * heads), c), np.where(fused, 0.0, c))
    return flops, elems, kernels


@dataclass(frozen=True)
class DeviceCost:
    """Cost of one batch, arrays shaped (devices, batches)."""

    latency_s: np.ndarray  # time of one batch
    energy_per_inference_j: np.ndarray
    power_w: np.ndarray  # mean power while busy
    compute_s: np.ndarray  # time of compute-bound operators
    memory_s: np.ndarray  # time of memory-bound operators
    launch_s: np.ndarray
    flops: np.ndarray  # per batch (batches,)
    dram_bytes: np.ndarray  # per batch (batches,)


def device_cost(spec: ModelSpec, options: WorkloadOptions, batches: list[int], arrays: DeviceArrays,
                precision: str) -> DeviceCost:
    """Latency, energy and roofline split of `spec` for every device x batch size."""
    bpe = PRECISIONS[check_precision(precision)]
    terms = []
    for b in batches:
        if b <= 0:
            raise UserError(f"batch {b}: must be a positive integer")
        work = build_workload(spec, options.model_copy(update={"batch": int(b)}))
        terms.append(_op_terms(work, spec, int(b)))
    rows = max(len(t[0]) for t in terms)
    pad = lambda a: np.pad(a, (0, rows - len(a)))  # noqa: E731
    flops = np.stack([pad(t[0]) for t in terms])  # (B, ops)
    byts = np.stack([pad(t[1]) for t in terms]) * bpe
    kern = np.stack([pad(t[2]) for t in terms])
    peak = (arrays.peak_ops * arrays.eff_compute)[:, None, None]  # (D, 1, 1)
    bw = (arrays.bw_bytes * arrays.eff_memory)[:, None, None]
    t_c = flops[None] / peak  # (D, B, ops)
    t_m = byts[None] / bw
    busy = np.maximum(t_c, t_m)
    launch = kern[None] * arrays.launch_s[:, None, None]
    idle, tdp = arrays.idle_w[:, None, None], arrays.tdp_w[:, None, None]
    energy = ((idle + (tdp - idle) * _activity(t_c, t_m)) * busy + idle * launch).sum(axis=2)
    latency = (busy + launch).sum(axis=2)
    compute_s = np.where(t_c >= t_m, busy, 0.0).sum(axis=2)
    memory_s = np.where(t_c < t_m, busy, 0.0).sum(axis=2)
    b_arr = np.asarray(batches, dtype=float)[None, :]
    return DeviceCost(
        latency_s=latency, energy_per_inference_j=energy / b_arr, power_w=energy / latency,
        compute_s=compute_s, memory_s=memory_s, launch_s=launch.sum(axis=2),
        flops=flops.sum(axis=1), dram_bytes=byts.sum(axis=1),
    )


def _activity(t_c: np.ndarray, t_m: np.ndarray) -> np.ndarray:
    """Utilisation-weighted activity in [0, 1]: each unit's busy fraction weighted by its share of dynamic power."""
    busy = np.maximum(t_c, t_m)
    with np.errstate(invalid="ignore", divide="ignore"):
        act = np.where(busy > 0, (COMPUTE_POWER_SHARE * t_c + (1 - COMPUTE_POWER_SHARE) * t_m) / busy, 0.0)
    return np.clip(act, 0.0, 1.0)
