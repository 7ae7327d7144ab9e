"""Timing modes of the systolic array: scalesim (exact), pipelined (folds back to back), ideal (MACs / PEs)."""

from __future__ import annotations

import numpy as np
import pytest

from catransformers.errors import UserError
from catransformers.hardware import HardwareConfig, Tech, array_cycles, estimate, gemm_cycles
from catransformers.hardware.systolic import DEFAULT_TIMING, TIMINGS
from catransformers.models import get_model
from catransformers.workload import build_workload


def _random_gemms(n: int = 400):
    rng = np.random.default_rng(7)
    m, k, n_ = rng.integers(1, 800, (3, n))
    r = rng.choice([2, 4, 8, 16, 32, 64], n)
    c = rng.choice([32, 64, 128, 256], n)
    return m, k, n_, r, c


@pytest.mark.parametrize("df", ["ws", "os"])
def test_pipelined_between_ideal_and_scalesim_on_every_gemm(df: str) -> None:
    m, k, n, r, c = _random_gemms()
    scalesim = array_cycles(m, k, n, r, c, df, timing="scalesim")
    pipelined = array_cycles(m, k, n, r, c, df, timing="pipelined")
    ideal = array_cycles(m, k, n, r, c, df, timing="ideal")
    assert np.all(pipelined <= scalesim)
    assert np.all(pipelined >= ideal)
    assert np.any(pipelined < scalesim) and np.any(pipelined > ideal)  # the modes differ


@pytest.mark.parametrize("df", ["ws", "os"])
def test_single_fold_pipelined_equals_scalesim(df: str) -> None:
    # one fold: K <= rows and N <= cols (WS), M <= rows and N <= cols (OS)
    for m, k, n, r, c in [(197, 8, 200, 8, 256), (5, 4, 32, 4, 32), (64, 32, 100, 64, 128)]:
        if df == "os":
            m, k = k, m
        assert array_cycles(m, k, n, r, c, df, timing="pipelined") == gemm_cycles(m, k, n, r, c, df)


def test_scalesim_mode_is_the_validated_closed_form() -> None:
    assert array_cycles(197, 768, 768, 32, 32, "ws", timing="scalesim") == 167_615  # SCALE-Sim v3 measured
    assert array_cycles(197, 768, 768, 32, 32, "os", timing="scalesim") == 139_439


def test_pipelined_and_ideal_by_hand() -> None:
    # WS, R=16, C=64, M=77, K=512, N=512: 32 x 8 folds; first fold 2R + M + C - 3, then max(M, R) per fold
    assert array_cycles(77, 512, 512, 16, 64, "ws", timing="pipelined") == 2 * 16 + 77 + 64 - 3 + 255 * 77
    # a fold shorter than the weight load waits for it: M=4 < R=16
    assert array_cycles(4, 64, 64, 16, 64, "ws", timing="pipelined") == 2 * 16 + 4 + 64 - 3 + 3 * 16
    # ideal: MACs / active PEs (K=8 uses 8 of 32 rows, N=40 uses 40 of 64 columns)
    assert array_cycles(100, 8, 40, 32, 64, "ws", timing="ideal") == pytest.approx(100 * 8 * 40 / (8 * 40))
    assert array_cycles(100, 512, 512, 16, 64, "ws", timing="ideal") == pytest.approx(100 * 512 * 512 / (16 * 64))


def test_unknown_timing_is_a_user_error() -> None:
    with pytest.raises(UserError, match="allowed: scalesim"):
        array_cycles(4, 4, 4, 2, 2, "ws", timing="fast")
    work = build_workload(get_model("tinyclip-8m-16"))
    hw = HardwareConfig(clusters=1, width=32, depth=8, l2_kb=64, l2_bw=64, glb_mb=2).columns()
    with pytest.raises(UserError, match="unknown timing mode"):
        estimate(work, hw, Tech(), timing="Turbo")


def test_estimate_latency_orders_the_modes_and_keeps_energy_dynamic_terms() -> None:
    work = build_workload(get_model("clip-vit-b-16"))
    space = {k: np.asarray(v) for k, v in HardwareConfig(clusters=2, width=256, depth=8, l2_kb=256, l2_bw=128,
                                                         glb_mb=4).columns().items()}
    lat = {t: float(estimate(work, space, Tech(), double_buffered=False, timing=t).latency_s[0]) for t in TIMINGS}
    assert lat["ideal"] < lat["pipelined"] < lat["scalesim"]
    assert DEFAULT_TIMING == "pipelined"
    assert float(estimate(work, space, Tech()).latency_s[0]) == lat["pipelined"]
    # double_buffered acts in scalesim only: fold by fold with the weight preload hidden, between the two
    scalesim_db = estimate(work, space, Tech(), double_buffered=True, timing="scalesim")
    assert lat["pipelined"] < float(scalesim_db.latency_s[0]) < lat["scalesim"]
    assert scalesim_db.timing == "scalesim+db"
    for t in ("pipelined", "ideal"):
        assert float(estimate(work, space, Tech(), double_buffered=True, timing=t).latency_s[0]) == lat[t]
    assert float(estimate(work, space, Tech(), double_buffered=False, timing=None).latency_s[0]) == lat["scalesim"]


def test_ideal_mode_still_pays_bandwidth_stalls() -> None:
    work = build_workload(get_model("tinyclip-8m-16"))
    cfg = dict(clusters=1, width=256, depth=16, l2_kb=64, l2_bw=128, glb_mb=2)
    fast = HardwareConfig(**cfg, dram_bw_gbps=400.0).columns()
    slow = HardwareConfig(**cfg, dram_bw_gbps=0.5).columns()
    t_fast = float(estimate(work, fast, Tech(), timing="ideal").latency_s[0])
    t_slow = float(estimate(work, slow, Tech(), timing="ideal").latency_s[0])
    assert t_slow > 2 * t_fast
    assert estimate(work, slow, Tech(), timing="ideal").bound[0] == "dram"
