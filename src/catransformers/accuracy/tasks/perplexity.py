"""Perplexity of causal LMs on gensim's ``lee_background.cor`` (300 news documents, joined by newlines).

The token stream is split once: the last ``eval_tokens`` tokens (``recipe.eval_limit``, default 1024) are the
scored text, cut into windows of ``eval_seq_len`` tokens (each scored independently); everything before is the
training text, cut into ``train_seq_len`` windows. Perplexity = exp(mean next-token negative log-likelihood).
Lower is better. Healing: ``supervised`` = the language-modelling loss on the training windows; ``distill`` =
KL divergence to the unpruned model's next-token distributions on those windows (teacher run on the fly).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import torch
from torch import nn

from catransformers.accuracy.data import background_docs, fingerprint_files, gensim_file
from catransformers.accuracy.stats import Interval, bootstrap_items, interval
from catransformers.accuracy.tasks.base import HealObjective, LossFn, Task, autocast
from catransformers.accuracy.tasks.classification import kd_loss
from catransformers.errors import UserError

DEFAULT_EVAL_TOKENS = 1024


def token_nll(model: nn.Module, ids: torch.Tensor) -> tuple[float, int]:
    """Summed next-token NLL of `ids` (B, T) and the number of predicted tokens."""
    per_window = window_nll(model, ids)
    return float(per_window.sum()), ids[:, 1:].numel()


def window_nll(model: nn.Module, ids: torch.Tensor) -> np.ndarray:
    """Summed next-token NLL of each window of `ids` (B, T) -> (B,)."""
    logits = model(input_ids=ids).logits[:, :-1].float()
    nll = nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
    return nll.sum(1).cpu().numpy().astype(float)


def perplexity_interval(nll: np.ndarray, tokens: np.ndarray, seed: int) -> Interval:
    """exp(total NLL / total tokens) with its interval, resampling windows (the independent unit)."""
    per = np.stack([np.asarray(nll, float), np.asarray(tokens, float)], axis=1)
    point, boot = bootstrap_items(per, lambda s: np.exp(s[..., 0].sum(-1) / s[..., 1].sum(-1)), seed=seed)
    return interval(point, boot, len(per))


class LeePerplexity(Task):
    name = "lee-perplexity"
    metric = "perplexity"
    higher_is_better = False
    families = ("llama",)

    def fingerprint(self) -> str:
        return fingerprint_files(gensim_file("lee_background.cor"))

    @cached_property
    def _tokens(self) -> torch.Tensor:
        tok = self.loaded.processor
        if tok is None:
            raise UserError(f"task '{self.name}' needs the model's tokenizer; '{self.loaded.model_id}' has none")
        return torch.tensor(tok("\n".join(background_docs()))["input_ids"], dtype=torch.long)

    def _split(self) -> tuple[torch.Tensor, torch.Tensor]:
        n_eval = self.recipe.eval_limit or DEFAULT_EVAL_TOKENS
        tokens = self._tokens
        if len(tokens) < n_eval + self.recipe.train_seq_len:
            raise UserError(f"lee_background.cor has {len(tokens)} tokens; lower eval_limit ({n_eval})")
        return tokens[:-n_eval], tokens[-n_eval:]

    def _windows(self, tokens: torch.Tensor, size: int) -> torch.Tensor:
        n = len(tokens) // size
        return tokens[: n * size].reshape(n, size)

    def score_interval(self, model: nn.Module) -> Interval:
        """Perplexity over the held-out windows; the interval resamples windows."""
        _, test = self._split()
        windows = self._windows(test, min(self.recipe.eval_seq_len, len(test)))
        model.eval()
        with torch.no_grad(), autocast(self.device):
            nll = np.concatenate([window_nll(model, windows[i:i + 4].to(self.device))
                                  for i in range(0, len(windows), 4)])
        return perplexity_interval(nll, np.full(len(nll), windows.shape[1] - 1), self.recipe.seed)

    def _train_windows(self) -> torch.Tensor:
        return self._windows(self._split()[0], self.recipe.train_seq_len)

    def calibration(self) -> tuple[list[dict], LossFn]:
        windows = self._train_windows()[: self.recipe.calib_size].to(self.device)
        b = self.recipe.batch_size
        batches = [{"input_ids": windows[i:i + b], "labels": windows[i:i + b]} for i in range(0, len(windows), b)]
        return batches, lambda model, batch: model(**batch).loss

    def supervised_objective(self) -> HealObjective:
        windows = self._train_windows()

        def loss(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            ids = windows[idx].to(self.device)
            return model(input_ids=ids, labels=ids).loss

        return HealObjective(len(windows), loss, "language-modelling loss on lee_background.cor")

    def distill_objective(self, teacher: nn.Module, targets: torch.Tensor | None = None) -> HealObjective:
        windows = self._train_windows()
        teacher.eval()

        def loss(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            ids = windows[idx].to(self.device)
            with torch.no_grad():
                t_logits = teacher(input_ids=ids).logits
            s_logits = model(input_ids=ids).logits
            return kd_loss(s_logits.reshape(-1, s_logits.shape[-1]), t_logits.reshape(-1, t_logits.shape[-1]), 1.0)

        return HealObjective(len(windows), loss, "next-token distillation on lee_background.cor")
