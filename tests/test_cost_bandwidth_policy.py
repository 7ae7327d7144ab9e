"""bandwidth_limited_gemm_cycles buffer policies: 'scalesim' reproduces SCALE-Sim v3's bandwidth-limited fixture,
'ideal' (the default) never beats compute, and neither policy gets slower with more bandwidth."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from catransformers.errors import UserError
from catransformers.hardware import bandwidth_limited_gemm_cycles, gemm_cycles
from catransformers.hardware.scalesim_policy import scalesim_traffic, window

FIXTURE = Path(__file__).resolve().parents[1] / "benchmarks" / "fixtures" / "scalesim_v3.json"
LIMITED = [c for c in json.loads(FIXTURE.read_text())["cases"] if c["bandwidth"] is not None]
TARGET_REL_ERR = 0.15  # issue 2, part 7

SHAPES = [(77, 512, 512), (197, 64, 197), (1, 2048, 256), (128, 100, 77), (16, 768, 768)]
ARRAYS = [(8, 8), (16, 64), (32, 16)]
SRAMS = [(16, 16, 16), (64, 128, 64), (1024, 1024, 1024)]
BWS = [1, 2, 4, 8, 12, 16, 32, 64, 256]


def _label(c: dict) -> str:
    return f"{c['m']}x{c['k']}x{c['n']}:{c['rows']}x{c['cols']}:{c['dataflow']}:bw{c['bandwidth']}"


@pytest.mark.parametrize("case", LIMITED, ids=_label)
def test_scalesim_policy_matches_fixture_total(case: dict) -> None:
    got = bandwidth_limited_gemm_cycles(case["m"], case["k"], case["n"], case["rows"], case["cols"], case["dataflow"],
                                        case["bandwidth"], tuple(case["sram_kb"]), buffer_policy="scalesim")
    assert abs(got / case["scalesim_total_cycles"] - 1) <= TARGET_REL_ERR


@pytest.mark.parametrize("case", LIMITED, ids=_label)
def test_scalesim_policy_dram_traffic_matches_fixture(case: dict) -> None:
    """The re-fetch model is the reason the totals match: its DRAM reads equal SCALE-Sim's counts."""
    compute = gemm_cycles(case["m"], case["k"], case["n"], case["rows"], case["cols"], case["dataflow"])
    tr = scalesim_traffic(case["m"], case["k"], case["n"], case["rows"], case["cols"], case["dataflow"],
                          case["bandwidth"], tuple(kb * 1024 for kb in case["sram_kb"]), compute)
    assert tr.ifmap_dram_words == case["scalesim_dram_ifmap_reads"]
    assert tr.filter_dram_words == case["scalesim_dram_filter_reads"]
    # SCALE-Sim's write count also counts a few null entries of its drain lines (under 0.1 % here)
    assert 0 <= case["scalesim_dram_ofmap_writes"] - tr.ofmap_dram_words <= 1e-3 * tr.ofmap_dram_words


def test_fixture_has_thrashing_and_fitting_cases() -> None:
    """The fixture exercises both regimes, so matching it is not matching compute alone."""
    stalled = [c for c in LIMITED if c["scalesim_stall_cycles"] > c["scalesim_total_cycles"] // 2]
    free = [c for c in LIMITED if c["scalesim_stall_cycles"] == 0]
    assert len(stalled) >= 5 and len(free) >= 3


def test_operand_that_fits_its_active_half_is_read_once() -> None:
    w = window(64 * 1024, 32 * 1024 - 1)
    assert w.step_lines == 0 and w.active_lines == w.ring_lines
    assert window(64 * 1024, 40_000).step_lines > 0


def test_ws_writes_every_fold_partial_sums_os_writes_outputs_once() -> None:
    m, k, n, r, c = 77, 512, 256, 16, 32
    ws = scalesim_traffic(m, k, n, r, c, "ws", 8, (1 << 20,) * 3, gemm_cycles(m, k, n, r, c, "ws"))
    os_ = scalesim_traffic(m, k, n, r, c, "os", 8, (1 << 20,) * 3, gemm_cycles(m, k, n, r, c, "os"))
    assert ws.ofmap_dram_words == (k // r) * m * n
    assert os_.ofmap_dram_words == m * n


def test_scalesim_policy_is_compute_when_everything_fits() -> None:
    m, k, n, r, c = 77, 256, 256, 16, 32
    for df in ("ws", "os"):
        got = bandwidth_limited_gemm_cycles(m, k, n, r, c, df, 8, (1024, 1024, 4096), buffer_policy="scalesim")
        assert got == gemm_cycles(m, k, n, r, c, df)


@pytest.mark.parametrize(("shape", "array", "df"), list(itertools.product(SHAPES, ARRAYS, ("ws", "os"))))
def test_ideal_never_faster_than_compute(shape, array, df) -> None:
    compute = gemm_cycles(*shape, *array, df)
    for sram, bw in itertools.product(SRAMS, BWS):
        assert bandwidth_limited_gemm_cycles(*shape, *array, df, bw, sram) >= compute
        assert bandwidth_limited_gemm_cycles(*shape, *array, df, bw, sram, buffer_policy="scalesim") >= compute


@pytest.mark.parametrize("policy", ["ideal", "scalesim"])
@pytest.mark.parametrize(("shape", "array", "df"), list(itertools.product(SHAPES, ARRAYS, ("ws", "os"))))
def test_more_bandwidth_never_more_cycles(policy, shape, array, df) -> None:
    for sram in SRAMS:
        cycles = [bandwidth_limited_gemm_cycles(*shape, *array, df, bw, sram, buffer_policy=policy) for bw in BWS]
        assert all(b <= a for a, b in itertools.pairwise(cycles)), (sram, cycles)


def test_default_policy_is_ideal_and_unknown_policy_is_a_user_error() -> None:
    args = (77, 512, 512, 16, 64, "ws", 8, (64, 64, 64))
    assert bandwidth_limited_gemm_cycles(*args) == bandwidth_limited_gemm_cycles(*args, buffer_policy="ideal")
    assert bandwidth_limited_gemm_cycles(*args) < bandwidth_limited_gemm_cycles(*args, buffer_policy="scalesim")
    with pytest.raises(UserError, match="buffer_policy"):
        bandwidth_limited_gemm_cycles(*args, buffer_policy="lru")
    with pytest.raises(UserError, match="sram_kb"):
        bandwidth_limited_gemm_cycles(77, 512, 512, 16, 64, "ws", 8, (0, 64, 64), buffer_policy="scalesim")
