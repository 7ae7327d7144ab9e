"""Build a ModelSpec from a local Hugging Face ``config.json`` (CLIP, BERT, MPNet, ViT, Llama families)."""

from __future__ import annotations

import json
from pathlib import Path

from catransformers.errors import UserError
from catransformers.models.registry import CLIP_BLOCKS, DEFAULT_BLOCKS
from catransformers.models.spec import EncoderSpec, ModelSpec

_ACT = {"gelu": "gelu", "gelu_new": "gelu", "quick_gelu": "quick_gelu", "silu": "silu", "swish": "silu",
        "relu": "relu", "gelu_pytorch_tanh": "gelu"}


def _act(cfg: dict) -> str:
    return _ACT.get(cfg.get("hidden_act", "gelu"), "gelu")


def _text_encoder(cfg: dict, name: str, seq_len: int) -> EncoderSpec:
    heads = cfg["num_attention_heads"]
    return EncoderSpec(
        name=name, kind="text", layers=cfg["num_hidden_layers"], hidden=cfg["hidden_size"],
        ffn=cfg["intermediate_size"], heads=heads, head_dim=cfg["hidden_size"] // heads, kv_heads=heads,
        seq_len=seq_len, activation=_act(cfg), vocab_size=cfg["vocab_size"],
        max_positions=cfg.get("max_position_embeddings"),
    )


def _vision_encoder(cfg: dict) -> EncoderSpec:
    heads = cfg["num_attention_heads"]
    image, patch = cfg.get("image_size", 224), cfg.get("patch_size", 16)
    tokens = (image // patch) ** 2 + 1
    return EncoderSpec(
        name="vision", kind="vision", layers=cfg["num_hidden_layers"], hidden=cfg["hidden_size"],
        ffn=cfg["intermediate_size"], heads=heads, head_dim=cfg["hidden_size"] // heads, kv_heads=heads,
        seq_len=tokens, activation=_act(cfg), max_positions=tokens, image_size=image, patch_size=patch,
        channels=cfg.get("num_channels", 3),
    )


def spec_from_hf_config(path: str | Path, model_id: str | None = None) -> ModelSpec:
    """Read `path` (a config.json or a folder holding one) and return its spec."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        cfg = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"no Hugging Face config at {path}; pass a folder with config.json or a model id") from None
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON ({err.msg} at line {err.lineno})") from None
    kind = cfg.get("model_type")
    mid = model_id or path.parent.name or "local"
    source = f"local Hugging Face config {path}"
    try:
        if kind == "clip":
            text = _text_encoder(cfg["text_config"], "text", cfg["text_config"].get("max_position_embeddings", 77))
            vision = _vision_encoder(cfg["vision_config"])
            return ModelSpec(
                id=mid, family="clip", encoders=(text, vision), source=source,
                projection_dim=cfg.get("projection_dim", 512),
                block_counts={"text": CLIP_BLOCKS, "vision": CLIP_BLOCKS},
            )
        if kind in ("bert", "mpnet"):
            enc = _text_encoder(cfg, "main", min(128, cfg.get("max_position_embeddings", 512)))
            return ModelSpec(id=mid, family="bert" if kind == "bert" else "mpnet", encoders=(enc,), source=source,
                             has_pooler=True, block_counts={"main": DEFAULT_BLOCKS})
        if kind == "vit":
            labels = len(cfg.get("id2label", {})) or None
            return ModelSpec(id=mid, family="vit", encoders=(_vision_encoder(cfg),), source=source,
                             num_labels=labels, block_counts={"vision": DEFAULT_BLOCKS})
        if kind == "llama":
            heads = cfg["num_attention_heads"]
            enc = EncoderSpec(
                name="main", kind="decoder", layers=cfg["num_hidden_layers"], hidden=cfg["hidden_size"],
                ffn=cfg["intermediate_size"], heads=heads,
                head_dim=cfg.get("head_dim") or cfg["hidden_size"] // heads,
                kv_heads=cfg.get("num_key_value_heads") or heads, seq_len=512, activation=_act(cfg),
                gated_ffn=True, norm="rmsnorm", vocab_size=cfg["vocab_size"], causal=True,
            )
            return ModelSpec(id=mid, family="llama", encoders=(enc,), source=source,
                             tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
                             block_counts={"main": DEFAULT_BLOCKS})
    except KeyError as err:
        raise UserError(f"{path}: '{kind}' config lacks field {err.args[0]}") from None
    raise UserError(f"{path}: model_type '{kind}' is not supported; supported: clip, bert, mpnet, vit, llama")
