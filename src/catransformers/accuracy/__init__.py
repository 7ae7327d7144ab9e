"""Accuracy branch: real structured pruning, importance, healing, task scorers and the result cache.

Entry point: `evaluate_accuracy(model_id, prune, recipe, cache_dir) -> AccuracyResult` (see ARCHITECTURE.md).
"""

from catransformers.accuracy.cache import ResultCache, default_cache_dir
from catransformers.accuracy.evaluate import base_model, evaluate_accuracy, resolve_prune
from catransformers.accuracy.loaders import BUILTIN, LoadedModel, load_model
from catransformers.accuracy.recipe import AccuracyRecipe, AccuracyResult

__all__ = [
    "BUILTIN", "AccuracyRecipe", "AccuracyResult", "LoadedModel", "ResultCache", "base_model", "default_cache_dir",
    "evaluate_accuracy", "load_model", "resolve_prune",
]
