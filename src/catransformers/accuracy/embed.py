"""Sentence embeddings of BERT-family encoders: attention-masked mean pooling (sentence-transformers style)."""

from __future__ import annotations

import torch
from torch import nn


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states where `mask` is 1: (B, T, D), (B, T) -> (B, D)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)


def token_states(model: nn.Module, batch: dict) -> torch.Tensor:
    """Last hidden states of a bare encoder or of the encoder inside a task model."""
    return model.base_model(**batch).last_hidden_state  # base_model is the model itself for a bare BertModel


def sentence_embeddings(model: nn.Module, batch: dict) -> torch.Tensor:
    """Mean-pooled, unnormalised sentence embeddings of a tokenised batch."""
    return mean_pool(token_states(model, batch), batch["attention_mask"]).float()


def encode_texts(model: nn.Module, tokenizer, texts: list[str], max_len: int, device: torch.device,
                 batch_size: int = 32) -> torch.Tensor:
    """L2-normalised embeddings of `texts` (no gradients), shape (N, D)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[i:i + batch_size]), padding=True, truncation=True, max_length=max_len,
                              return_tensors="pt").to(device)
            out.append(nn.functional.normalize(sentence_embeddings(model, dict(batch)), dim=-1))
    return torch.cat(out)
