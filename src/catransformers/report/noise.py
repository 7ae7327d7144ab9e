"""Which Pareto designs are within noise of each other: overlapping 95 % accuracy intervals.

Two designs whose accuracy intervals (`accuracy_ci_low` .. `accuracy_ci_high`, bootstrap intervals from the
accuracy stage) overlap are not distinguishable by their score on the evaluation set, so their order on the
front is not evidence. Designs of the same pruned model share one score and are not compared.
"""

from __future__ import annotations

import pandas as pd


def overlapping_pairs(front: pd.DataFrame) -> list[tuple[int, int]]:
    """(trial, trial) pairs of front designs of different pruned models whose accuracy intervals overlap."""
    if front.empty or not {"trial", "accuracy_ci_low", "accuracy_ci_high"} <= set(front.columns):
        return []
    df = front.assign(_lo=pd.to_numeric(front["accuracy_ci_low"], errors="coerce"),
                      _hi=pd.to_numeric(front["accuracy_ci_high"], errors="coerce")).dropna(subset=["_lo", "_hi"])
    key = df["prune"].astype(str) if "prune" in df.columns else df["trial"].astype(str)
    df = df.assign(_key=key).drop_duplicates("_key").sort_values("trial")
    rows = list(df[["trial", "_lo", "_hi"]].itertuples(index=False))
    pairs = []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            if a[1] <= b[2] and b[1] <= a[2]:
                pairs.append((int(a[0]), int(b[0])))
    return pairs


def noise_note(front: pd.DataFrame, limit: int = 6) -> str | None:
    """One sentence naming front designs within noise of each other, or None if there are none (or no intervals)."""
    pairs = overlapping_pairs(front)
    if not pairs:
        return None
    shown = ", ".join(f"#{a} ~ #{b}" for a, b in pairs[:limit])
    more = f" and {len(pairs) - limit} more" if len(pairs) > limit else ""
    return (f"{len(pairs)} pair(s) of Pareto designs are within noise of each other (overlapping 95 % accuracy "
            f"intervals): {shown}{more}")
