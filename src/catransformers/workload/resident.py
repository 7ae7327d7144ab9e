"""What must stay resident in DRAM for a model to run: its parameters plus, for causal LMs, the KV cache."""

from __future__ import annotations

import numpy as np

from catransformers.models.params import param_count
from catransformers.models.spec import ModelSpec
from catransformers.workload.ops import Workload, WorkloadOptions


def resident_words(spec: ModelSpec, options: WorkloadOptions) -> float:
    """Words held in DRAM: every parameter, plus K and V of every layer for all tokens of a causal LM's batch."""
    words = float(param_count(spec))
    for enc in spec.encoders:
        if enc.causal:
            tokens = (options.prefill_tokens or enc.seq_len) + options.decode_tokens
            words += 2.0 * enc.layers * enc.kv_dim * tokens * options.batch
    return words


def resident_bytes(spec: ModelSpec, options: WorkloadOptions, precision_bits: np.ndarray | float) -> np.ndarray:
    """Resident DRAM bytes at each operand precision in `precision_bits` (bits per word)."""
    return resident_words(spec, options) * np.asarray(precision_bits, dtype=float) / 8.0


def peak_activation_bytes(work: Workload, precision_bits: np.ndarray | float) -> np.ndarray:
    """Bytes of the largest GEMM's input and output activations (what must sit beside on-chip weights)."""
    acts = (work.m * work.k + work.m * work.n)[work.is_gemm]
    words = float(acts.max()) if acts.size else 0.0
    return words * np.asarray(precision_bits, dtype=float) / 8.0
