"""The cost stage: model spec x hardware configs -> latency, energy, area, carbon and feasibility.

settings.py  CostSettings and the design Constraints (the paper's caps by default)
designs.py   evaluate_designs (vectorised over configs), breakdown and estimate_design for one design
memory.py    the memory of each design: expand_memory (parts that hold the model), memory_choice (one named)
sweep.py     sweep_designs / summarize_designs: a space's designs, carbon-latency front and best designs
"""

from catransformers.cost.designs import breakdown, estimate_design, evaluate_designs, hardware_columns, plain
from catransformers.cost.memory import expand_memory, memory_choice
from catransformers.cost.settings import (
    CONSTRAINTS,
    PAPER_MAX_AREA_MM2,
    PAPER_MAX_LATENCY_MS,
    PAPER_MAX_TOPS,
    Constraints,
    CostSettings,
)
from catransformers.cost.sweep import SWEEP_OBJECTIVES, SweepResult, summarize_designs, sweep_designs

__all__ = [
    "CONSTRAINTS", "PAPER_MAX_AREA_MM2", "PAPER_MAX_LATENCY_MS", "PAPER_MAX_TOPS", "SWEEP_OBJECTIVES", "Constraints",
    "CostSettings", "SweepResult", "breakdown", "estimate_design", "evaluate_designs", "expand_memory",
    "hardware_columns", "memory_choice", "plain", "summarize_designs", "sweep_designs",
]
