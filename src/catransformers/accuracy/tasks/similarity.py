"""Semantic similarity of sentence encoders: Pearson r of embedding cosine vs. human ratings (Lee-50).

Score: the 1225 unique document pairs (i < j) of gensim's Lee-50 set; cosine of mean-pooled embeddings
(``eval_seq_len`` tokens, 256 = all-MiniLM-L6-v2's max_seq_length) against ``similarities0-1.txt``.

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
    background_docs,
    fingerprint_files,
    gensim_file,
    lee_docs,
    lee_similarities,
)
from catransformers.accuracy.embed import encode_texts, sentence_embeddings
from catransformers.accuracy.tasks.base import HealObjective, LossFn, Task, autocast

SIMCSE_TEMPERATURE = 0.05  # Gao et al. 2021 (SimCSE) contrastive temperature


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1])


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

    def score(self, model: nn.Module) -> float:
        docs = list(lee_docs())
        limit = self.recipe.eval_limit or len(docs)
        docs = docs[:limit]
        model.eval()
        with autocast(self.device):
            emb = encode_texts(model, self.loaded.processor, docs, self.recipe.eval_seq_len, self.device)
        cos = (emb.float() @ emb.float().T).cpu().numpy()
        iu = np.triu_indices(len(docs), k=1)
        return pearson(cos[iu], lee_similarities()[: len(docs), : len(docs)][iu])

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
