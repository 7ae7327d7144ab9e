"""The memory of a design, chosen per model: every config paired with the parts that hold it (`expand_memory`,
the nested sweep), or one candidate named by a joint/random trial (`memory_choice`).
"""

from __future__ import annotations

import numpy as np

from catransformers.cost.settings import CostSettings
from catransformers.errors import UserError
from catransformers.hardware.config import HardwareConfig
from catransformers.models.spec import ModelSpec
from catransformers.workload.ops import Workload, build_workload
from catransformers.workload.resident import peak_activation_bytes, resident_bytes


def on_chip_bytes(work: Workload, hw: dict[str, np.ndarray]) -> np.ndarray:
    """Global-buffer bytes left for the weights (+ KV cache) of an on-chip-only design: the buffer less the largest
    GEMM's activations (negative where even those do not fit)."""
    return np.asarray(hw["glb_mb"], float) * 1024.0**2 - peak_activation_bytes(work, hw["precision_bits"])


def expand_memory(hw: dict[str, np.ndarray], memory: list[str], spec: ModelSpec,
                  settings: CostSettings, work: Workload | None = None) -> dict[str, np.ndarray]:
    """Every config paired with the memory candidates of `memory` for this model (catransformers.memory):

    per listed technology the smallest sold part that holds the resident bytes and the next one up, and on chip
    only where the weights and the largest activations fit in the global buffer. A `memory_candidate` column
    says which (smallest / next / on_chip). `work`: the model's workload when the caller has built it.
    """
    from catransformers.hardware.config import memory_technologies, tries_on_chip
    from catransformers.memory import NO_MEMORY, memory_candidates

    resident = resident_bytes(spec, settings.workload, hw["precision_bits"])
    glb = None
    if tries_on_chip(memory):
        work = work if work is not None else build_workload(spec, settings.workload)
        glb = np.maximum(on_chip_bytes(work, hw), 0.0)
    cand = memory_candidates(resident, memory_technologies(memory), glb)
    if cand.empty:
        raise UserError(f"memory {memory}: no candidate holds {spec.id} ({float(np.max(resident)) / 1e6:.1f} MB); "
                        "add a DRAM technology or larger global buffers")
    idx = cand["design"].to_numpy()
    out = {k: np.asarray(v)[idx] for k, v in hw.items()}
    on_chip = cand["memory"].to_numpy() == NO_MEMORY
    out["dram_type"] = cand["memory"].to_numpy().astype(str)
    out["dram_gb"] = cand["dram_gb"].to_numpy(dtype=float)
    out["dram_channels"] = np.where(on_chip, None, cand["dram_channels"].to_numpy()).astype(object)
    out["dram_bw_gbps"] = np.full(len(idx), None, dtype=object)  # channels x rate x width (hardware/dram.py)
    out["memory_candidate"] = cand["candidate"].to_numpy().astype(str)
    return out


def memory_choice(spec: ModelSpec, config: HardwareConfig, memory: str, part: str = "smallest",
                  settings: CostSettings | None = None) -> tuple[HardwareConfig, str]:
    """`config` with one memory candidate of `expand_memory`, named as a joint/random trial names it.

    `memory` is a technology (its smallest sold part that holds this model's resident bytes, or with
    part='next' the one above) or 'none' (on chip only; the dram_capacity check then says whether the weights
    fit the global buffer). Returns the config and its `memory_candidate` label (smallest / next / on_chip).
    """
    from catransformers.memory import MEMORY_PARTS, NO_MEMORY, memory_candidates

    if part not in MEMORY_PARTS:
        raise UserError(f"memory part '{part}' is not one of {', '.join(MEMORY_PARTS)}")
    fields = config.model_dump()
    if memory == NO_MEMORY:
        on_chip = {"dram_type": NO_MEMORY, "dram_gb": 0.0, "dram_channels": None, "dram_bw_gbps": None}
        return HardwareConfig(**(fields | on_chip)), "on_chip"
    settings = settings or CostSettings()
    resident = resident_bytes(spec, settings.workload, np.array([config.precision_bits]))
    cand = memory_candidates(resident, [memory])
    row = cand[cand["candidate"] == part].iloc[0]
    chosen = {"dram_type": str(row["memory"]), "dram_gb": float(row["dram_gb"]),
              "dram_channels": int(row["dram_channels"]), "dram_bw_gbps": None}
    return HardwareConfig(**(fields | chosen)), part
