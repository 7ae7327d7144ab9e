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
from catransformers.hardware.estimate import BOUNDS, Estimate, estimate, leakage_w
from catransformers.hardware.systolic import array_cycles, bandwidth_limited_gemm_cycles, gemm_cycles
from catransformers.hardware.tech import Tech

__all__ = [
    "BOUNDS", "FIXED_DEFAULTS", "HW_KEYS", "PAPER_GRID", "TEMPLATE_KEYS", "Estimate", "HardwareConfig",
    "HardwareSpace", "Tech", "area_mm2", "area_parts_mm2", "array_cycles", "bandwidth_limited_gemm_cycles",
    "estimate", "gemm_cycles", "leakage_w", "parse_hw", "parse_list",
]
