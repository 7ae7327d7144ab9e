"""`evaluate_accuracy`: prune a pretrained model to a spec, heal it, score it; cached so nothing runs twice."""

from __future__ import annotations

import gc
import time
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from catransformers.accuracy.cache import ResultCache, make_key, weights_fingerprint
from catransformers.accuracy.flops import forward_flops
from catransformers.accuracy.heal import deterministic, heal, heal_steps, seed_everything
from catransformers.accuracy.loaders import LoadedModel, load_model
from catransformers.accuracy.recipe import AccuracyRecipe, AccuracyResult
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

_RESULT_FIELDS = ("score", "metric", "params", "flops", "steps", "wall_s", "score_before_heal")


def device_of() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@lru_cache(maxsize=2)
def _load(model_id: str, cache_dir: str) -> tuple[LoadedModel, ModelSpec]:
    """Base model and its spec, loaded once per process (a search worker evaluates many specs of one model)."""
    from catransformers.accuracy.pruning import spec_of_model

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


def _importance(task: Task, loaded: LoadedModel, recipe: AccuracyRecipe, cache: ResultCache, weights: str,
                data: str):
    """Importance scores of the base model, computed once per (weights, method, calibration) and cached."""
    from catransformers.accuracy.importance import Importance, compute_importance

    if recipe.importance == "last":
        return None
    key = make_key(kind="importance", model=loaded.model_id, weights=weights, method=recipe.importance,
                   calib=recipe.calib_size, batch=recipe.batch_size, seq=recipe.train_seq_len, data=data,
                   task=task.name)
    path = cache.blob_path("importance", key, ".npz")
    with cache.lock(key, "importance"):
        if path.exists():
            try:
                return Importance.load(path)
            except Exception as err:  # corrupted file: recompute, never trust it
                import warnings

                warnings.warn(f"ignoring corrupted importance file {path} ({err}); recomputing", stacklevel=2)
        batches, loss_fn = task.calibration()
        imp = compute_importance(loaded.model, loaded.family, batches, loss_fn, recipe.importance)
        imp.save(path)
        return imp


def _teacher_targets(task: Task, teacher: nn.Module, cache: ResultCache, weights: str, data: str,
                     recipe: AccuracyRecipe) -> torch.Tensor | None:
    key = make_key(kind="targets", model=task.loaded.model_id, weights=weights, data=data, task=task.name,
                   seq=recipe.train_seq_len)
    path = cache.blob_path("targets", key)
    with cache.lock(key, "targets"):
        if path.exists():
            try:
                return torch.load(path, weights_only=True)
            except Exception:
                path.unlink(missing_ok=True)
        targets = task.teacher_targets(teacher)
        if targets is not None:
            tmp = path.with_suffix(".tmp")
            torch.save(targets, tmp)
            tmp.replace(path)
        return targets


def evaluate_accuracy(model_id: str, prune: PruneParams | str | None = None, recipe: AccuracyRecipe | None = None,
                      cache_dir: str | Path | None = None, *, use_cache: bool = True) -> AccuracyResult:
    """Prune `model_id` to `prune` (None = unpruned), heal it by `recipe`, score it; cached on disk.

    Same base weights, pruned spec, recipe and data => the stored result (``cached=True``), never a second
    fine-tune; concurrent callers of the same key wait for the first one. Raises UserError for bad input,
    FloatingPointError if healing diverges.
    """
    start = time.perf_counter()
    recipe = recipe or AccuracyRecipe()
    cache = ResultCache(cache_dir)
    loaded, spec = base_model(model_id, cache.root)
    params = resolve_prune(spec, prune)
    target = prune_spec(spec, params)
    canonical = format_prune(spec, params)
    device = device_of()
    task = make_task(loaded, recipe, device)
    weights = weights_fingerprint(loaded.weight_files, loaded.model, cache.root)
    data = task.fingerprint()
    key = make_key(kind="result", model=model_id, weights=weights, prune=canonical, recipe=recipe.model_dump(),
                   data=data, task=task.name)
    if use_cache and (hit := cache.get(key, _RESULT_FIELDS)) is not None:
        return _cached(hit, start)
    with cache.lock(key):
        if use_cache and (hit := cache.get(key, _RESULT_FIELDS)) is not None:
            return _cached(hit, start)  # another process finished it while we waited
        result = _run(loaded, spec, params, target, canonical, task, recipe, cache, weights, data, device, start)
        result.cache_key = key
        if use_cache:
            cache.put(key, result.to_dict(), meta={"model": model_id, "prune": canonical, "weights": weights,
                                                   "data": data, "recipe": recipe.model_dump()})
        return result


def _cached(entry: dict, start: float) -> AccuracyResult:
    result = AccuracyResult(**{**entry, "cached": True})
    result.extra = {**result.extra, "lookup_s": time.perf_counter() - start}
    return result


def _run(loaded: LoadedModel, spec: ModelSpec, params: PruneParams, target: ModelSpec, canonical: str, task: Task,
         recipe: AccuracyRecipe, cache: ResultCache, weights: str, data: str, device: torch.device,
         start: float) -> AccuracyResult:
    from catransformers.accuracy.pruning import prune_model

    flops_full, flops = forward_flops(spec), forward_flops(target)
    steps = heal_steps(recipe.base_steps, flops_full, flops, recipe.budget_cap_x) if recipe.heal != "none" else 0
    teacher = loaded.model.to(device)
    with deterministic(recipe.threads):
        seed_everything(recipe.seed)
        if target == spec:
            model = teacher  # unpruned: scored as is, never modified (0 heal steps)
        else:
            importance = _importance(task, loaded, recipe, cache, weights, data)
            model = prune_model(teacher, spec, params, importance).to(device)
        before = task.score(model)
        report = None
        if steps:
            if recipe.heal == "distill":
                targets = _teacher_targets(task, teacher, cache, weights, data, recipe)
                objective = task.distill_objective(teacher, targets)
            else:
                objective = task.supervised_objective()
            report = heal(model, objective, steps, recipe, device)
            after = task.score(model)
        else:
            after = before
    result = AccuracyResult(
        score=after, metric=task.metric, higher_is_better=task.higher_is_better, params=param_count(target),
        flops=flops, steps=steps, wall_s=time.perf_counter() - start, cached=False, score_before_heal=before,
        model_id=loaded.model_id, prune=canonical, task=task.name, heal=recipe.heal if steps else "none",
        loss_first=report.mean_first() if report else None, loss_last=report.mean_last() if report else None,
        extra={"device": device.type, "flops_ratio": flops_full / flops},
    )
    if model is not teacher:
        del model
        gc.collect()
    return result
