"""Where each prunable structure lives in a Hugging Face model, per family, and the spec of a loaded model.

A `Stack` names, for one encoder of a loaded model, the module paths of its layers, attention and FFN
projections, norms and every other place the residual-stream (hidden) width occurs. The pruner and the
importance scorer work only through stacks, so adding a family means adding one `_stacks_*` function.
Supported: BertModel / BertFor* (also MPNet-free BERT-likes), ViTModel / ViTForImageClassification,
CLIPModel, LlamaModel / LlamaForCausalLM (transformers 5.x module names).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from torch import nn

from catransformers.errors import UserError
from catransformers.models import REGISTRY, EncoderSpec, ModelSpec, spec_from_hf_config


@dataclass(frozen=True)
class Stack:
    """One encoder's structure: paths relative to the model root (layer paths relative to a layer)."""

    name: str  # encoder name in the ModelSpec ("main", "text", "vision")
    layers: str  # nn.ModuleList of the Transformer layers
    config: str  # attribute path of the (sub-)config describing this encoder ("" = model.config)
    attn: str  # per layer: the attention module whose head attributes are updated
    q: str
    k: str
    v: str
    o: str
    up: str
    down: str
    gate: str | None = None  # SwiGLU gate projection
    layer_norms: tuple[str, ...] = ()  # per layer norms over the hidden width
    embeddings: tuple[str, ...] = ()  # nn.Embedding whose columns are hidden channels
    norms: tuple[str, ...] = ()  # LayerNorm / RMSNorm over hidden outside the layers
    reads: tuple[str, ...] = ()  # nn.Linear reading the hidden width (input columns)
    writes: tuple[str, ...] = ()  # nn.Linear / nn.Conv2d writing the hidden width (output rows / channels)
    params: tuple[str, ...] = ()  # raw nn.Parameter with hidden as last dim (class token, position table)
    tied: tuple[tuple[str, str], ...] = ()  # (module holding weight, module it is tied to)
    extra_config: dict[str, str] = field(default_factory=dict)  # config key -> "hidden" kept equal to hidden


def get_module(root: nn.Module, path: str) -> nn.Module:
    """The submodule at dotted `path` ("" is the root)."""
    return root.get_submodule(path) if path else root


def get_attr(root: object, path: str) -> object:
    obj = root
    for part in filter(None, path.split(".")):
        obj = getattr(obj, part)
    return obj


def layer_list(model: nn.Module, stack: Stack) -> nn.ModuleList:
    return get_module(model, stack.layers)  # type: ignore[return-value]


def stack_config(model: nn.Module, stack: Stack):
    return get_attr(model.config, stack.config)


def family_of(model: nn.Module) -> str:
    """The family name of a loaded model, from its config's model_type."""
    kind = getattr(model.config, "model_type", None)
    if kind in ("bert", "vit", "clip", "llama"):
        return kind
    raise UserError(
        f"model class {type(model).__name__} (model_type {kind!r}) is not supported for pruning; "
        "supported: BERT, ViT, CLIP, Llama"
    )


def _bert_stacks(model: nn.Module) -> list[Stack]:
    base = "bert." if hasattr(model, "bert") else ""
    reads, writes = [], []
    if getattr(get_module(model, base.rstrip(".")), "pooler", None) is not None:
        reads.append(f"{base}pooler.dense")
        writes.append(f"{base}pooler.dense")
    if isinstance(getattr(model, "classifier", None), nn.Linear):
        reads.append("classifier")
    if base and not reads and any(n.startswith("cls.") for n, _ in model.named_modules()):
        raise UserError(f"{type(model).__name__}: only BertModel and BertForSequenceClassification-style heads prune")
    e = f"{base}embeddings."
    return [Stack(
        name="main", layers=f"{base}encoder.layer", config="", attn="attention.self",
        q="attention.self.query", k="attention.self.key", v="attention.self.value", o="attention.output.dense",
        up="intermediate.dense", down="output.dense", layer_norms=("attention.output.LayerNorm", "output.LayerNorm"),
        embeddings=(f"{e}word_embeddings", f"{e}position_embeddings", f"{e}token_type_embeddings"),
        norms=(f"{e}LayerNorm",), reads=tuple(reads), writes=tuple(writes),
    )]


