"""Task scorers by name; `make_task` binds one to a loaded base model and a recipe."""

from __future__ import annotations

import torch

from catransformers.accuracy.recipe import AccuracyRecipe
from catransformers.accuracy.runtime import HealObjective, LoadedModel
from catransformers.accuracy.tasks.base import Task
from catransformers.accuracy.tasks.classification import DigitsClassification, TextClassification
from catransformers.accuracy.tasks.perplexity import LeePerplexity
from catransformers.accuracy.tasks.retrieval import ClipRetrieval
from catransformers.accuracy.tasks.similarity import HumanSimilarity, LeeSimilarity
from catransformers.errors import UserError


def _registry() -> dict[str, type[Task]]:
    tasks = (HumanSimilarity, LeeSimilarity, TextClassification, DigitsClassification, LeePerplexity, ClipRetrieval)
    return {t.name: t for t in tasks}


def task_names() -> list[str]:
    return sorted(_registry())


def make_task(loaded: LoadedModel, recipe: AccuracyRecipe, device: torch.device) -> Task:
    """The recipe's task (``auto`` = the model's default task) bound to `loaded`."""
    name = loaded.default_task if recipe.task == "auto" else recipe.task
    tasks = _registry()
    if name not in tasks:
        raise UserError(f"unknown task '{name}'; choose one of {', '.join(sorted(tasks))} (or auto)")
    return tasks[name](loaded, recipe, device)


__all__ = ["HealObjective", "Task", "make_task", "task_names"]
