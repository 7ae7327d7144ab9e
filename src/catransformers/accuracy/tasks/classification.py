"""Classification accuracy: images (the tiny ViT on scikit-learn digits) and text (single sentences or pairs).

Text models without a classifier head (sentence encoders such as MiniLM) are scored by a linear probe: a
logistic regression fitted on the frozen, L2-normalised mean-pooled embeddings of the training split,
accuracy on the test split. Models with a head (``*ForSequenceClassification``) are scored by their logits.
Built-in text data: gensim's Pang & Lee polarity sentences (200, fixed 75/25 split); otherwise ``recipe.data``
is a CSV with ``text`` (or ``sentence1`` + ``sentence2``) and ``label`` columns and an optional ``split``
column (``train`` / ``test``; without it a fixed 75/25 split).

Healing: ``supervised`` = cross-entropy on the training split (a temporary linear head for bare encoders);
``distill`` = KL divergence to the teacher's logits at temperature 2 (Hinton et al. 2015), or, for bare
encoders, the relational embedding loss of `similarity` on the unlabelled training texts.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from torch import nn

from catransformers.accuracy.data import (
    digits_split,
    fingerprint_arrays,
    fingerprint_files,
    gensim_file,
    polarity_split,
)
from catransformers.accuracy.embed import encode_texts, sentence_embeddings
from catransformers.accuracy.stats import Interval, mean_items
from catransformers.accuracy.tasks.base import HealObjective, LossFn, Task, autocast
from catransformers.accuracy.tasks.similarity import LeeSimilarity, relational_loss
from catransformers.errors import UserError

KD_TEMPERATURE = 2.0  # Hinton et al. 2015 knowledge distillation; a common choice for small label sets


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, t: float = KD_TEMPERATURE) -> torch.Tensor:
    """KL(teacher || student) of temperature-softened distributions, scaled by t^2."""
    s = nn.functional.log_softmax(student_logits.float() / t, dim=-1)
    p = nn.functional.log_softmax(teacher_logits.float() / t, dim=-1)
    return nn.functional.kl_div(s, p, log_target=True, reduction="batchmean") * t * t


def accuracy_interval(pred: np.ndarray, labels: np.ndarray, seed: int) -> Interval:
    """Top-1 accuracy with its bootstrap interval over the test examples (independent items)."""
    return mean_items(np.asarray(pred) == np.asarray(labels), seed=seed)


class DigitsClassification(Task):
    """Top-1 accuracy of a ViT image classifier on the scikit-learn digits test split (360 images)."""

    name = "digits"
    metric = "accuracy"
    families = ("vit",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.split = digits_split()
        self.x_train = torch.from_numpy(self.split.x_train)
        self.y_train = torch.from_numpy(self.split.y_train)

    def fingerprint(self) -> str:
        s = self.split
        return fingerprint_arrays(s.x_train, s.y_train, s.x_test, s.y_test)

    def _logits(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.device):
            return model(pixel_values=x.to(self.device)).logits.float()

    def score_interval(self, model: nn.Module) -> Interval:
        limit = self.recipe.eval_limit or len(self.split.y_test)
        x = torch.from_numpy(self.split.x_test[:limit])
        model.eval()
        with torch.no_grad():
            pred = torch.cat([self._logits(model, x[i:i + 256]).argmax(-1).cpu() for i in range(0, len(x), 256)])
        return accuracy_interval(pred.numpy(), self.split.y_test[:limit], self.recipe.seed)

    def calibration(self) -> tuple[list[dict], LossFn]:
        n, b = self.recipe.calib_size, self.recipe.batch_size
        dev = self.device
        batches = [{"pixel_values": self.x_train[i:i + b].to(dev), "labels": self.y_train[i:i + b].to(dev)}
                   for i in range(0, n, b)]
        return batches, lambda model, batch: model(**batch).loss

    def teacher_targets(self, teacher: nn.Module) -> torch.Tensor:
        teacher.eval()
        with torch.no_grad():
            return torch.cat([self._logits(teacher, self.x_train[i:i + 256]).cpu()
                              for i in range(0, len(self.x_train), 256)])

    def distill_objective(self, teacher: nn.Module, targets: torch.Tensor | None = None) -> HealObjective:
        targets = (targets if targets is not None else self.teacher_targets(teacher)).to(self.device)

        def loss(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            return kd_loss(self._logits(model, self.x_train[idx]), targets[idx.to(self.device)])

        return HealObjective(len(self.y_train), loss, "logit distillation on digits train images")

    def supervised_objective(self) -> HealObjective:
        def loss(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            target = self.y_train[idx].to(self.device)
            return nn.functional.cross_entropy(self._logits(model, self.x_train[idx]), target)

        return HealObjective(len(self.y_train), loss, "cross-entropy on digits train split")


def read_text_csv(path: str | Path) -> tuple[list[tuple[str, ...]], np.ndarray, np.ndarray]:
    """(texts as 1- or 2-tuples, integer labels, is_test mask) from a CSV; UserError if unreadable."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UserError(f"cannot read dataset {path} ({err})") from None
    if not rows:
        raise UserError(f"dataset {path} is empty; expected columns text (or sentence1,sentence2) and label")
    cols = set(rows[0])
    text_cols = ("sentence1", "sentence2") if {"sentence1", "sentence2"} <= cols else ("text",)
    if not set(text_cols) <= cols or "label" not in cols:
        raise UserError(f"dataset {path} has columns {sorted(cols)}; expected text (or sentence1,sentence2) and label")
    label_names = sorted({r["label"] for r in rows})
    try:
        labels = np.array([int(r["label"]) for r in rows])
    except ValueError:
        labels = np.array([label_names.index(r["label"]) for r in rows])
    texts = [tuple(r[c] for c in text_cols) for r in rows]
    if "split" in cols:
        is_test = np.array([r["split"].strip().lower() in ("test", "validation", "dev") for r in rows])
    else:
        is_test = np.zeros(len(rows), bool)
        is_test[np.random.default_rng(0).permutation(len(rows))[: len(rows) // 4]] = True
    if is_test.all() or not is_test.any():
        raise UserError(f"dataset {path} needs both train and test rows (split column)")
    return texts, labels, is_test


class TextClassification(Task):
    """Accuracy of a text classifier (single sentences or pairs); built-in data: Pang & Lee polarity."""

    name = "text-classification"
    takes_data = True
    metric = "accuracy"
    families = ("bert", "mpnet")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.recipe.data:
            texts, labels, is_test = read_text_csv(self.recipe.data)
            self.train = [texts[i] for i in np.flatnonzero(~is_test)], labels[~is_test]
            self.test = [texts[i] for i in np.flatnonzero(is_test)], labels[is_test]
        else:
            tr_x, tr_y, te_x, te_y = polarity_split()
            self.train = [(t,) for t in tr_x], tr_y
            self.test = [(t,) for t in te_x], te_y
        self.n_labels = int(max(self.train[1].max(), self.test[1].max())) + 1
        self.has_head = hasattr(self.loaded.model, "classifier")

    def fingerprint(self) -> str:
        if self.recipe.data:
            return fingerprint_files(Path(self.recipe.data))
        return fingerprint_files(gensim_file("pang_lee_polarity.cor"))

    def _tok(self, texts: list[tuple[str, ...]], max_len: int) -> dict:
        cols = list(zip(*texts, strict=True))
        batch = self.loaded.processor(*[list(c) for c in cols], padding=True, truncation=True, max_length=max_len,
                                      return_tensors="pt")
        return dict(batch.to(self.device))

    def _embed(self, model: nn.Module, texts: list[tuple[str, ...]]) -> np.ndarray:
        if len(texts[0]) == 1:
            return encode_texts(model, self.loaded.processor, [t[0] for t in texts], self.recipe.eval_seq_len,
                                self.device).cpu().numpy()
        out = []
        with torch.no_grad():
            for i in range(0, len(texts), 32):
                emb = sentence_embeddings(model, self._tok(texts[i:i + 32], self.recipe.eval_seq_len))
                out.append(nn.functional.normalize(emb, dim=-1).cpu().numpy())
        return np.concatenate(out)

    def score_interval(self, model: nn.Module) -> Interval:
        model.eval()
        limit = self.recipe.eval_limit or len(self.test[1])
        test_x, test_y = self.test[0][:limit], self.test[1][:limit]
        with autocast(self.device):
            if self.has_head:
                with torch.no_grad():
                    pred = np.concatenate([model(**self._tok(test_x[i:i + 32], self.recipe.eval_seq_len))
                                           .logits.argmax(-1).cpu().numpy() for i in range(0, len(test_x), 32)])
                return accuracy_interval(pred, test_y, self.recipe.seed)
            from sklearn.linear_model import LogisticRegression

            probe = LogisticRegression(max_iter=2000, C=10.0).fit(self._embed(model, self.train[0]), self.train[1])
            return accuracy_interval(probe.predict(self._embed(model, test_x)), test_y, self.recipe.seed)

    def calibration(self) -> tuple[list[dict], LossFn]:
        n, b = self.recipe.calib_size, self.recipe.batch_size
        texts, labels = self.train[0][:n], self.train[1][:n]
        if self.has_head:
            batches = [{**self._tok(texts[i:i + b], self.recipe.train_seq_len),
                        "labels": torch.as_tensor(labels[i:i + b], device=self.device)}
                       for i in range(0, len(texts), b)]
            return batches, lambda model, batch: model(**batch).loss
        return LeeSimilarity(self.loaded, self.recipe, self.device).calibration()

    def distill_objective(self, teacher: nn.Module, targets: torch.Tensor | None = None) -> HealObjective:
        texts = self.train[0]

        def loss(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            batch = self._tok([texts[i] for i in idx.tolist()], self.recipe.train_seq_len)
            with torch.no_grad():
                t_out = teacher(**batch).logits if self.has_head else sentence_embeddings(teacher, batch)
            if self.has_head:
                return kd_loss(model(**batch).logits, t_out)
            return relational_loss(sentence_embeddings(model, batch), t_out)

        return HealObjective(len(texts), loss, "distillation on the unlabelled training texts")

    def supervised_objective(self) -> HealObjective:
        texts, labels = self.train
        head = None
        extra: list[nn.Parameter] = []
        if not self.has_head:
            width = self.loaded.model.config.hidden_size
            head = nn.Linear(width, self.n_labels).to(self.device)
            extra = list(head.parameters())

        def loss(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            batch = self._tok([texts[i] for i in idx.tolist()], self.recipe.train_seq_len)
            target = torch.as_tensor(labels[idx.numpy()], device=self.device)
            if self.has_head:
                return nn.functional.cross_entropy(model(**batch).logits.float(), target)
            emb = sentence_embeddings(model, batch)
            if head.in_features != emb.shape[-1]:  # pruned hidden width: a head of the pruned width
                head.weight.data = head.weight.data[:, : emb.shape[-1]].contiguous()
                head.in_features = emb.shape[-1]
            return nn.functional.cross_entropy(head(emb), target)

        return HealObjective(len(texts), loss, "cross-entropy on the training split", extra)
