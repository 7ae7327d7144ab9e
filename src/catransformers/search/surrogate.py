"""A cheap, deterministic accuracy surrogate for search-quality benchmarks and tests (`accuracy.task = "surrogate"`).

It is NOT a model of any real task; it stands in for "prune, fine-tune, score" with the properties the search
relies on: accuracy rises with every kept fraction with diminishing returns, knobs differ in sensitivity,
encoders differ in weight, and there is small fixed-seed noise so ties are rare.

    score = base · Π_encoders Π_knobs  kept_fraction ** (sensitivity_knob · weight_encoder)  +  noise

`kept_fraction` is kept/full (layers, heads, FFN blocks, hidden blocks); exponents below 1 make the curve
concave (diminishing returns). Noise is N(0, noise_sd), seeded by a hash of the canonical pruned spec and the
recipe seed, so the same pruned model always gets the same score (like a cached fine-tune).
"""

from __future__ import annotations

import hashlib
import os
import re
import time

import numpy as np

from catransformers.models import ModelSpec, PruneParams, format_prune, full_params

# Per-knob sensitivity (exponent): this project's choice, shaped after the paper's observation that depth and
# hidden width hurt most when pruned and heads least (CATransformers, arXiv 2505.01386, §5); not fitted.
KNOB_SENSITIVITY = {"layers": 0.9, "hidden_blocks": 0.7, "ffn_blocks": 0.35, "heads": 0.25}
# Per-encoder weight: vision towers are the more sensitive in CLIP pruning (this project's choice).
ENCODER_WEIGHT = {"vision": 1.0, "text": 0.6, "main": 1.0}
# Unpruned score per family, the scale of the real metric (this project's choice, roughly the real models'):
# CLIP mean R@1 on MSCOCO ~0.55; MiniLM 0.656, the cosine-vs-human Pearson this project's accuracy stage measures
# for all-MiniLM-L6-v2 on the Lee 50-document similarity set (Lee, Pincombe & Welsh 2005, via gensim 4.4.0);
# classification accuracy ~0.8.
BASE_SCORE = {"clip": 0.55, "bert": 0.656, "mpnet": 0.656, "vit": 0.81, "llama": 0.6}
NOISE_SD = 0.003
Z_95 = 1.959964  # two-sided 95 % quantile of the standard normal distribution
# Test hook: when set, every surrogate evaluation appends its pruned spec to this file (counts "fine-tunes"
# independently of the engine's own bookkeeping).
LOG_ENV = "CATRANSFORMERS_SURROGATE_LOG"


def surrogate_score(spec: ModelSpec, params: PruneParams, seed: int = 0, noise_sd: float = NOISE_SD) -> float:
    """The surrogate accuracy of `spec` pruned to `params` (deterministic)."""
    full = full_params(spec)
    log_score = 0.0
    for enc in spec.encoders:
        kept, whole = params.get(enc.name, full[enc.name]), full[enc.name]
        weight = ENCODER_WEIGHT.get(enc.name, 1.0)
        for knob, sens in KNOB_SENSITIVITY.items():
            log_score += sens * weight * np.log(getattr(kept, knob) / getattr(whole, knob))
    digest = hashlib.sha256(f"{spec.id}|{format_prune(spec, params)}|{seed}".encode()).digest()
    noise = np.random.default_rng(int.from_bytes(digest[:8], "little")).normal(0.0, noise_sd)
    return float(BASE_SCORE.get(spec.family, 0.8) * np.exp(log_score) + noise)


def surrogate_result(spec: ModelSpec, params: PruneParams, seed: int, noise_sd: float, delay_s: float,
                     fail: str = "", log: bool = True) -> dict:
    """An accuracy-result dict (the fields of `AccuracyResult` the search uses) for the surrogate.

    Its 95 % interval is score ± Z_95 · noise_sd (the noise is the surrogate's only uncertainty). `log` False
    (the baseline) leaves the test log alone. `fail` is a fault-injection regex: a pruned spec matching it
    raises FloatingPointError, like a healing run whose loss turned NaN (tests of failed-trial handling).
    """
    t0 = time.perf_counter()
    if delay_s > 0:
        time.sleep(delay_s)  # stands in for fine-tune time (tests of parallelism and kill/resume)
    text = format_prune(spec, params)
    if fail and re.search(fail, text):
        raise FloatingPointError(f"healing loss is NaN (injected by accuracy.surrogate_fail for {text})")
    score = surrogate_score(spec, params, seed, noise_sd)
    if log and (path := os.environ.get(LOG_ENV)):
        with open(path, "a") as fh:
            fh.write(text + "\n")
    return {
        "score": score, "metric": "surrogate", "higher_is_better": True, "steps": 0,
        "wall_s": time.perf_counter() - t0, "cached": False, "score_before_heal": score,
        "prune": text, "score_ci_low": score - Z_95 * noise_sd, "score_ci_high": score + Z_95 * noise_sd,
        "n_items": None,
    }
