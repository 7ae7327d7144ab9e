"""Leaf module of the accuracy branch: shared types and torch runtime helpers (imports no other accuracy module).

Everything the loaders, tasks and healing share lives here, so the modules above it import each other in one
direction only (no import cycle, no function-local import to hide one).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

LossFn = Callable[[nn.Module, dict], torch.Tensor]


@dataclass
class LoadedModel:
    """A loaded base model and what the tasks need to feed it."""

    model_id: str
    family: str  # "bert", "mpnet", "vit", "clip" or "llama" (as ModelSpec.family)
    model: torch.nn.Module
    processor: Any  # tokenizer (text), CLIP processor, image processor, or None (tiny ViT takes tensors)
    default_task: str
    weight_files: tuple[Path, ...] = ()  # hashed for the cache key; empty -> the state_dict is hashed
    notes: dict = field(default_factory=dict)


@dataclass
class HealObjective:
    """A training objective over `size` examples: `loss(model, idx)` for a batch of example indices."""

    size: int
    loss: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    description: str
    extra_params: list[nn.Parameter] = field(default_factory=list)  # e.g. a temporary classifier head


def device_of() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device) -> AbstractContextManager:
    """bfloat16 autocast on CUDA, nothing on CPU (CPU runs stay float32 and reproducible)."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def affinity_cores() -> int:
    """CPU cores this process may run on (its affinity set; os.cpu_count() counts the whole host)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def cpu_budget(own_load: float = 1.0) -> int:
    """Cores idle for this process now: its affinity set minus what other work keeps busy (at least 1).

    The 1-minute load average counts runnable tasks machine-wide, this process included (`own_load`, ~1 while
    it computes); a core counts as taken by others once they load it by more than 0.25.
    """
    cores = affinity_cores()
    try:
        others = max(0.0, os.getloadavg()[0] - own_load)
    except OSError:
        return cores
    return max(1, min(cores, math.floor(cores - others + 0.25)))


def resolve_threads(threads: int) -> int:
    """Torch CPU threads for a trial: ``threads`` (0 = all affinity cores), capped by the idle cores now.

    Why cap: torch's OpenMP threads spin-wait at every parallel-region barrier, so one thread that loses its core
    to another process stalls the others. Measured on the shared 2-core host (MiniLM-L6, 4 layers, batch 16 x 128
    tokens, benchmarks/bench_finetune_time.py): 1 thread 1.1 s per step whatever the load; 2 threads 0.65-0.85 s
    when both cores are free but 3-11 s per step while another process runs. One thread loses < 30% on a quiet
    machine; two lose up to 10x on a busy one.
    """
    wanted = threads if threads > 0 else affinity_cores()
    return max(1, min(wanted, cpu_budget()))


@contextmanager
def deterministic(threads: int) -> Iterator[None]:
    """Deterministic kernels and a fixed CPU thread count for the duration, restored afterwards."""
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)
