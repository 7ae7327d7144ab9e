"""`evaluate_accuracy`: prune a pretrained model to a spec, heal it, score it; cached so nothing runs twice."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from catransformers.accuracy.cache import ResultCache, make_key, weights_fingerprint
from catransformers.accuracy.heal import heal, heal_steps
from catransformers.accuracy.importance import Importance, compute_importance
from catransformers.accuracy.loaders import load_model
from catransformers.accuracy.pruning import prune_model, spec_of_model
from catransformers.accuracy.recipe import AccuracyRecipe, AccuracyResult
from catransformers.accuracy.runtime import LoadedModel, deterministic, device_of, resolve_threads, seed_everything
from catransformers.accuracy.tasks import Task, make_task
from catransformers.models import (
    ModelSpec,
    PruneParams,
    format_prune,
    full_params,
    param_count,
    parse_prune,
    prune_spec,
)
from catransformers.workload import build_workload

Progress = Callable[[str], None]
FLOPS_PER_MAC = 2  # one multiply-accumulate = one multiply + one add
_RESULT_FIELDS = ("score", "metric", "params", "flops", "steps", "wall_s", "score_before_heal", "score_ci_low",
                  "score_ci_high", "n_items")
_NOT_IN_KEY = {"threads"}  # changes scores by < 1e-8 only (summation order), so runs share entries

__all__ = ["base_model", "device_of", "evaluate_accuracy", "forward_flops", "resolve_prune"]


def _quiet(_: str) -> None:
    return None


def forward_flops(spec: ModelSpec) -> float:
    """Forward FLOPs of one inference: the workload stage's GEMM MAC count (the one MAC count) x 2."""
    return float(FLOPS_PER_MAC * build_workload(spec).total_macs())


@lru_cache(maxsize=2)
def _load(model_id: str, cache_dir: str) -> tuple[LoadedModel, ModelSpec]:
    """Base model and its spec, loaded once per process (a search worker evaluates many specs of one model)."""
    loaded = load_model(model_id, cache_dir)
    return loaded, spec_of_model(loaded.model, model_id)


def base_model(model_id: str, cache_dir: str | Path | None = None) -> tuple[LoadedModel, ModelSpec]:
    """The (memoised) loaded base model and its ModelSpec. Never modify the returned model in place."""
    return _load(model_id, str(ResultCache(cache_dir).root))


def resolve_prune(spec: ModelSpec, prune: PruneParams | str | None) -> PruneParams:
    """PruneParams from params, ``key=value`` text or None (the unpruned model); validated against `spec`."""
    if prune is None or isinstance(prune, str):
        return parse_prune(spec, prune)
    params = {**full_params(spec), **prune}
    prune_spec(spec, params)  # raises UserError for values outside the space
    return params


def importance_scores(task: Task, loaded: LoadedModel, recipe: AccuracyRecipe, cache: ResultCache, weights: str,
                      data: str) -> Importance | None:
    """Importance scores of the base model, computed once per (weights, method, calibration) and cached."""
    if recipe.importance == "last":
        return None
    key = make_key(kind="importance", model=loaded.model_id, weights=weights, method=recipe.importance,
                   calib=recipe.calib_size, batch=recipe.batch_size, seq=recipe.train_seq_len, data=data,
                   task=task.name)
    with cache.lock(key, "importance"):
        if (imp := cache.get_blob("importance", key, ".npz", Importance.load)) is not None:
            return imp
        batches, loss_fn = task.calibration()
        imp = compute_importance(loaded.model, loaded.family, batches, loss_fn, recipe.importance)
        cache.put_blob("importance", key, ".npz", imp.save)
        return imp





def _load_targets(path: Path) -> torch.Tensor:
    targets = torch.load(path, weights_only=True)
    if not isinstance(targets, torch.Tensor) or not torch.isfinite(targets).all():
        raise ValueError("not a finite tensor")
    return targets


def _teacher_targets(task: Task, teacher: nn.Module, cache: ResultCache, weights: str, data: str,
                     recipe: AccuracyRecipe) -> torch.Tensor | None:
    key = make_key(kind="targets", model=task.loaded.model_id, weights=weights, data=data, task=task.name,
                   seq=recipe.train_seq_len)
    with cache.lock(key, "targets"):
        if (targets := cache.get_blob("targets", key, ".pt", _load_targets)) is not None:
            return targets
        targets = task.teacher_targets(teacher)
        if targets is not None:
            cache.put_blob("targets", key, ".pt", lambda tmp: torch.save(targets, tmp))
        return targets


