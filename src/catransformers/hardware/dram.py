"""The DRAM of each config, completed from the memory technology table (catransformers.memory).

A config names a technology (``dram_type``), a capacity (``dram_gb``, 0 = on-chip only: weights in the global
buffer, no DRAM) and optionally a channel count and a bandwidth. What is not given follows from the table:
channels = the technology's bus, fewer where the parts are too small (`memory.part_channels`); bandwidth =
channels x data rate x channel width (JEDEC); access energy = the table's pJ/bit, unless `Tech` overrides the
LPDDR or the other (DDR, HBM) family, times `Tech.dram_energy_scale`. Vectorised over the unique technologies.
"""

from __future__ import annotations

import numpy as np

from catransformers.hardware.tech import Tech
from catransformers.memory import NO_MEMORY, bandwidth_gbps, part_channels, pj_per_bit, resolve


def memory_name(dram_type: str) -> str:
    """The canonical technology name ('none' for on-chip only), or UserError listing the names."""
    key = str(dram_type).strip().lower().replace("-", "_")
    return NO_MEMORY if key == NO_MEMORY else resolve(key)


def _missing(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    return np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in arr.ravel()]).reshape(arr.shape)


def complete_dram(hw: dict[str, np.ndarray], tech: Tech) -> dict[str, np.ndarray]:
    """`hw` with dram_channels, dram_bw_gbps and dram_pj_per_bit filled in per config (given values are kept)."""
    n = len(np.asarray(hw["clusters"]))
    types = np.asarray(hw["dram_type"]).astype(str)
    gb = np.asarray(hw["dram_gb"], dtype=float)
    channels = np.asarray(hw.get("dram_channels", np.full(n, None)), dtype=object)
    bw = np.asarray(hw.get("dram_bw_gbps", np.full(n, None)), dtype=object)
    out_ch, out_bw, out_e = np.zeros(n), np.zeros(n), np.zeros(n)
    ch_missing, bw_missing = _missing(channels), _missing(bw)
    for name in np.unique(types):
        sel = types == name
        if name == NO_MEMORY:
            continue  # on chip only: no channels, bandwidth or access energy
        derived_ch = np.asarray(part_channels(name, gb[sel]), dtype=float).reshape(-1)
        ch = np.where(ch_missing[sel], derived_ch, np.where(ch_missing[sel], 0, channels[sel]).astype(float))
        out_ch[sel] = ch
        derived_bw = np.asarray(bandwidth_gbps(name, ch), dtype=float).reshape(-1)
        out_bw[sel] = np.where(bw_missing[sel], derived_bw, np.where(bw_missing[sel], 0, bw[sel]).astype(float))
        override = tech.lpddr_pj_per_bit if name.startswith("lpddr") else tech.ddr_pj_per_bit
        out_e[sel] = (pj_per_bit(name) if override is None else override) * tech.dram_energy_scale
    return {**hw, "dram_channels": out_ch, "dram_bw_gbps": out_bw, "dram_pj_per_bit": out_e}
