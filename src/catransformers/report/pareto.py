"""Pareto sets and exact hypervolume for the search's objectives.

Everything is converted to minimisation internally (maximised columns are negated), so one dominance rule
serves every mode. Dominance is strict: `a` dominates `b` when `a` is no worse in every objective and
better in at least one. Hence identical points never dominate each other: by default they are all kept
(`keep_duplicates=True`); with `keep_duplicates=False` only the first occurrence (lowest row index) is kept.
Rows with a NaN or infinite objective are never on the front and never add hypervolume.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from catransformers.errors import UserError

__all__ = [
    "bool_column",
    "feasible_rows",
    "hypervolume",
    "objective_specs",
    "pareto_front",
    "pareto_mask",
]


def _as_min(values: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Return a float (n, d) copy in minimisation form (maximised columns negated)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"values must be 2-D (n, d), got shape {arr.shape}")
    signs = _signs(maximize, arr.shape[1])
    return arr * signs


def _signs(maximize: Sequence[bool], d: int) -> np.ndarray:
    flags = np.asarray(list(maximize), dtype=bool)
    if flags.shape != (d,):
        raise ValueError(f"maximize has {flags.size} flags but values have {d} objectives")
    return np.where(flags, -1.0, 1.0)


def _mask_min(v: np.ndarray, keep_duplicates: bool) -> np.ndarray:
    """Non-dominated mask of finite rows of `v` (minimisation)."""
    n, d = v.shape
    mask = np.zeros(n, dtype=bool)
    finite = np.flatnonzero(np.isfinite(v).all(axis=1))
    if finite.size == 0:
        return mask
    fv = v[finite]
    # Lexicographic order (first column most significant); stable so equal rows keep row order.
    order = np.lexsort(fv.T[::-1])
    sv = fv[order]
    if d == 1:
        keep = sv[:, 0] == sv[0, 0]
    elif d == 2:
        keep = _mask_sorted_2d(sv)
    else:
        keep = _mask_sorted_nd(sv)
    if not keep_duplicates:
        same_as_prev = np.zeros(len(sv), dtype=bool)
        same_as_prev[1:] = (sv[1:] == sv[:-1]).all(axis=1)
        keep &= ~same_as_prev  # equal rows are adjacent and in row order: the first one survives
    mask[finite[order[keep]]] = True
    return mask


def _mask_sorted_2d(sv: np.ndarray) -> np.ndarray:
    """O(n log n) 2-D case on lexicographically sorted rows.

    A row is dominated iff some earlier, non-identical row has a second objective no larger than its own.
    """
    n = len(sv)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (sv[1:] != sv[:-1]).any(axis=1)
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    # exclusive running minimum of the second objective, i.e. over rows strictly before each index
    prev_min = np.empty(n)
    prev_min[0] = np.inf
    prev_min[1:] = np.minimum.accumulate(sv[:-1, 1])
    return sv[:, 1] < prev_min[group_start]


def _mask_sorted_nd(sv: np.ndarray) -> np.ndarray:
    """Cull by successive front points on lexicographically sorted rows.

    The first alive row is non-dominated (nothing lexicographically before it survives and could dominate
    it); it removes every later row it dominates. Cost is O(n · front size) with vectorised inner steps.
    """
    n = len(sv)
    keep = np.zeros(n, dtype=bool)
    alive = np.arange(n)
    while alive.size:
        head = alive[0]
        keep[head] = True
        rest = alive[1:]
        p = sv[head]
        tail = sv[rest]
        dominated = (tail >= p).all(axis=1) & (tail > p).any(axis=1)
        alive = rest[~dominated]
    return keep


def pareto_mask(values: np.ndarray, maximize: Sequence[bool], *, keep_duplicates: bool = True) -> np.ndarray:
    """Boolean mask of the non-dominated rows of `values` (n, d).

    `maximize[j]` says whether objective j is maximised. Identical non-dominated rows are all kept unless
    `keep_duplicates=False` (then the first by row index only). Non-finite rows are never kept.
    """
    return _mask_min(_as_min(values, maximize), keep_duplicates)


def _hv2_min(v: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume (minimisation) of points strictly better than `ref` in both objectives."""
    if len(v) == 0:
        return 0.0
    order = np.lexsort((v[:, 1], v[:, 0]))
    s = v[order]
    y_best = np.minimum.accumulate(s[:, 1])
    # staircase: each x step contributes width × (ref_y − best y so far)
    x_next = np.append(s[1:, 0], ref[0])
    return float(np.sum((x_next - s[:, 0]) * (ref[1] - y_best)))


def _hv_slices(v: np.ndarray, ref: np.ndarray) -> float:
    """Exact hypervolume by slicing along the last objective (any d ≥ 2), recursing down to the 2-D sweep."""
    d = v.shape[1]
    if len(v) == 0:
        return 0.0
    if d == 1:
        return float(ref[0] - v[:, 0].min())
    if d == 2:
        return _hv2_min(v, ref)
    order = np.argsort(v[:, -1], kind="stable")
    s = v[order]
    z = np.append(s[:, -1], ref[-1])
    total = 0.0
    for i in range(len(s)):
        height = z[i + 1] - z[i]
        if height <= 0:
            continue
        prefix = s[: i + 1, :-1]
        if d > 3:  # keep the recursion small: only the (d-1)-D non-dominated prefix matters
            prefix = prefix[_mask_min(prefix, keep_duplicates=False)]
        total += height * _hv_slices(prefix, ref[:-1])
    return total


