"""Accelerator template, technology tables, area and the vectorised latency/energy model."""

from catransformers.hardware.area import area_mm2, area_parts_mm2
from catransformers.hardware.config import (
    FIXED_DEFAULTS,
    HW_KEYS,
    PAPER_GRID,
    TEMPLATE_KEYS,
    HardwareConfig,
    HardwareSpace,
    parse_hw,
    parse_list,
)
from catransformers.hardware.estimate import BOUNDS, ENERGY_KEYS, Estimate, estimate, leakage_w
from catransformers.hardware.node import node_factors
from catransformers.hardware.systolic import (
    DEFAULT_TIMING,
    TIMINGS,
    array_cycles,
    bandwidth_limited_gemm_cycles,
    check_timing,
    gemm_cycles,
)
from catransformers.hardware.tech import Tech

__all__ = [
    "BOUNDS", "DEFAULT_TIMING", "ENERGY_KEYS", "FIXED_DEFAULTS", "HW_KEYS", "PAPER_GRID", "TEMPLATE_KEYS", "TIMINGS",
    "Estimate", "HardwareConfig", "HardwareSpace", "Tech", "area_mm2", "area_parts_mm2", "array_cycles",
    "bandwidth_limited_gemm_cycles", "check_timing", "estimate", "gemm_cycles", "leakage_w", "node_factors",
    "parse_hw", "parse_list",
]
