"""What every task scorer provides to `evaluate_accuracy`: a score, calibration data and healing objectives."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import torch
from torch import nn

from catransformers.accuracy.loaders import LoadedModel
from catransformers.accuracy.recipe import AccuracyRecipe
from catransformers.errors import UserError

LossFn = Callable[[nn.Module, dict], torch.Tensor]


@dataclass
class HealObjective:
    """A training objective over `size` examples: `loss(model, idx)` for a batch of example indices."""

    size: int
    loss: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    description: str
    extra_params: list[nn.Parameter] = field(default_factory=list)  # e.g. a temporary classifier head


def autocast(device: torch.device) -> AbstractContextManager:
    """bfloat16 autocast on CUDA, nothing on CPU (CPU runs stay float32 and reproducible)."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


class Task(ABC):
    """A scorer bound to one base model (its tokenizer / processor) and one recipe."""

    name: str = ""
    metric: str = ""
    higher_is_better: bool = True
    families: tuple[str, ...] = ()

    def __init__(self, loaded: LoadedModel, recipe: AccuracyRecipe, device: torch.device) -> None:
        if self.families and loaded.family not in self.families:
            raise UserError(f"task '{self.name}' needs a {'/'.join(self.families)} model; "
                            f"'{loaded.model_id}' is {loaded.family}")
        self.loaded, self.recipe, self.device = loaded, recipe, device

    @abstractmethod
    def fingerprint(self) -> str:
        """Hash of the data the score and the healing read (part of the cache key)."""

    @abstractmethod
    def score(self, model: nn.Module) -> float:
        """The task metric of `model` (eval mode, no gradients)."""

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