def _vit_stacks(model: nn.Module) -> list[Stack]:
    base = "vit." if hasattr(model, "vit") else ""
    root = get_module(model, base.rstrip("."))
    reads, writes, extra = [], [], {}
    if getattr(root, "pooler", None) is not None:
        reads.append(f"{base}pooler.dense")
        if model.config.pooler_output_size == model.config.hidden_size:
            writes.append(f"{base}pooler.dense")
            extra["pooler_output_size"] = "hidden"
    if isinstance(getattr(model, "classifier", None), nn.Linear):
        reads.append("classifier")
    e = f"{base}embeddings."
    params = [f"{e}cls_token", f"{e}position_embeddings"]
    if getattr(root.embeddings, "mask_token", None) is not None:
        params.append(f"{e}mask_token")
    return [Stack(
        name="vision", layers=f"{base}layers", config="", attn="attention",
        q="attention.q_proj", k="attention.k_proj", v="attention.v_proj", o="attention.o_proj",
        up="mlp.fc1", down="mlp.fc2", layer_norms=("layernorm_before", "layernorm_after"),
        norms=(f"{base}layernorm",), writes=(f"{e}patch_embeddings.projection", *writes), reads=tuple(reads),
        params=tuple(params), extra_config=extra,
    )]


def _clip_layer(name: str, prefix: str, config: str, **kw) -> Stack:
    return Stack(
        name=name, layers=f"{prefix}encoder.layers", config=config, attn="self_attn",
        q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.out_proj",
        up="mlp.fc1", down="mlp.fc2", layer_norms=("layer_norm1", "layer_norm2"), **kw,
    )


def _clip_stacks(model: nn.Module) -> list[Stack]:
    if not hasattr(model, "text_model") or not hasattr(model, "vision_model"):
        raise UserError(f"{type(model).__name__}: only the two-tower CLIPModel is supported for pruning")
    t, v = "text_model.", "vision_model."
    text = _clip_layer(
        "text", t, "text_config", embeddings=(f"{t}embeddings.token_embedding", f"{t}embeddings.position_embedding"),
        norms=(f"{t}final_layer_norm",), reads=("text_projection",),
    )
    vision = _clip_layer(
        "vision", v, "vision_config", embeddings=(f"{v}embeddings.position_embedding",),
        norms=(f"{v}pre_layrnorm", f"{v}post_layernorm"), reads=("visual_projection",),
        writes=(f"{v}embeddings.patch_embedding",), params=(f"{v}embeddings.class_embedding",),
    )
    return [text, vision]


def _llama_stacks(model: nn.Module) -> list[Stack]:
    cfg = model.config
    if getattr(cfg, "attention_bias", False) or getattr(cfg, "mlp_bias", False):
        raise UserError("Llama models with attention_bias / mlp_bias are not supported for pruning")
    base = "model." if hasattr(model, "model") else ""
    reads, tied = [], []
    if isinstance(getattr(model, "lm_head", None), nn.Linear):
        reads.append("lm_head")
        if model.lm_head.weight is get_module(model, f"{base}embed_tokens").weight:
            tied.append(("lm_head", f"{base}embed_tokens"))
    return [Stack(
        name="main", layers=f"{base}layers", config="", attn="self_attn",
        q="self_attn.q_proj", k="self_attn.k_proj", v="self_attn.v_proj", o="self_attn.o_proj",
        up="mlp.up_proj", gate="mlp.gate_proj", down="mlp.down_proj",
        layer_norms=("input_layernorm", "post_attention_layernorm"), embeddings=(f"{base}embed_tokens",),
        norms=(f"{base}norm",), reads=tuple(reads), tied=tuple(tied),
    )]


_STACKS = {"bert": _bert_stacks, "vit": _vit_stacks, "clip": _clip_stacks, "llama": _llama_stacks}


def stacks_of(model: nn.Module) -> list[Stack]:
    """The prunable stacks (encoders) of `model`."""
    return _STACKS[family_of(model)](model)


# ---- per-layer attention geometry -----------------------------------------------------------------------


def attn_shape(model: nn.Module, stack: Stack, layer: nn.Module) -> tuple[int, int, int]:
    """(query heads, kv heads, head_dim) of one layer, read from the module's weights and attributes."""
    attn = get_module(layer, stack.attn)
    family = family_of(model)
    head_dim = attn.attention_head_size if family == "bert" else attn.head_dim
    heads = get_module(layer, stack.q).out_features // head_dim
    kv = get_module(layer, stack.k).out_features // head_dim
    return heads, kv, head_dim


