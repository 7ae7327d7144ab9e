"""Evaluate GEMMs with ZigZag (zigzag-dse 3.9.1) on a hierarchy shaped like the CATransformers template.

Dev-only oracle (install in /work/venv-oracle: `pip install zigzag-dse==3.9.1 six`); never imported by the package.
Hierarchy (one cluster): a rows x cols array of int8 MACs (D1 = rows holds the reduction dim, D2 = cols holds the
output channels, a weight-stationary systolic array), per-PE weight and partial-sum registers (zero energy: the
template has no register level, their cost is folded into the MAC), an L2 SRAM, a global buffer SRAM (both
1R+1W CACTI 7 at 22 nm via ZigZag's bundled binary) and DRAM at a fixed pJ/bit.
ZigZag's GEMM loop names: D = tokens (our m), C = reduction (our k), K = output channels (our n).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class HwPoint:
    """Template-like hardware point for ZigZag."""

    rows: int = 32  # systolic rows (template `depth`)
    cols: int = 32  # systolic columns (template `width`)
    l2_kb: int = 256
    l2_bw_words: int = 64  # GLB -> L2 words/cycle (template `l2_bw`)
    glb_mb: int = 2
    dram_bw_bytes_per_cycle: int = 16
    mac_energy_pj: float = 0.1
    dram_energy_pj_per_bit: float = 8.0


def _port(name: str, kind: str, bw: int, alloc: list[str], bw_min: int | None = None) -> dict:
    return {"name": name, "type": kind, "bandwidth_min": bw_min or bw, "bandwidth_max": bw, "allocation": alloc}


def accelerator_yaml(hw: HwPoint) -> dict:
    """ZigZag accelerator description of one cluster of the template."""
    zero_reg = {"r_cost": 0.0, "w_cost": 0.0, "area": 0.0, "latency": 1, "auto_cost_extraction": False}
    l2_port_bits = 8 * max(hw.rows, hw.cols)  # the array reads a row/column of words per cycle
    glb_port_bits = 8 * hw.l2_bw_words
    dram_port_bits = 8 * hw.dram_bw_bytes_per_cycle
    return {
        "name": "catransformers_template_cluster",
        "memories": {
            "w_reg": {
                "size": 8, **zero_reg, "operands": ["I2"],
                "ports": [_port("r_port_1", "read", 8, ["I2, tl"]), _port("w_port_1", "write", 8, ["I2, fh"])],
                "served_dimensions": [],
            },
            "o_reg": {
                "size": 32, **zero_reg, "operands": ["O"],
                "ports": [
                    _port("r_port_1", "read", 32, ["O, tl"]), _port("r_port_2", "read", 32, ["O, th"]),
                    _port("w_port_1", "write", 32, ["O, fh"]), _port("w_port_2", "write", 32, ["O, fl"]),
                ],
                "served_dimensions": [],
            },
            "l2": {
                "size": hw.l2_kb * 1024 * 8, "latency": 1, "auto_cost_extraction": True, "mem_type": "sram",
                "operands": ["I1", "I2", "O"],
                "ports": [
                    _port("r_port_1", "read", l2_port_bits, ["I1, tl", "I2, tl", "O, tl", "O, th"], 8),
                    _port("w_port_1", "write", l2_port_bits, ["I1, fh", "I2, fh", "O, fh", "O, fl"], 8),
                ],
                "served_dimensions": ["D1", "D2"],
            },
            "glb": {
                "size": hw.glb_mb * 1024 * 1024 * 8, "latency": 1, "auto_cost_extraction": True, "mem_type": "sram",
                "operands": ["I1", "I2", "O"],
                "ports": [
                    _port("r_port_1", "read", glb_port_bits, ["I1, tl", "I2, tl", "O, tl", "O, th"], 8),
                    _port("w_port_1", "write", glb_port_bits, ["I1, fh", "I2, fh", "O, fh", "O, fl"], 8),
                ],
                "served_dimensions": ["D1", "D2"],
            },
            "dram": {
                "size": 8 * 1024**3 * 8, "latency": 1, "auto_cost_extraction": False,
                "r_cost": hw.dram_energy_pj_per_bit * dram_port_bits,
                "w_cost": hw.dram_energy_pj_per_bit * dram_port_bits, "area": 0.0,
                "operands": ["I1", "I2", "O"],
                "ports": [_port("rw_port_1", "read_write", dram_port_bits,
                                ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"], 8)],
                "served_dimensions": ["D1", "D2"],
            },
        },
        "operational_array": {
            "input_precision": [8, 8], "unit_energy": hw.mac_energy_pj, "unit_area": 1.0,
            "dimensions": ["D1", "D2"], "sizes": [hw.rows, hw.cols], "systolic_dimensions": ["D1", "D2"],
        },
    }


def mapping_yaml(hw: HwPoint) -> list[dict]:
    """Weight-stationary spatial mapping: reduction C over rows (D1), output channels K over columns (D2)."""
    return [{
        "name": "default",
        "spatial_mapping": {"D1": [f"C, {hw.rows}"], "D2": [f"K, {hw.cols}"]},
        "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"},
    }]


def gemm_layers(gemms: list[tuple[str, int, int, int]]) -> list[dict]:
    """ZigZag workload layers O[d][k] += I[d][c] * W[c][k] for (name, m, k, n) GEMMs, int8 in, int32 partials."""
    return [{
        "id": i, "name": name, "operator_type": "Gemm", "equation": "O[d][k]+=I[d][c]*W[c][k]",
        "dimension_relations": [], "loop_dims": ["C", "D", "K"], "loop_sizes": [k, m, n],
        "operand_precision": {"I": 8, "W": 8, "O": 32, "O_final": 8},
        "operand_source": {"I": i, "W": i},
    } for i, (name, m, k, n) in enumerate(gemms)]


def _layer_record(cme) -> dict:
    """Energy split (per operand and memory level, with each level's CACTI access cost) and latency of one layer."""
    hierarchy = cme.accelerator.memory_hierarchy
    links = cme.layer.memory_operand_links
    by_level: dict[str, float] = {}
    by_operand_level: dict[str, dict[str, float]] = {}
    for layer_op, per_level in cme.mem_energy_breakdown.items():
        levels = hierarchy.get_memory_levels(links.layer_to_mem_op(layer_op))
        ops = by_operand_level.setdefault(str(layer_op), {})
        for level, e in zip(levels, per_level, strict=True):
            ops[level.name] = float(e)
            by_level[level.name] = by_level.get(level.name, 0.0) + float(e)
    access_cost = {
        node.name: {"r_cost_pj": float(node.memory_instance.r_cost), "w_cost_pj": float(node.memory_instance.w_cost),
                    "r_port_bits": int(max(p.bw_max for p in node.memory_instance.ports))}
        for node in hierarchy.topological_sort()
    }
    return {
        "name": cme.layer.name,
        "energy_pj": float(cme.energy_total),
        "mac_energy_pj": float(cme.mac_energy),
        "mem_energy_pj": float(cme.mem_energy),
        "mem_energy_by_level_pj": by_level,
        "mem_energy_by_operand_level_pj": by_operand_level,
        "access_cost": access_cost,
        "latency_cycles": float(cme.latency_total2),
        "ideal_cycles": float(cme.ideal_cycle),
        "ideal_temporal_cycles": float(cme.ideal_temporal_cycle),
    }


def run(gemms: list[tuple[str, int, int, int]], hw: HwPoint, opt: str = "energy", lpf_limit: int = 6) -> dict:
    """Evaluate each GEMM as its own layer; returns totals, per-layer energy split and the wall time."""
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")  # CACTI: `python`
    from zigzag.api import get_hardware_performance_zigzag

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="zigzag_") as tmp:
        acc = os.path.join(tmp, "acc.yaml")
        mapping = os.path.join(tmp, "map.yaml")
        work = os.path.join(tmp, "work.yaml")
        for path, doc in ((acc, accelerator_yaml(hw)), (mapping, mapping_yaml(hw)), (work, gemm_layers(gemms))):
            with open(path, "w") as f:
                yaml.safe_dump(doc, f, sort_keys=False)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            energy, latency, cmes = get_hardware_performance_zigzag(
                work, acc, mapping, opt=opt, dump_folder=os.path.join(tmp, "out"), lpf_limit=lpf_limit,
                loma_show_progress_bar=False,
            )
        wall_s = time.perf_counter() - t0
    layers = [_layer_record(cme) for cme, _ in cmes[0][1]]
    return {"energy_pj": float(energy), "latency_cycles": float(latency), "wall_s": wall_s, "layers": layers}


if __name__ == "__main__":
    import json
    print(json.dumps(run([("q", 197, 768, 768)], HwPoint()), indent=1))