def evaluate_accuracy(model_id: str, prune: PruneParams | str | None = None, recipe: AccuracyRecipe | None = None,
                      cache_dir: str | Path | None = None, *, use_cache: bool = True,
                      progress: Progress | None = None) -> AccuracyResult:
    """Prune `model_id` to `prune` (None = unpruned), heal it by `recipe`, score it; cached on disk.

    Same base weights, pruned spec, recipe and data => the stored result (``cached=True``), never a second
    fine-tune; concurrent callers of the same key wait for the first one. `progress` receives one-line status
    messages (loading, importance, healing step i/n, scoring). Raises UserError for bad input,
    FloatingPointError if healing diverges.
    """
    start = time.perf_counter()
    say = progress or _quiet
    recipe = recipe or AccuracyRecipe()
    cache = ResultCache(cache_dir)
    say(f"loading {model_id}")
    loaded, spec = base_model(model_id, cache.root)
    params = resolve_prune(spec, prune)
    target = prune_spec(spec, params)
    canonical = format_prune(spec, params)
    device = device_of()
    task = make_task(loaded, recipe, device)
    weights = weights_fingerprint(loaded.weight_files, loaded.model, cache.root)
    data = task.fingerprint()
    key = make_key(kind="result", model=model_id, weights=weights, prune=canonical,
                   recipe=recipe.model_dump(exclude=_NOT_IN_KEY), data=data, task=task.name)
    if use_cache and (hit := cache.get(key, _RESULT_FIELDS)) is not None:
        return _cached(hit, start)
    with cache.lock(key):
        if use_cache and (hit := cache.get(key, _RESULT_FIELDS)) is not None:
            return _cached(hit, start)  # another process finished it while we waited
        result = _run(loaded, spec, params, target, canonical, task, recipe, cache, weights, data, device, start,
                      say)
        result.cache_key = key
        if use_cache:
            cache.put(key, result.to_dict(), meta={"model": model_id, "prune": canonical, "weights": weights,
                                                   "data": data, "recipe": recipe.model_dump()})
        return result


def _cached(entry: dict, start: float) -> AccuracyResult:
    result = AccuracyResult(**{**entry, "cached": True})
    result.extra = {**result.extra, "lookup_s": time.perf_counter() - start}
    return result


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _run(loaded: LoadedModel, spec: ModelSpec, params: PruneParams, target: ModelSpec, canonical: str, task: Task,
         recipe: AccuracyRecipe, cache: ResultCache, weights: str, data: str, device: torch.device,
         start: float, say: Progress) -> AccuracyResult:
    flops_full, flops = forward_flops(spec), forward_flops(target)
    steps = heal_steps(recipe.base_steps, flops_full, flops, recipe.budget_cap_x) if recipe.heal != "none" else 0
    teacher = loaded.model.to(device)
    threads = resolve_threads(recipe.threads)
    times: dict[str, float] = {}
    with deterministic(threads):
        seed_everything(recipe.seed)
        t0 = time.perf_counter()
        if target == spec:
            model = teacher  # unpruned: scored as is, never modified (0 heal steps)
        else:
            say("importance scores (cached after the first run)")
            importance = importance_scores(task, loaded, recipe, cache, weights, data)
            say(f"pruning to {canonical}")
            model = prune_model(teacher, spec, params, importance).to(device)
        times["prune_s"] = time.perf_counter() - t0
        say("scoring" + (" before healing" if steps else ""))
        t0 = time.perf_counter()
        before = task.score_interval(model)
        times["score_s"] = time.perf_counter() - t0
        report, after = None, before
        if steps:
            t0 = time.perf_counter()
            if recipe.heal == "distill":
                say("teacher targets (cached after the first run)")
                targets = _teacher_targets(task, teacher, cache, weights, data, recipe)
                objective = task.distill_objective(teacher, targets)
            else:
                objective = task.supervised_objective()
            times["targets_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            report = heal(model, objective, steps, recipe, device, threads=threads,
                          on_step=lambda i, loss: say(f"healing step {i}/{steps} (loss {loss:.4g})"))
            times["heal_s"] = time.perf_counter() - t0
            say("scoring after healing")
            after = task.score_interval(model)
    result = AccuracyResult(
        score=after.score, metric=task.metric, higher_is_better=task.higher_is_better, params=param_count(target),
        flops=flops, steps=steps, wall_s=time.perf_counter() - start, cached=False,
        score_before_heal=before.score, model_id=loaded.model_id, prune=canonical, task=task.name,
        heal=recipe.heal if steps else "none", score_ci_low=_finite(after.low), score_ci_high=_finite(after.high),
        n_items=after.n_items, loss_first=report.mean_first() if report else None,
        loss_last=report.mean_last() if report else None,
        extra={"device": device.type, "flops_ratio": flops_full / flops, "threads": threads,
               "threads_end": report.threads_end if report else threads,
               "step_s_median": float(np.median(report.step_s)) if report and report.step_s else None,
               **{k: round(v, 3) for k, v in times.items()}},
    )
    if model is not teacher:
        del model
        gc.collect()
    return result
