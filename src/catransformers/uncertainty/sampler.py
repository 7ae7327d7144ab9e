"""Joint samples of the uncertain figures, and statistics of results over those samples.

``draw`` gives N joint samples by Latin hypercube sampling (each key's unit interval cut into N equal strata,
one draw per stratum, strata shuffled independently per key), mapped through each distribution's inverse
CDF. LHS covers the tails with fewer samples than plain Monte Carlo; its estimates of means and quantiles
are unbiased for independent inputs. Each key has its own random stream derived from (seed, key), so adding
an entry to the table leaves every other key's draws unchanged.

The statistics take ``values`` shaped (samples x designs): ``quantiles`` per design, ``prob_min`` (the
probability each design is the minimum), ``rank_stability`` (how well the nominal ranking survives).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from catransformers.errors import UserError
from catransformers.uncertainty.table import Distribution, DistributionTable, load_table

Z95 = float(ndtri(0.95))  # standard-normal 95th percentile, 1.6449
DEFAULT_QUANTILES = (0.05, 0.5, 0.95)


def _lhs_uniform(n: int, rng: np.random.Generator) -> np.ndarray:
    """n stratified uniforms in (0, 1): one per stratum [i/n, (i+1)/n), in random order."""
    u = (rng.permutation(n) + rng.random(n)) / n
    return np.clip(u, 1e-12, 1 - 1e-12)


def inverse_cdf(dist: Distribution, u: np.ndarray) -> np.ndarray:
    """Map uniforms ``u`` in (0, 1) to draws of ``dist``."""
    if dist.distribution == "uniform":
        return dist.low + u * (dist.high - dist.low)  # type: ignore[operator]
    if dist.distribution == "loguniform":
        lo, hi = np.log(dist.low), np.log(dist.high)  # type: ignore[arg-type]
        return np.exp(lo + u * (hi - lo))
    if dist.distribution == "lognormal":
        mu = 0.5 * (np.log(dist.p05) + np.log(dist.p95))  # type: ignore[arg-type]
        sigma = (np.log(dist.p95) - np.log(dist.p05)) / (2 * Z95)  # type: ignore[arg-type]
        return np.exp(mu + sigma * ndtri(u))
    lo, c, hi = dist.low, dist.mode, dist.high  # triangular
    fc = (c - lo) / (hi - lo)  # type: ignore[operator]
    left = lo + np.sqrt(u * (hi - lo) * (c - lo))  # type: ignore[operator]
    right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - c))  # type: ignore[operator]
    return np.where(u < fc, left, right)


def _stream(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(key.encode())])


def check_n(n: object) -> int:
    """A sample count: a whole number >= 1 (booleans refused), else a one-line UserError."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise UserError(f"the number of uncertainty samples must be a whole number >= 1, got {n!r}")
    return int(n)


def draw_one(dist: Distribution, n: int, seed: int, stream: str) -> np.ndarray:
    """N Latin-hypercube draws of one distribution from its own random stream, named by `stream`."""
    return inverse_cdf(dist, _lhs_uniform(int(n), _stream(seed, stream)))


def draw(n: int, seed: int = 0, table: DistributionTable | str | None = None,
         keys: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """N joint samples (Latin hypercube) of the table's figures: {dotted key: array of N draws}.

    Row i of every array is one joint sample. ``table``: the shipped table (None), a loaded table or a TOML
    path; ``keys``: a subset of the table's keys (default all). Same (n, seed, table) => same samples.
    """
    check_n(n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"the uncertainty seed must be a whole number >= 0, got {seed!r}")
    tab = table if isinstance(table, DistributionTable) else load_table(table)
    names = tab.keys() if keys is None else list(keys)
    unknown = [k for k in names if k not in tab.figure]
    if unknown:
        raise UserError(f"no distribution for '{unknown[0]}'; the table has: {', '.join(tab.keys())}")
    return {k: draw_one(tab.figure[k], n, seed, k) for k in names}


# ------------------------------------------------------------------------------------------------ statistics


def _values(values: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise UserError(f"values must be a (samples x designs) array with at least one of each, got {arr.shape}")
    return arr


def _check_qs(qs: Iterable[float]) -> np.ndarray:
    q = np.asarray(list(qs), dtype=float)
    if q.size == 0 or not np.all((q > 0) & (q < 1)):
        bad = q[~((q > 0) & (q < 1))]
        shown = f"{bad[0]:g}" if bad.size else "none"
        raise UserError(f"quantiles must lie strictly between 0 and 1 (e.g. 0.05, 0.5, 0.95), got {shown}")
    return q


def quantiles(values: np.ndarray, qs: Iterable[float] = DEFAULT_QUANTILES) -> np.ndarray:
    """Quantiles of each design over the samples: shape (len(qs), designs). NaN samples are ignored."""
    arr, q = _values(values), _check_qs(qs)
    return np.nanquantile(arr, q, axis=0) if np.isnan(arr).any() else np.quantile(arr, q, axis=0)


def quantile_columns(name: str, values: np.ndarray, qs: Iterable[float] = DEFAULT_QUANTILES) -> dict[str, np.ndarray]:
    """Quantiles as named columns, e.g. ``total_carbon_kg_p05`` / ``_p50`` / ``_p95`` (one value per design)."""
    q = _check_qs(qs)
    out = quantiles(values, q)
    return {f"{name}_p{_label(x)}": out[i] for i, x in enumerate(q)}


def _label(q: float) -> str:
    pct = q * 100
    return f"{pct:02.0f}" if abs(pct - round(pct)) < 1e-9 else f"{pct:g}".replace(".", "_")


def prob_min(values: np.ndarray) -> np.ndarray:
    """Probability that each design is the minimum, over the samples (ties share; sums to 1).

    NaN counts as not a candidate; samples where every design is NaN are left out.
    """
    arr = _values(values)
    filled = np.where(np.isnan(arr), np.inf, arr)
    best = filled.min(axis=1, keepdims=True)
    valid = np.isfinite(best[:, 0])
    if not valid.any():
        raise UserError("no sample has a finite value for any design")
    winners = (filled == best)[valid]
    share = winners / winners.sum(axis=1, keepdims=True)
    return share.mean(axis=0)


def rank_stability(values: np.ndarray, reference: np.ndarray | None = None) -> float:
    """Mean Spearman rank correlation between each sample's ranking of the designs and the reference ranking.

    ``reference`` (one value per design) defaults to the per-design median over the samples. 1 = every
    sample ranks the designs as the reference does; 0 = no relation. Fewer than two designs give 1.
    """
    arr = _values(values)
    if arr.shape[1] < 2:
        return 1.0
    ref = np.nanmedian(arr, axis=0) if reference is None else np.asarray(reference, dtype=float)
    if ref.shape != (arr.shape[1],):
        raise UserError(f"reference must have one value per design ({arr.shape[1]}), got shape {ref.shape}")
    r_ref = rankdata(ref)
    r = rankdata(np.where(np.isnan(arr), np.inf, arr), axis=1)
    rc = r - r.mean(axis=1, keepdims=True)
    refc = r_ref - r_ref.mean()
    denom = np.sqrt((rc**2).sum(axis=1) * (refc**2).sum())
    rho = np.where(denom > 0, (rc * refc).sum(axis=1) / np.where(denom > 0, denom, 1.0), 1.0)
    return float(rho.mean())
