"""Systolic GEMM closed forms (SCALE-Sim v3), the double-buffered variant and the bandwidth-limited rule."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from catransformers.errors import UserError
from catransformers.hardware import array_cycles, bandwidth_limited_gemm_cycles, gemm_cycles


def test_scalesim_v3_measured_results() -> None:
    """Measured with SCALE-Sim v3 on this machine kind (issue 2): M=197, K=768, N=768 on 32 x 32."""
    assert gemm_cycles(197, 768, 768, 32, 32, "ws") == 167_615
    assert gemm_cycles(197, 768, 768, 32, 32, "os") == 139_439


def test_closed_forms_by_hand() -> None:
    # WS: ceil(K/R) * ceil(N/C) * (2R + M + C - 2) - 1 with R=16 rows, C=64 cols
    assert gemm_cycles(77, 512, 512, 16, 64, "ws") == 32 * 8 * (32 + 77 + 64 - 2) - 1
    # OS: ceil(M/R) * ceil(N/C) * (K + R + C - 2) - 1 (non-divisible M and N)
    assert gemm_cycles(100, 64, 70, 8, 32, "os") == 13 * 3 * (64 + 8 + 32 - 2) - 1
    # K and N play different roles in WS: swapping them changes the count here
    assert gemm_cycles(10, 100, 30, 16, 8, "ws") != gemm_cycles(10, 30, 100, 16, 8, "ws")


def test_double_buffered_hides_all_but_the_first_weight_load() -> None:
    m, k, n, r, c = 197, 768, 768, 32, 32
    folds = 24 * 24
    plain = gemm_cycles(m, k, n, r, c, "ws")
    db = gemm_cycles(m, k, n, r, c, "ws", double_buffered=True)
    assert plain - db == (folds - 1) * r
    assert gemm_cycles(m, k, n, r, c, "os", double_buffered=True) == gemm_cycles(m, k, n, r, c, "os")


def test_vectorised_matches_scalar() -> None:
    rng = np.random.default_rng(0)
    m, k, n = rng.integers(1, 600, (3, 50))
    r, c = rng.choice([2, 4, 8, 32, 64], 50), rng.choice([32, 64, 128, 256], 50)
    for df in ("ws", "os"):
        for db in (False, True):
            vec = array_cycles(m, k, n, r, c, df, db)
            ref = [gemm_cycles(*map(int, x), df, db) for x in zip(m, k, n, r, c, strict=True)]
            assert np.array_equal(vec, ref)


@pytest.mark.parametrize("bad", [dict(m=0), dict(rows=-1), dict(k=1.5)])
def test_invalid_dims_raise(bad: dict) -> None:
    args = dict(m=4, k=4, n=4, rows=2, cols=2) | bad
    with pytest.raises(UserError):
        gemm_cycles(**args)
    with pytest.raises(UserError):
        gemm_cycles(4, 4, 4, 2, 2, "rs")


def test_bandwidth_limited_is_never_below_compute_and_falls_with_bandwidth() -> None:
    for df in ("ws", "os"):
        compute = gemm_cycles(197, 768, 768, 32, 32, df)
        cycles = [bandwidth_limited_gemm_cycles(197, 768, 768, 32, 32, df, bw) for bw in (4, 8, 16, 32, 64, 1e6)]
        assert all(a >= b for a, b in itertools.pairwise(cycles))
        assert cycles[-1] == pytest.approx(compute, abs=1.0)
        assert cycles[0] > 2 * compute  # 4 B/cycle starves the array


def test_bandwidth_limited_traffic_by_hand() -> None:
    """Input fits the ifmap half-buffer, so bytes = weights + input + output, once each."""
    m, k, n, bw = 16, 64, 256, 1.0
    moved = k * n + m * k + m * n
    startup = 8 * 32 / bw  # first 8 x 32 weight fold
    got = bandwidth_limited_gemm_cycles(m, k, n, 8, 32, "ws", bw, sram_kb=(64, 64, 64))
    assert got == pytest.approx(max(moved / bw, gemm_cycles(m, k, n, 8, 32, "ws")) + startup)
    bigger_words = bandwidth_limited_gemm_cycles(m, k, n, 8, 32, "ws", bw, sram_kb=(64, 64, 64), word_bytes=2)
    assert bigger_words > got
