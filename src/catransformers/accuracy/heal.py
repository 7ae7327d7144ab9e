"""Healing: a short fine-tune after pruning, with a compute budget that grows as the model shrinks.

Budget (CATransformers paper, arXiv 2505.01386): fine-tune length scaled by the FLOP ratio unpruned / pruned,
capped at ``budget_cap_x`` (10x): ``steps = round(base_steps * min(cap, flops_full / flops_pruned))``. So every
pruned model gets about the same total compute as ``base_steps`` steps of the full model. FLOPs are 2 x the
workload stage's MAC count (`catransformers.workload.build_workload`), the count the cost model uses. The
unpruned model is not healed (0 steps). The warm-up is a fraction of *this* run (default 10%), so it always
ends inside the run (the paper's code warmed up over 10,000 steps within runs of a few hundred: it never
reached the peak rate).

AdamW, linear warm-up then cosine (or linear) decay to zero, gradient-norm clipping, fixed seeds; a NaN or
infinite loss stops the run with a FloatingPointError naming the step. Deterministic on CPU for a given thread
count (`torch.use_deterministic_algorithms`); other thread counts change the loss in the 9th digit (summation
order); bfloat16 autocast on CUDA.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from catransformers.accuracy.recipe import AccuracyRecipe
from catransformers.accuracy.runtime import HealObjective, autocast, seed_everything

# A step this much slower than the fastest one: measured 1.0-1.3x step-to-step spread on a quiet 2-core host,
# 4-11x when another process takes a core from a 2-thread run (runtime.resolve_threads).
SPIN_GUARD_X = 2.0


def heal_steps(base_steps: int, flops_full: float, flops_pruned: float, cap_x: float) -> int:
    """Optimizer steps for a model of `flops_pruned` (0 for the unpruned model)."""
    if flops_pruned >= flops_full:
        return 0
    return max(1, round(base_steps * min(cap_x, flops_full / flops_pruned)))


def lr_factor(step: int, total: int, warmup_frac: float, schedule: str) -> float:
    """Multiplier of the peak rate at `step` (0-based): linear warm-up, then cosine / linear decay to 0."""
    warm = max(1, math.ceil(total * warmup_frac)) if warmup_frac > 0 else 0
    if step < warm:
        return (step + 1) / warm
    progress = (step - warm + 1) / max(1, total - warm)
    return 0.5 * (1 + math.cos(math.pi * progress)) if schedule == "cosine" else max(0.0, 1 - progress)


@dataclass
class HealReport:
    steps: int
    losses: list[float] = field(default_factory=list)
    step_s: list[float] = field(default_factory=list)  # wall time of each optimizer step
    threads_end: int = 0  # torch threads at the end (1 after the spin-wait guard fired)

    def mean_first(self) -> float | None:
        k = max(1, len(self.losses) // 10)
        return float(np.mean(self.losses[:k])) if self.losses else None

    def mean_last(self) -> float | None:
        k = max(1, len(self.losses) // 10)
        return float(np.mean(self.losses[-k:])) if self.losses else None


def heal(model: nn.Module, objective: HealObjective, steps: int, recipe: AccuracyRecipe, device: torch.device,
         on_step: Callable[[int, float], None] | None = None, threads: int | None = None) -> HealReport:
    """Fine-tune `model` in place for `steps` optimizer steps on `objective`; returns the loss curve.

    `on_step(i, loss)` is called after step i (1-based), e.g. for a progress line. With several CPU `threads`,
    a step slower than `SPIN_GUARD_X` x the fastest one so far means another process took a core (OpenMP
    threads then spin-wait at each barrier): the rest of the run uses one thread (scores change < 1e-8).
    """
    report = HealReport(steps=steps, threads_end=threads or torch.get_num_threads())
    if steps <= 0:
        return report
    seed_everything(recipe.seed)
    params = [p for p in model.parameters() if p.requires_grad] + list(objective.extra_params)
    opt = torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, steps, recipe.warmup_frac, recipe.schedule))
    gen = torch.Generator().manual_seed(recipe.seed)
    order = torch.randperm(objective.size, generator=gen)
    cursor = 0
    model.train()
    for step in range(steps):
        t0 = time.perf_counter()
        if cursor + recipe.batch_size > objective.size:  # next epoch, reshuffled
            order, cursor = torch.randperm(objective.size, generator=gen), 0
        idx = order[cursor:cursor + recipe.batch_size]
        cursor += recipe.batch_size
        with autocast(device):
            loss = objective.loss(model, idx)
        value = float(loss.detach())
        if not math.isfinite(value):
            model.eval()
            raise FloatingPointError(
                f"healing diverged: loss is {value} at step {step + 1}/{steps} ({objective.description}); "
                f"lower the learning rate (now {recipe.lr:g})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, recipe.grad_clip)
        opt.step()
        sched.step()
        report.losses.append(value)
        report.step_s.append(time.perf_counter() - t0)
        if device.type == "cpu" and report.threads_end > 1 and len(report.step_s) >= 2 \
                and report.step_s[-1] > SPIN_GUARD_X * min(report.step_s):
            torch.set_num_threads(1)
            report.threads_end = 1
        if on_step is not None:
            on_step(step + 1, value)
    model.eval()
    return report
