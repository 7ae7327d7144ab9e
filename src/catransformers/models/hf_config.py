"""Build a ModelSpec from a local Hugging Face ``config.json`` (CLIP, BERT, MPNet, ViT, Llama families)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from catransformers.errors import UserError
from catransformers.models.registry import CLIP_BLOCKS, DEFAULT_BLOCKS
from catransformers.models.spec import EncoderSpec, ModelSpec

_ACT = {"gelu": "gelu", "gelu_new": "gelu", "quick_gelu": "quick_gelu", "silu": "silu", "swish": "silu",
        "relu": "relu", "gelu_pytorch_tanh": "gelu"}


def _act(cfg: dict) -> str:
    act = cfg.get("hidden_act", "gelu")
    return _ACT.get(act, "gelu") if isinstance(act, str) else "gelu"


# Sanity ranges of a Transformer config.json (stated limits, well beyond any released model).
_MAX_DIM = 1 << 20
_MAX_LAYERS = 1024


class _Dims:
    """Typed reads of one config.json table: whole positive numbers in range, or a one-line UserError."""

    def __init__(self, cfg: Any, where: str) -> None:
        if not isinstance(cfg, dict):
            raise UserError(f"{where} must be a JSON object, not {type(cfg).__name__}")
        self.cfg, self.where = cfg, where

    def int(self, key: str, default: int | None = None, high: int = _MAX_DIM) -> int:
        if key not in self.cfg or self.cfg[key] is None:
            if default is None:
                raise UserError(f"{self.where} lacks '{key}'")
            return default
        v = self.cfg[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or not 1 <= v <= high:
            raise UserError(f"{self.where}: '{key}' = {v!r} must be a whole number from 1 to {high}")
        return int(v)

    def table(self, key: str) -> _Dims:
        return _Dims(self.cfg.get(key), f"{self.where} '{key}'")

    def head_dim(self, hidden: int, heads: int) -> int:
        if "head_dim" in self.cfg and self.cfg["head_dim"] is not None:
            return self.int("head_dim")
        if hidden % heads:
            raise UserError(f"{self.where}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}")
        return hidden // heads


def _text_encoder(d: _Dims, name: str, seq_len: int) -> EncoderSpec:
    hidden, heads = d.int("hidden_size"), d.int("num_attention_heads")
    return EncoderSpec(
        name=name, kind="text", layers=d.int("num_hidden_layers", high=_MAX_LAYERS), hidden=hidden,
        ffn=d.int("intermediate_size"), heads=heads, head_dim=d.head_dim(hidden, heads), kv_heads=heads,
        seq_len=seq_len, activation=_act(d.cfg), vocab_size=d.int("vocab_size"),
        max_positions=d.int("max_position_embeddings", 512),
    )


def _vision_encoder(d: _Dims) -> EncoderSpec:
    hidden, heads = d.int("hidden_size"), d.int("num_attention_heads")
    image, patch = d.int("image_size", 224), d.int("patch_size", 16)
    if patch > image:
        raise UserError(f"{d.where}: patch_size {patch} is larger than image_size {image}")
    tokens = (image // patch) ** 2 + 1
    return EncoderSpec(
        name="vision", kind="vision", layers=d.int("num_hidden_layers", high=_MAX_LAYERS), hidden=hidden,
        ffn=d.int("intermediate_size"), heads=heads, head_dim=d.head_dim(hidden, heads), kv_heads=heads,
        seq_len=tokens, activation=_act(d.cfg), max_positions=tokens, image_size=image, patch_size=patch,
        channels=d.int("num_channels", 3, high=64),
    )


def spec_from_hf_config(path: str | Path, model_id: str | None = None) -> ModelSpec:
    """Read `path` (a config.json or a folder holding one) and return its spec; a malformed file is a UserError."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"no Hugging Face config at {path}; pass a folder with config.json or a model id") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a config.json") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text file (a Hugging Face config.json is JSON)") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON ({err.msg} at line {err.lineno})") from None
    d = _Dims(cfg, str(path))
    kind = cfg.get("model_type")
    mid = model_id or path.parent.name or "local"
    source = f"local Hugging Face config {path}"
    if kind == "clip":
        tc = d.table("text_config")
        text = _text_encoder(tc, "text", tc.int("max_position_embeddings", 77))
        vision = _vision_encoder(d.table("vision_config"))
        return ModelSpec(
            id=mid, family="clip", encoders=(text, vision), source=source,
            projection_dim=d.int("projection_dim", 512),
            block_counts={"text": CLIP_BLOCKS, "vision": CLIP_BLOCKS},
        )
    if kind in ("bert", "mpnet"):
        enc = _text_encoder(d, "main", min(128, d.int("max_position_embeddings", 512)))
        return ModelSpec(id=mid, family="bert" if kind == "bert" else "mpnet", encoders=(enc,), source=source,
                         has_pooler=True, block_counts={"main": DEFAULT_BLOCKS})
    if kind == "vit":
        labels = cfg.get("id2label")
        n_labels = len(labels) if isinstance(labels, dict) and labels else None
        return ModelSpec(id=mid, family="vit", encoders=(_vision_encoder(d),), source=source,
                         num_labels=n_labels, block_counts={"vision": DEFAULT_BLOCKS})
    if kind == "llama":
        hidden, heads = d.int("hidden_size"), d.int("num_attention_heads")
        kv_heads = d.int("num_key_value_heads", heads)
        if heads % kv_heads:
            raise UserError(f"{path}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}")
        enc = EncoderSpec(
            name="main", kind="decoder", layers=d.int("num_hidden_layers", high=_MAX_LAYERS), hidden=hidden,
            ffn=d.int("intermediate_size"), heads=heads, head_dim=d.head_dim(hidden, heads), kv_heads=kv_heads,
            seq_len=512, activation=_act(cfg), gated_ffn=True, norm="rmsnorm", vocab_size=d.int("vocab_size"),
            causal=True,
        )
        return ModelSpec(id=mid, family="llama", encoders=(enc,), source=source,
                         tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
                         block_counts={"main": DEFAULT_BLOCKS})
    raise UserError(f"{path}: model_type {kind!r} is not supported; supported: clip, bert, mpnet, vit, llama")