def _hv_botorch(v: np.ndarray, ref: np.ndarray) -> float | None:
    """Hypervolume via BoTorch (maximisation convention), or None where BoTorch is not importable."""
    try:
        import torch
        from botorch.utils.multi_objective.hypervolume import Hypervolume
    except ImportError:
        return None
    hv = Hypervolume(ref_point=torch.as_tensor(-ref, dtype=torch.double))
    return float(hv.compute(torch.as_tensor(-v, dtype=torch.double)))


def hypervolume(
    points: np.ndarray, ref: Sequence[float], maximize: Sequence[bool], *, method: str = "auto"
) -> float:
    """Exact hypervolume dominated by `points` (n, d) and bounded by the reference point `ref`.

    Points that do not strictly dominate `ref` (in every objective) contribute nothing, as do non-finite
    rows. d = 2: sort-and-sweep, O(n log n); d ≥ 3: slicing along the last objective down to an exact 2-D
    sweep per slice. `method="auto"` uses that numpy slicing up to d = 4 (measured here 17x faster than
    BoTorch on a 265-point 4-D front: 0.24 s vs 4.0 s) and BoTorch's exact `Hypervolume` (lazy import) for
    d ≥ 5 when importable; `method="botorch"` forces BoTorch for d ≥ 2, `method="slicing"` forces numpy.
    """
    if method not in ("auto", "botorch", "slicing"):
        raise ValueError(f"unknown hypervolume method {method!r}: use auto, botorch or slicing")
    v = _as_min(points, maximize)
    d = v.shape[1]
    r = np.asarray(list(ref), dtype=float)
    if r.shape != (d,):
        raise ValueError(f"reference point has {r.size} values but points have {d} objectives")
    r = r * _signs(maximize, d)
    if not np.isfinite(r).all():
        raise ValueError("reference point must be finite")
    v = v[np.isfinite(v).all(axis=1)]
    v = v[(v < r).all(axis=1)]
    if len(v) == 0:
        return 0.0
    v = v[_mask_min(v, keep_duplicates=False)]
    if (method == "botorch" and d >= 2) or (method == "auto" and d >= 5):
        result = _hv_botorch(v, r)
        if result is None and method == "botorch":
            raise UserError("hypervolume method 'botorch' needs botorch: pip install botorch==0.18.1")
        if result is not None:
            return result
    return _hv_slices(v, r)


def objective_specs(objectives: Iterable[Any]) -> list[tuple[str, bool]]:
    """Normalise objectives to `(name, maximize)` pairs.

    Accepts mappings `{"name": ..., "maximize": ...}` (run.json), `(name, maximize)` pairs, or objects with
    `name` and `maximize` attributes (the search's objective specs).
    """
    out: list[tuple[str, bool]] = []
    for obj in objectives:
        if isinstance(obj, Mapping):
            name, maxi = obj["name"], obj.get("maximize", False)
        elif isinstance(obj, tuple | list) and len(obj) == 2:
            name, maxi = obj
        else:
            name, maxi = obj.name, obj.maximize
        out.append((str(name), bool(maxi)))
    if not out:
        raise UserError("no objectives given: a run needs at least one objective (see run.json 'objectives')")
    return out


def bool_column(values: pd.Series) -> pd.Series:
    """A boolean column read back from CSV or parquet: missing -> False, 'True'/'1'/'yes' text -> True."""
    if pd.api.types.is_bool_dtype(values.dtype) and not values.isna().any():
        return values.astype(bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.fillna(0).astype(bool)
    return values.map(lambda v: v is True or str(v).strip().lower() in ("true", "1", "yes")).astype(bool)


def feasible_rows(df: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Completed, feasible rows whose objectives are all finite."""
    keep = pd.Series(True, index=df.index)
    if "status" in df.columns:
        keep &= df["status"].astype(str) == "completed"
    if "feasible" in df.columns:
        keep &= bool_column(df["feasible"])
    for name in names:
        keep &= np.isfinite(pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float))
    return df[keep]


def pareto_front(df: pd.DataFrame, objectives: Iterable[Any], *, keep_duplicates: bool = True) -> pd.DataFrame:
    """The Pareto-optimal rows of a trials table: completed, feasible rows only, non-dominated.

    Sorted by the first objective (best first), then the following ones; the original index is kept.
    """
    specs = objective_specs(objectives)
    names = [n for n, _ in specs]
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise UserError(f"trials table has no column {missing[0]!r}: rebuild it with `catransformers search`")
    ok = feasible_rows(df, names)
    if ok.empty:
        return ok.copy()
    values = ok[names].to_numpy(dtype=float)
    front = ok[pareto_mask(values, [m for _, m in specs], keep_duplicates=keep_duplicates)]
    return front.sort_values(names, ascending=[not m for _, m in specs], kind="stable").copy()