def set_attn_heads(model: nn.Module, stack: Stack, layer: nn.Module, heads: int, head_dim: int) -> None:
    """Make a layer's attention module compute with `heads` heads of size `head_dim` (hidden may differ)."""
    attn = get_module(layer, stack.attn)
    family = family_of(model)
    if family == "bert":
        attn.num_attention_heads = heads
        attn.attention_head_size = head_dim
        attn.all_head_size = heads * head_dim
        attn.scaling = head_dim**-0.5
    elif family == "vit":
        attn.num_attention_heads = heads
        attn.head_dim = head_dim
        attn.scaling = head_dim**-0.5
    elif family == "clip":
        attn.num_heads = heads
        attn.head_dim = head_dim
        attn.scale = head_dim**-0.5
        attn.embed_dim = get_module(layer, stack.o).out_features
        layer.embed_dim = attn.embed_dim
    else:  # llama: num_key_value_groups is unchanged because whole query groups are removed
        attn.head_dim = head_dim
        attn.scaling = head_dim**-0.5


# ---- spec of a loaded model ----------------------------------------------------------------------------


def _measured(model: nn.Module, stack: Stack, enc: EncoderSpec) -> EncoderSpec:
    layers = layer_list(model, stack)
    first = layers[0]
    heads, kv, head_dim = attn_shape(model, stack, first)
    hidden = get_module(first, stack.o).out_features
    return replace(enc, layers=len(layers), hidden=hidden, ffn=get_module(first, stack.up).out_features,
                   heads=heads, kv_heads=kv, head_dim=head_dim)


def _parsable(cfg: dict) -> dict:
    """`cfg` with any (nested) hidden_size that heads do not divide made parsable by the config reader.

    A pruned BERT / CLIP whose heads x head size differs from its hidden width keeps the original config values
    for the head size; the reader would reject it. Its real heads, head size and widths are measured from the
    modules afterwards (`_measured`), so one head stands in here.
    """
    out = {k: _parsable(v) if isinstance(v, dict) else v for k, v in cfg.items()}
    hidden, heads = out.get("hidden_size"), out.get("num_attention_heads")
    if isinstance(hidden, int) and isinstance(heads, int) and heads and hidden % heads and not out.get("head_dim"):
        out["num_attention_heads"] = 1
        if "num_key_value_heads" in out:
            out["num_key_value_heads"] = 1
    return out


def spec_of_model(model: nn.Module, model_id: str) -> ModelSpec:
    """The ModelSpec of a loaded Hugging Face model, built by the same rules as `catransformers.models`.

    Dimensions are read from the model's modules (so a uniformly pruned model reports its pruned shape);
    block counts, hf_id and source come from the registry when `model_id` is registered. A LlamaModel
    without LM head is described with ``tie_word_embeddings=True`` (no separate head is counted).
    """
    stacks = stacks_of(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.json"
        path.write_text(json.dumps(_parsable(model.config.to_dict()), default=str))
        spec = spec_from_hf_config(path, model_id=model_id)
    encoders = tuple(_measured(model, s, spec.encoder(s.name)) for s in stacks)
    family = spec.family
    extra: dict = {}
    if family == "bert":
        root = getattr(model, "bert", model)
        extra["has_pooler"] = getattr(root, "pooler", None) is not None
        classifier = getattr(model, "classifier", None)
        extra["num_labels"] = classifier.out_features if isinstance(classifier, nn.Linear) else None
        types = root.embeddings.token_type_embeddings.num_embeddings
        if types != 2:
            raise UserError(f"{model_id}: BERT with {types} token types; the spec layer assumes 2")
    elif family == "vit":
        root = getattr(model, "vit", model)
        extra["has_pooler"] = getattr(root, "pooler", None) is not None
        classifier = getattr(model, "classifier", None)
        extra["num_labels"] = classifier.out_features if isinstance(classifier, nn.Linear) else None
    elif family == "llama":
        head = getattr(model, "lm_head", None)
        extra["tie_word_embeddings"] = head is None or bool(stacks[0].tied)
    elif family == "clip":
        extra["projection_dim"] = model.config.projection_dim
    extra["source"] = f"{type(model).__name__} loaded in memory (dimensions read from its modules)"
    if model_id in REGISTRY:
        reg = REGISTRY[model_id]
        extra.update(block_counts=dict(reg.block_counts), hf_id=reg.hf_id, source=reg.source)
    return replace(spec, encoders=encoders, **extra)


def hidden_width(model: nn.Module, stack: Stack) -> int:
    return get_module(layer_list(model, stack)[0], stack.o).out_features


def torch_param_count(model: nn.Module) -> int:
    """Distinct parameters of a torch model (tied tensors counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


__all__ = [
    "Stack", "attn_shape", "family_of", "get_module", "hidden_width", "layer_list", "set_attn_heads", "spec_of_model",
    "stack_config", "stacks_of", "torch_param_count",
]
