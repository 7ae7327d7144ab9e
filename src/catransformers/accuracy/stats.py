"""Seeded bootstrap confidence intervals of task scores (percentile method, Efron & Tibshirani 1993, ch. 13).

Two resampling units: independent items (`bootstrap_items`: word pairs, test images, sentences) and documents of
an all-pairs similarity set (`bootstrap_pairs_by_doc`): pairs that share a document are dependent, so a resample
draws *documents* with replacement and scores every pair of two distinct drawn documents. Resampling pairs there
would treat 1,225 dependent pairs as independent and make the interval too narrow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 1000  # Efron & Tibshirani 1993, sec. 13.3: ~1000 resamples for percentile intervals
CI_LEVEL = 0.95
_BOOT_SEED = 20260  # fixed so a score's interval is reproducible (it is cached with the score)


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval over `n_items` evaluation units."""

    score: float
    low: float
    high: float
    n_items: int


def pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r per row of two (B, N) arrays (NaN where a row is constant)."""
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(axis=1) / den


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(pearson_rows(np.asarray(a, float)[None], np.asarray(b, float)[None])[0])


def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng([_BOOT_SEED, seed])


def interval(point: float, boot: np.ndarray, n_items: int, level: float = CI_LEVEL) -> Interval:
    """The percentile interval of resampled scores `boot` around `point`."""
    low, high = _percentiles(np.asarray(boot, float), level)
    return Interval(float(point), low, high, int(n_items))


def bootstrap_items(values: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], *, seed: int = 0,
                    resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, np.ndarray]:
    """Point estimate and `resamples` bootstrap scores of `statistic` over independent items.

    `values` is (N, ...) per item; `statistic` maps a (B, N, ...) stack of resamples to B scores (and the full
    set, as a (1, N, ...) stack, to the point estimate).
    """
    values = np.asarray(values)
    n = len(values)
    point = float(statistic(values[None])[0])
    idx = _rng(seed).integers(0, n, size=(resamples, n))
    return point, np.asarray(statistic(values[idx]), float)


def pearson_items(x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> tuple[float, np.ndarray]:
    """Pearson r of paired values and its bootstrap scores, resampling the pairs (independent items)."""
    both = np.stack([np.asarray(x, float), np.asarray(y, float)], axis=1)
    return bootstrap_items(both, lambda s: pearson_rows(s[..., 0], s[..., 1]), seed=seed)


def mean_items(values: np.ndarray, *, seed: int = 0) -> Interval:
    """Mean of per-item values (e.g. 0/1 hits -> accuracy) and its interval, resampling the items."""
    values = np.asarray(values, float)
    point, boot = bootstrap_items(values, lambda s: s.mean(axis=1), seed=seed)
    return interval(point, boot, len(values))


def bootstrap_pairs_by_doc(model_sim: np.ndarray, human_sim: np.ndarray, *, seed: int = 0,
                           resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, np.ndarray]:
    """Pearson r over all document pairs i < j of two symmetric (D, D) matrices and its bootstrap scores.

    Resamples the D documents (the independent unit), then scores every pair of two distinct drawn documents.
    """
    model_sim, human_sim = np.asarray(model_sim, float), np.asarray(human_sim, float)
    d = len(model_sim)
    iu = np.triu_indices(d, k=1)
    point = pearson(model_sim[iu], human_sim[iu])
    docs = _rng(seed).integers(0, d, size=(resamples, d))
    a, b = docs[:, iu[0]], docs[:, iu[1]]  # every pair of drawn positions, (B, D(D-1)/2)
    distinct = a != b  # a document drawn twice is not paired with itself
    x, y = model_sim[a, b], human_sim[a, b]
    m = distinct.astype(float)
    cnt = m.sum(axis=1, keepdims=True)
    mx, my = (x * m).sum(1, keepdims=True) / cnt, (y * m).sum(1, keepdims=True) / cnt
    dx, dy = (x - mx) * m, (y - my) * m
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (dx * dy).sum(1) / np.sqrt((dx * dx).sum(1) * (dy * dy).sum(1))
    return point, boot


def combine_mean(parts: list[tuple[float, np.ndarray, int]], level: float = CI_LEVEL) -> Interval:
    """Mean of several sets' scores; the interval from the mean of their (independent) resampled scores.

    `parts`: (point score, B resampled scores, items) per set, resampled independently with the same B.
    """
    point = float(np.mean([p for p, _, _ in parts]))
    boot = np.mean(np.stack([b for _, b, _ in parts]), axis=0)
    return interval(point, boot, sum(n for _, _, n in parts), level)
