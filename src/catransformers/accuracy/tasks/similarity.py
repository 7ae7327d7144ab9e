"""Semantic similarity of sentence encoders: Pearson r of embedding cosine vs. mean human ratings.

``lee-similarity``: the 1225 unique document pairs (i < j) of gensim's Lee-50 set; cosine of mean-pooled
embeddings (``eval_seq_len`` tokens, 256 = all-MiniLM-L6-v2's max_seq_length) against ``similarities0-1.txt``.
Its 95% interval resamples the 50 *documents* (pairs sharing a document are dependent), so it is wide (about
+-0.08 at r = 0.66).

``human-similarity`` (the default for sentence encoders): the mean of three human-rated sets' Pearson r, Lee-50
(documents), WordSim-353 and SimLex-999 (word pairs, each word embedded alone); 1,402 rated units. Its interval
resamples Lee documents and word pairs independently and averages the three resampled scores (+-0.035).

Healing by distillation (default) on the 300 unlabelled ``lee_background.cor`` documents. A pruned encoder may
have fewer hidden channels than its teacher, so the two embeddings do not share a space; the loss is
*relational*: the MSE between the student's and the teacher's in-batch cosine-similarity matrices (off-diagonal
entries). This is exactly the quantity the task scores (cosine between documents), needs no extra parameters,
and works for any pruned width. The teacher embeddings are computed once per base model and cached.

Importance scores use an unsupervised in-batch contrastive loss: each calibration document is split in two
halves, and each half must pick its other half among the batch (InfoNCE, temperature 0.05 as in SimCSE,
Gao et al. 2021), which has a non-zero gradient at the unpruned model (unlike distillation).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from catransformers.accuracy.data import (
    LEE_DOCS,
    WORD_SETS,
    background_docs,
    fingerprint_files,
    gensim_file,
    lee_docs,
    lee_similarities,
    word_pairs,
)
from catransformers.accuracy.embed import encode_texts, sentence_embeddings
from catransformers.accuracy.stats import (
    Interval,
    bootstrap_pairs_by_doc,
    combine_mean,
    interval,
    pearson_items,
)
from catransformers.accuracy.tasks.base import HealObjective, LossFn, Task, autocast

SIMCSE_TEMPERATURE = 0.05  # Gao et al. 2021 (SimCSE) contrastive temperature


WORD_SEQ_LEN = 16  # tokens per single word (WordPiece splits rare words into a few pieces)


def relational_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """MSE between in-batch cosine-similarity matrices (off-diagonal), any embedding widths."""
    s = nn.functional.normalize(student.float(), dim=-1)
    t = nn.functional.normalize(teacher.float(), dim=-1)
    off = ~torch.eye(len(s), dtype=torch.bool, device=s.device)
    return nn.functional.mse_loss((s @ s.T)[off], (t @ t.T)[off])


class LeeSimilarity(Task):
    name = "lee-similarity"
    metric = "pearson"
    higher_is_better = True
    families = ("bert", "mpnet")

    def fingerprint(self) -> str:
        files = ("lee.cor", "similarities0-1.txt", "lee_background.cor")
        return fingerprint_files(*(gensim_file(f) for f in files))

    def _tok(self, texts: list[str], max_len: int) -> dict:
        batch = self.loaded.processor(texts, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        return dict(batch.to(self.device))

    def _lee(self, model: nn.Module) -> tuple[float, np.ndarray, int]:
        """Lee-50 Pearson r, its resampled values (documents resampled) and the number of documents."""
        docs = list(lee_docs())[: self.recipe.eval_limit or LEE_DOCS]
        model.eval()
        with autocast(self.device):
            emb = encode_texts(model, self.loaded.processor, docs, self.recipe.eval_seq_len, self.device)
        cos = (emb.float() @ emb.float().T).cpu().numpy()
        human = np.triu(lee_similarities()[: len(docs), : len(docs)], k=1)
        point, boot = bootstrap_pairs_by_doc(cos, human + human.T, seed=self.recipe.seed)
        return point, boot, len(docs)

    def score_interval(self, model: nn.Module) -> Interval:
        """Pearson r over the Lee-50 document pairs; the interval resamples documents."""
        return interval(*self._lee(model))

    def calibration(self) -> tuple[list[dict], LossFn]:
        docs = list(background_docs())[: self.recipe.calib_size]
        halves_a, halves_b = [], []
        for doc in docs:
            words = doc.split()
            mid = len(words) // 2
            halves_a.append(" ".join(words[:mid]))
            halves_b.append(" ".join(words[mid:]))
        size = self.recipe.batch_size
        batches = [self._tok(halves_a[i:i + size] + halves_b[i:i + size], self.recipe.train_seq_len)
                   for i in range(0, len(docs), size)]

        def loss_fn(model: nn.Module, batch: dict) -> torch.Tensor:
            emb = nn.functional.normalize(sentence_embeddings(model, batch), dim=-1)
            n = len(emb) // 2
            logits = emb[:n] @ emb[n:].T / SIMCSE_TEMPERATURE
            target = torch.arange(n, device=logits.device)
            return (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2

        return batches, loss_fn

    def teacher_targets(self, teacher: nn.Module) -> torch.Tensor:
        """Teacher sentence embeddings of the background documents (train_seq_len tokens), (300, D)."""
        docs = list(background_docs())
        out = []
        teacher.eval()
        with torch.no_grad(), autocast(self.device):
            for i in range(0, len(docs), 32):
                out.append(sentence_embeddings(teacher, self._tok(docs[i:i + 32], self.recipe.train_seq_len)))
        return torch.cat(out).float().cpu()

    def distill_objective(self, teacher: nn.Module, targets: torch.Tensor | None = None) -> HealObjective:
        docs = list(background_docs())
        if targets is None:
            targets = self.teacher_targets(teacher)
        targets = targets.to(self.device)

        def loss(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
            batch = self._tok([docs[i] for i in idx.tolist()], self.recipe.train_seq_len)
            return relational_loss(sentence_embeddings(model, batch), targets[idx.to(self.device)])

        return HealObjective(len(docs), loss, "relational embedding distillation on lee_background.cor")


def word_cosines(model: nn.Module, tokenizer, left: tuple[str, ...], right: tuple[str, ...],
                 device: torch.device) -> np.ndarray:
    """Cosine of the mean-pooled embeddings of each word pair (every distinct word encoded once)."""
    vocab = sorted(set(left) | set(right))
    with autocast(device):
        emb = encode_texts(model, tokenizer, vocab, WORD_SEQ_LEN, device, batch_size=128).float().cpu().numpy()
    index = {w: i for i, w in enumerate(vocab)}
    a, b = emb[[index[w] for w in left]], emb[[index[w] for w in right]]
    return (a * b).sum(1)


class HumanSimilarity(LeeSimilarity):
    """Mean Pearson r over Lee-50 (documents), WordSim-353 and SimLex-999 (word pairs); see the module doc."""

    name = "human-similarity"
    metric = "pearson"  # the mean of three Pearson r (same scale and direction as one)

    def fingerprint(self) -> str:
        files = ("lee.cor", "similarities0-1.txt", "lee_background.cor", *(f for f, _ in WORD_SETS.values()))
        return fingerprint_files(*(gensim_file(f) for f in files))

    def score_parts(self, model: nn.Module) -> dict[str, Interval]:
        """Each set's Pearson r and interval, plus their mean (``mean``) with its interval."""
        parts = {"lee50": self._lee(model)}
        for i, name in enumerate(WORD_SETS, start=1):
            pairs = word_pairs(name)
            n = self.recipe.eval_limit or len(pairs.human)
            cos = word_cosines(model, self.loaded.processor, pairs.left[:n], pairs.right[:n], self.device)
            point, boot = pearson_items(cos, pairs.human[:n], seed=self.recipe.seed + 7919 * i)
            parts[name] = (point, boot, len(cos))
        out = {k: interval(*v) for k, v in parts.items()}
        out["mean"] = combine_mean(list(parts.values()))
        return out

    def score_interval(self, model: nn.Module) -> Interval:
        return self.score_parts(model)["mean"]
