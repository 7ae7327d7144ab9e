"""What every task scorer provides to `evaluate_accuracy`: a score, calibration data and healing objectives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import torch
from torch import nn

from catransformers.accuracy.recipe import AccuracyRecipe
from catransformers.accuracy.runtime import HealObjective, LoadedModel, LossFn, autocast
from catransformers.accuracy.stats import Interval
from catransformers.errors import UserError

__all__ = ["HealObjective", "LoadedModel", "LossFn", "Task", "autocast"]


class Task(ABC):
    """A scorer bound to one base model (its tokenizer / processor) and one recipe."""

    name: str = ""
    metric: str = ""
    higher_is_better: bool = True
    families: tuple[str, ...] = ()
    takes_data: bool = False  # reads `recipe.data` (a CSV / dataset folder); False = built-in data only

    def __init__(self, loaded: LoadedModel, recipe: AccuracyRecipe, device: torch.device) -> None:
        if self.families and loaded.family not in self.families:
            raise UserError(f"task '{self.name}' needs a {'/'.join(self.families)} model; "
                            f"'{loaded.model_id}' is {loaded.family}")
        if recipe.data and not self.takes_data:
            raise UserError(f"task '{self.name}' uses built-in data and takes no --data; drop --data, or choose a "
                            "task that reads it (--task text-classification or clip-retrieval)")
        if recipe.data and not Path(recipe.data).expanduser().exists():
            raise UserError(f"--data {recipe.data} does not exist; pass an existing CSV file or dataset folder")
        self.loaded, self.recipe, self.device = loaded, recipe, device

    @abstractmethod
    def fingerprint(self) -> str:
        """Hash of the data the score and the healing read (part of the cache key)."""

    @abstractmethod
    def score_interval(self, model: nn.Module) -> Interval:
        """The task metric of `model` (eval mode, no gradients) with its seeded 95% bootstrap interval."""

    def score(self, model: nn.Module) -> float:
        """The task metric of `model` alone."""
        return self.score_interval(model).score

    @abstractmethod
    def calibration(self) -> tuple[list[dict], LossFn]:
        """Batches of model inputs and a loss for importance scores (`compute_importance`)."""

    def teacher_targets(self, teacher: nn.Module) -> torch.Tensor | None:
        """Precomputable teacher outputs for distillation (cached per base model), or None (computed on the fly)."""
        return None

    def distill_objective(self, teacher: nn.Module, targets: torch.Tensor | None = None) -> HealObjective:
        """Distillation from the unpruned `teacher` on unlabelled inputs."""
        raise UserError(f"task '{self.name}' has no distillation recipe; use --recipe supervised or none")

    def supervised_objective(self) -> HealObjective:
        raise UserError(f"task '{self.name}' has no labelled training split; use --recipe distill or none")
