"""Pareto masks, fronts and exact hypervolume against hand-computed cases and brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from catransformers.errors import UserError
from catransformers.report.pareto import hypervolume, objective_specs, pareto_front, pareto_mask


def _brute_mask(values: np.ndarray, maximize: list[bool]) -> np.ndarray:
    v = values * np.where(maximize, -1.0, 1.0)
    out = np.zeros(len(v), dtype=bool)
    for i, p in enumerate(v):
        if not np.isfinite(p).all():
            continue
        others = v[np.isfinite(v).all(axis=1)]
        out[i] = not ((others <= p).all(axis=1) & (others < p).any(axis=1)).any()
    return out


def test_mask_2d_mixed_directions_by_hand() -> None:
    # (accuracy ↑, carbon ↓): (0.6, 0.3) dominates (0.5, 0.4); (0.7, 0.5) and (0.4, 0.1) trade off
    pts = np.array([[0.6, 0.3], [0.5, 0.4], [0.7, 0.5], [0.4, 0.1], [0.4, 0.2]])
    assert pareto_mask(pts, [True, False]).tolist() == [True, False, True, True, False]
    # flipped directions (accuracy ↓, carbon ↑): (0.5, 0.4) dominates (0.6, 0.3); (0.4, 0.2) dominates (0.4, 0.1)
    assert pareto_mask(pts, [False, True]).tolist() == [False, True, True, False, True]


def test_mask_3d_by_hand() -> None:
    # (acc ↑, latency ↓, carbon ↓)
    pts = np.array([
        [0.6, 10.0, 0.3],  # front
        [0.6, 10.0, 0.4],  # dominated by row 0 (worse carbon only)
        [0.5, 5.0, 0.5],   # front (best latency)
        [0.7, 20.0, 0.5],  # front (best accuracy)
        [0.5, 20.0, 0.5],  # dominated by rows 2 and 3
        [0.4, 30.0, 0.2],  # front (best carbon)
    ])
    assert pareto_mask(pts, [True, False, False]).tolist() == [True, False, True, True, False, True]


def test_duplicates_all_kept_or_first_only() -> None:
    pts = np.array([[1.0, 2.0], [0.5, 3.0], [1.0, 2.0], [2.0, 2.0], [0.5, 3.0]])
    # minimise both: (1, 2) twice and (0.5, 3) twice are non-dominated; (2, 2) is dominated
    assert pareto_mask(pts, [False, False]).tolist() == [True, True, True, False, True]
    assert pareto_mask(pts, [False, False], keep_duplicates=False).tolist() == [True, True, False, False, False]
    pts3 = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 2.0, 2.0]])
    assert pareto_mask(pts3, [False] * 3).tolist() == [True, True, True]
    assert pareto_mask(pts3, [False] * 3, keep_duplicates=False).tolist() == [True, False, True]


def test_nan_rows_never_on_front_and_1d() -> None:
    pts = np.array([[np.nan, 0.0], [1.0, 1.0], [np.inf, -5.0]])
    assert pareto_mask(pts, [False, False]).tolist() == [False, True, False]
    assert pareto_mask(np.array([[3.0], [5.0], [5.0]]), [True]).tolist() == [False, True, True]
    assert pareto_mask(np.empty((0, 2)), [True, False]).tolist() == []


@pytest.mark.parametrize("d", [2, 3, 4])
def test_mask_matches_brute_force_on_ties(d: int) -> None:
    rng = np.random.default_rng(d)
    for _ in range(30):
        pts = rng.integers(0, 4, size=(35, d)).astype(float)  # many ties and exact duplicates
        maximize = list(rng.random(d) < 0.5)
        np.testing.assert_array_equal(pareto_mask(pts, maximize), _brute_mask(pts, maximize))


def test_hypervolume_2d_by_hand() -> None:
    # minimise both, ref (4, 4): staircase of (1, 3), (2, 2), (3, 1) = 3 + 2 + 1 = 6... by columns:
    # x∈[1,2): 4-3=1, x∈[2,3): 4-2=2, x∈[3,4): 4-1=3 -> 6
    pts = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    assert hypervolume(pts, [4.0, 4.0], [False, False]) == pytest.approx(6.0)
    # adding a dominated point and a duplicate changes nothing
    more = np.vstack([pts, [[3.0, 3.0], [2.0, 2.0]]])
    assert hypervolume(more, [4.0, 4.0], [False, False]) == pytest.approx(6.0)


def test_hypervolume_mixed_directions_and_outside_reference() -> None:
    # accuracy ↑ ref 0.15, carbon ↓ ref 0.5
    pts = np.array([[0.5, 0.4], [0.35, 0.3]])
    assert hypervolume(pts, [0.15, 0.5], [True, False]) == pytest.approx(0.35 * 0.1 + 0.2 * 0.1)
    # points worse than the reference in any objective (or on it) add nothing
    outside = np.vstack([pts, [[0.9, 0.6], [0.1, 0.05], [0.9, 0.5], [np.nan, 0.1]]])
    assert hypervolume(outside, [0.15, 0.5], [True, False]) == pytest.approx(0.055)
    assert hypervolume(outside[2:], [0.15, 0.5], [True, False]) == 0.0
    assert hypervolume(np.empty((0, 2)), [0.15, 0.5], [True, False]) == 0.0


def test_hypervolume_3d_by_hand() -> None:
    # minimise all, ref (2, 2, 2): unit cube at origin corner -> 8 for (0,0,0); two boxes by inclusion-exclusion
    assert hypervolume(np.zeros((1, 3)), [2, 2, 2], [False] * 3) == pytest.approx(8.0)
    pts = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    # each box 2·1·1 = 2; intersection [1,2]×[1,2]×[1,2] = 1 -> 3
    assert hypervolume(pts, [2, 2, 2], [False] * 3) == pytest.approx(3.0)
    pts3 = np.vstack([pts, [[1.0, 1.0, 0.0]]])
    # three boxes of 2, pairwise overlaps 1 each, triple overlap 1 -> 6 - 3 + 1 = 4
    assert hypervolume(pts3, [2, 2, 2], [False] * 3) == pytest.approx(4.0)
    # mixed: maximise the first objective with ref -2 on its negated scale gives the same volume
    flipped = pts3 * np.array([-1.0, 1.0, 1.0])
    assert hypervolume(flipped, [-2, 2, 2], [True, False, False]) == pytest.approx(4.0)


@pytest.mark.parametrize("d", [2, 3, 4])
def test_hypervolume_matches_box_union_volume(d: int) -> None:
    """Exact check on an integer grid: count the unit cells covered by the union of dominated boxes."""
    rng = np.random.default_rng(10 + d)
    ref = np.full(d, 6)
    pts = rng.integers(0, 6, size=(12, d))
    grid = np.stack(np.meshgrid(*[np.arange(6)] * d, indexing="ij"), axis=-1).reshape(-1, d)
    covered = ((grid[:, None, :] >= pts[None, :, :]).all(axis=2)).any(axis=1)
    assert hypervolume(pts.astype(float), ref, [False] * d) == pytest.approx(float(covered.sum()))


def test_hypervolume_4d_botorch_agrees_with_slicing() -> None:
    rng = np.random.default_rng(4)
    pts = rng.random((40, 4))
    maximize = [True, False, True, False]
    ref = [0.0, 1.0, 0.0, 1.0]
    a = hypervolume(pts, ref, maximize, method="slicing")
    b = hypervolume(pts, ref, maximize, method="botorch")
    assert a > 0 and a == pytest.approx(b, rel=1e-9)


def test_hypervolume_monotonic_when_adding_points() -> None:
    rng = np.random.default_rng(1)
    for d, maximize in ((2, [True, False]), (3, [True, False, False])):
        pts = rng.random((60, d))
        ref = [0.0 if m else 1.0 for m in maximize]
        prev = 0.0
        for k in range(1, len(pts) + 1):
            hv = hypervolume(pts[:k], ref, maximize)
            assert hv >= prev - 1e-12
            prev = hv
        # a point dominating the whole front increases it strictly
        best = np.array([[1.0 if m else 0.0 for m in maximize]]) * 0.999 + 0.0005
        assert hypervolume(np.vstack([pts, best]), ref, maximize) > prev


def test_hypervolume_argument_errors() -> None:
    with pytest.raises(ValueError, match="reference point"):
        hypervolume(np.zeros((2, 2)), [1.0], [False, False])
    with pytest.raises(ValueError, match="maximize"):
        pareto_mask(np.zeros((2, 2)), [False])
    with pytest.raises(ValueError, match="method"):
        hypervolume(np.zeros((2, 2)), [1.0, 1.0], [False, False], method="monte-carlo")


def test_pareto_front_keeps_completed_feasible_rows_sorted() -> None:
    df = pd.DataFrame({
        "trial": [0, 1, 2, 3, 4, 5],
        "status": ["completed", "failed", "completed", "infeasible", "completed", "completed"],
        "accuracy": [0.5, 0.9, 0.6, 0.95, 0.4, np.nan],
        "total_carbon_kg": [0.3, 0.01, 0.4, 0.02, 0.2, 0.01],
    }, index=[10, 11, 12, 13, 14, 15])
    objectives = [{"name": "accuracy", "maximize": True}, {"name": "total_carbon_kg", "maximize": False}]
    front = pareto_front(df, objectives)
    assert front["trial"].tolist() == [2, 0, 4]  # best accuracy first; failed/infeasible/NaN rows excluded
    assert front.index.tolist() == [12, 10, 14]
    # the same with (name, maximize) pairs and a feasible column
    df["feasible"] = [True, True, True, True, False, True]
    assert pareto_front(df, [("accuracy", True), ("total_carbon_kg", False)])["trial"].tolist() == [2, 0]
    with pytest.raises(UserError, match="latency_s"):
        pareto_front(df, [("latency_s", False)])


def test_objective_specs_forms() -> None:
    class Obj:
        name, maximize = "latency_s", False

    assert objective_specs([{"name": "accuracy", "maximize": True}, ("energy_per_inference_j", False), Obj()]) == [
        ("accuracy", True), ("energy_per_inference_j", False), ("latency_s", False)]
    with pytest.raises(UserError):
        objective_specs([])
