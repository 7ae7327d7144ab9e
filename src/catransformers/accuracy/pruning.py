"""Real structured pruning of Hugging Face transformers models, and saving / loading pruned checkpoints.

`prune_model(model, spec_from, params, importance)` returns a new model (the input is left untouched) with,
per encoder, the chosen layers, attention heads (true removal of Q/K/V output rows and output-projection
input columns, head size kept; grouped-query attention loses whole query groups with their KV head), FFN
neurons (up, gate and down consistently) and hidden channels (every embedding, class token, position table,
norm, projection in and out, pooler, classifier, CLIP projection head, Llama LM head incl. tied embeddings).
Every surviving pretrained weight is kept. Which units survive is chosen by `Importance` (top-k, original
order kept); without importance the first units are kept (the "remove from the end" baseline). Its
parameter count equals ``param_count(prune_spec(spec_from, params))`` (checked on every call).

Checkpoints (`save_pruned` / `load_pruned`): always ``config.json`` + safetensors written by
``save_pretrained`` plus ``catransformers_pruned.json`` (per-layer heads, KV heads, head size, FFN width).

- Standard checkpoint, loads with ``AutoModel.from_pretrained`` / the family class and no custom code:
  Llama (config carries ``head_dim`` and ``num_key_value_heads``: every pruned shape is expressible), ViT
  (its attention reads ``config.head_dim``), and BERT / CLIP whenever ``heads * head_dim == hidden``
  (e.g. only layers / FFN pruned, or heads and hidden pruned in the same proportion).
- Otherwise (BERT / CLIP with ``heads * head_dim != hidden``, whose attention derives the head size from
  ``hidden / heads``): `load_pruned(path)` rebuilds the architecture from the json and loads the safetensors.
  ``from_pretrained`` on such a folder fails with a size-mismatch error rather than loading wrong weights.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
import transformers
from safetensors.torch import load_file
from torch import nn

from catransformers.accuracy.importance import EncoderImportance, Importance
from catransformers.accuracy.prune_arch import (
    Stack,
    attn_shape,
    family_of,
    get_module,
    layer_list,
    set_attn_heads,
    spec_of_model,
    stack_config,
    stacks_of,
    torch_param_count,
)
from catransformers.errors import UserError
from catransformers.models import ModelSpec, PruneParams, param_count, prune_spec

LAYOUT_FILE = "catransformers_pruned.json"


# ---- slicing primitives (keep the surviving pretrained values, fix the module's size attributes) ---------


def _param(t: torch.Tensor, like: nn.Parameter) -> nn.Parameter:
    return nn.Parameter(t.contiguous(), requires_grad=like.requires_grad)


@torch.no_grad()
def _slice_out(mod: nn.Module, idx: torch.Tensor) -> None:
    """Keep output rows (Linear) or output channels (Conv2d) `idx`, with their biases."""
    mod.weight = _param(mod.weight.index_select(0, idx.to(mod.weight.device)), mod.weight)
    if getattr(mod, "bias", None) is not None:
        mod.bias = _param(mod.bias.index_select(0, idx.to(mod.bias.device)), mod.bias)
    _fit(mod)


@torch.no_grad()
def _slice_in(mod: nn.Linear, idx: torch.Tensor) -> None:
    """Keep input columns `idx` of a Linear."""
    mod.weight = _param(mod.weight.index_select(1, idx.to(mod.weight.device)), mod.weight)
    _fit(mod)


@torch.no_grad()
def _slice_vector(mod: nn.Module, idx: torch.Tensor) -> None:
    """Keep channels `idx` of a norm (weight and bias) or the columns of an nn.Embedding."""
    if isinstance(mod, nn.Embedding):
        mod.weight = _param(mod.weight.index_select(1, idx.to(mod.weight.device)), mod.weight)
    else:
        for name in ("weight", "bias"):
            p = getattr(mod, name, None)
            if isinstance(p, nn.Parameter):
                setattr(mod, name, _param(p.index_select(0, idx.to(p.device)), p))
    _fit(mod)


def _fit(mod: nn.Module) -> None:
    """Set a module's size attributes from its weight (forward passes use them, e.g. LayerNorm)."""
    w = getattr(mod, "weight", None)
    if w is None:
        return
    if isinstance(mod, nn.Linear):
        mod.out_features, mod.in_features = w.shape
    elif isinstance(mod, nn.Conv2d):
        mod.out_channels, mod.in_channels = w.shape[0], w.shape[1] * mod.groups
    elif isinstance(mod, nn.Embedding):
        mod.num_embeddings, mod.embedding_dim = w.shape
    elif isinstance(mod, nn.LayerNorm):
        mod.normalized_shape = tuple(w.shape)


@torch.no_grad()
def _slice_raw(model: nn.Module, path: str, idx: torch.Tensor) -> None:
    owner, _, attr = path.rpartition(".")
    mod = get_module(model, owner)
    p = getattr(mod, attr)
    setattr(mod, attr, _param(p.index_select(p.dim() - 1, idx.to(p.device)), p))


def _set_module(root: nn.Module, path: str, new: nn.Module) -> None:
    owner, _, attr = path.rpartition(".")
    setattr(get_module(root, owner), attr, new)


# ---- which units survive ----------------------------------------------------------------------------------


def _top(scores: np.ndarray | None, n: int, k: int) -> torch.Tensor:
    """Indices of the `k` highest scores in original order (the first `k` without scores; ties keep the lower)."""
    if k > n:
        raise ValueError(f"cannot keep {k} of {n} units")
    if scores is None:
        return torch.arange(k)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape[0] != n:
        raise UserError(f"importance scores have {scores.shape[0]} entries where the model has {n}; "
                        "recompute importance for this base model")
    return torch.as_tensor(np.sort(np.argsort(-scores, kind="stable")[:k]), dtype=torch.long)


def _head_rows(heads: torch.Tensor, head_dim: int) -> torch.Tensor:
    return (heads[:, None] * head_dim + torch.arange(head_dim)[None, :]).reshape(-1)


# ---- the pruner ---------------------------------------------------------------------------------------------


def _prune_layer(model: nn.Module, stack: Stack, layer: nn.Module, imp: EncoderImportance | None, orig: int,
                 heads_keep: int, ffn_keep: int) -> None:
    heads, kv, head_dim = attn_shape(model, stack, layer)
    group = heads // kv
    scores = None if imp is None else np.asarray(imp.heads[orig], dtype=np.float64)
    if group > 1:  # grouped-query attention: whole query groups go, with their KV head
        group_scores = None if scores is None else scores.reshape(kv, group).sum(axis=1)
        kv_idx = _top(group_scores, kv, heads_keep // group)
        q_idx = (kv_idx[:, None] * group + torch.arange(group)[None, :]).reshape(-1)
    else:
        q_idx = kv_idx = _top(scores, heads, heads_keep)
    if len(q_idx) < heads:
        q_rows, kv_rows = _head_rows(q_idx, head_dim), _head_rows(kv_idx, head_dim)
        _slice_out(get_module(layer, stack.q), q_rows)
        _slice_out(get_module(layer, stack.k), kv_rows)
        _slice_out(get_module(layer, stack.v), kv_rows)
        _slice_in(get_module(layer, stack.o), q_rows)
        set_attn_heads(model, stack, layer, len(q_idx), head_dim)
    ffn = get_module(layer, stack.up).out_features
    if ffn_keep < ffn:
        keep = _top(None if imp is None else imp.ffn[orig], ffn, ffn_keep)
        _slice_out(get_module(layer, stack.up), keep)
        if stack.gate:
            _slice_out(get_module(layer, stack.gate), keep)
        _slice_in(get_module(layer, stack.down), keep)


def _prune_hidden(model: nn.Module, stack: Stack, keep: torch.Tensor) -> None:
    for layer in layer_list(model, stack):
        for path in (stack.q, stack.k, stack.v, stack.up, *([stack.gate] if stack.gate else [])):
            _slice_in(get_module(layer, path), keep)
        for path in (stack.o, stack.down):
            _slice_out(get_module(layer, path), keep)
        for path in stack.layer_norms:
            _slice_vector(get_module(layer, path), keep)
    for path in (*stack.embeddings, *stack.norms):
        _slice_vector(get_module(model, path), keep)
    for path in stack.reads:
        _slice_in(get_module(model, path), keep)
    for path in stack.writes:
        _slice_out(get_module(model, path), keep)
    for path in stack.params:
        _slice_raw(model, path, keep)
    for head, source in stack.tied:  # e.g. Llama lm_head shares the token table: share it again
        get_module(model, head).weight = get_module(model, source).weight


def _update_config(model: nn.Module, stack: Stack, kept_layers: list[int]) -> None:
    cfg = stack_config(model, stack)
    layers = layer_list(model, stack)
    heads, kv, head_dim = attn_shape(model, stack, layers[0])
    hidden = get_module(layers[0], stack.o).out_features
    cfg.num_hidden_layers = len(layers)
    cfg.hidden_size = hidden
    cfg.intermediate_size = get_module(layers[0], stack.up).out_features
    cfg.num_attention_heads = heads
    family = family_of(model)
    if family == "llama":
        cfg.num_key_value_heads = kv
        cfg.head_dim = head_dim
    if family == "vit":
        cfg.head_dim = head_dim
    if isinstance(getattr(cfg, "layer_types", None), list):
        cfg.layer_types = [cfg.layer_types[i] for i in kept_layers]
    for key in stack.extra_config:
        setattr(cfg, key, hidden)
    if family == "clip":
        setattr(model, f"{stack.name}_embed_dim", hidden)


def _check_spec(model: nn.Module, spec: ModelSpec) -> None:
    """`spec` must describe `model` (same encoders and dimensions), else the pruned shape would be wrong."""
    dims = ("layers", "hidden", "ffn", "heads", "kv_heads", "head_dim")
    actual = spec_of_model(model, spec.id)
    for enc in actual.encoders:
        if enc.name not in spec.encoder_names:
            raise UserError(f"spec '{spec.id}' has no encoder '{enc.name}' that {type(model).__name__} has")
        want = spec.encoder(enc.name)
        diff = [f"{d} {getattr(want, d)} vs {getattr(enc, d)}" for d in dims if getattr(want, d) != getattr(enc, d)]
        if diff:
            raise UserError(f"spec '{spec.id}' does not describe this {type(model).__name__} "
                            f"(encoder {enc.name}: {', '.join(diff)}); build it with spec_of_model(model, id)")


def _require_float_linears(model: nn.Module) -> None:
    """Pruning slices float weights: packed / quantized modules (e.g. GGUF kept packed) cannot be sliced."""
    for stack in stacks_of(model):
        for layer in layer_list(model, stack):
            for path in (stack.q, stack.k, stack.v, stack.o, stack.up, stack.down, stack.gate):
                mod = get_module(layer, path) if path else None
                if mod is not None and (type(mod) is not nn.Linear or not mod.weight.is_floating_point()):
                    raise UserError(
                        f"{path} is a {type(mod).__name__} with {mod.weight.dtype} weights; pruning needs float "
                        "weights: load the model dequantized (GGUF: without the 'kernels' package, or dequantize=True)"
                    )


def _drop_quantizer(model: nn.Module) -> None:
    """A dequantized model (GGUF loaded as float) keeps a quantizer record that blocks save_pretrained."""
    if getattr(model, "hf_quantizer", None) is None:
        return
    model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        try:
            del model.config.quantization_config
        except AttributeError:
            model.config.quantization_config = None


def prune_model(model: nn.Module, spec_from: ModelSpec, params: PruneParams,
                importance: Importance | None = None) -> nn.Module:
    """A new model pruned to ``prune_spec(spec_from, params)``; units kept by importance (first units without).

    `spec_from` is the spec of `model` (see `spec_of_model`); encoders missing from `params` stay whole.
    """
    _check_spec(model, spec_from)
    _require_float_linears(model)
    target = prune_spec(spec_from, params)
    pruned = copy.deepcopy(model)
    _drop_quantizer(pruned)
    for stack in stacks_of(pruned):
        enc_to = target.encoder(stack.name)
        imp = importance.encoders.get(stack.name) if importance is not None else None
        layers = layer_list(pruned, stack)
        kept = _top(None if imp is None else imp.layers, len(layers), enc_to.layers).tolist()
        for orig in kept:
            _prune_layer(pruned, stack, layers[orig], imp, orig, enc_to.heads, enc_to.ffn)
        new_layers = nn.ModuleList([layers[i] for i in kept])
        for new_idx, layer in enumerate(new_layers):
            attn = get_module(layer, stack.attn)
            if hasattr(attn, "layer_idx"):
                attn.layer_idx = new_idx  # KV-cache slot of a decoder layer
        _set_module(pruned, stack.layers, new_layers)
        hidden = get_module(new_layers[0], stack.o).out_features
        if enc_to.hidden < hidden:
            keep = _top(None if imp is None else imp.hidden, hidden, enc_to.hidden)
            _prune_hidden(pruned, stack, keep)
        _update_config(pruned, stack, kept)
    got, want = torch_param_count(pruned), param_count(target)
    if got != want:  # a structure the spec layer counts differently: a bug, never silently accepted
        raise RuntimeError(f"pruned {type(model).__name__} has {got} parameters, spec {target.id} implies {want}")
    return pruned


# ---- checkpoints ---------------------------------------------------------------------------------------------


def pruned_layout(model: nn.Module) -> dict:
    """Per encoder the hidden width and per layer [heads, kv_heads, head_dim, ffn]; whether the config expresses it."""
    family = family_of(model)
    stacks, standard = {}, True
    for stack in stacks_of(model):
        rows = []
        for layer in layer_list(model, stack):
            heads, kv, head_dim = attn_shape(model, stack, layer)
            rows.append([heads, kv, head_dim, get_module(layer, stack.up).out_features])
        hidden = get_module(layer_list(model, stack)[0], stack.o).out_features
        uniform = all(r == rows[0] for r in rows)
        standard &= uniform and (family in ("llama", "vit") or rows[0][0] * rows[0][2] == hidden)
        stacks[stack.name] = {"hidden": hidden, "layers": rows}
    return {"format": 1, "family": family, "class": type(model).__name__, "standard": standard, "stacks": stacks}


def save_pruned(model: nn.Module, out_dir: str | Path) -> Path:
    """Write `model` as config.json + safetensors + catransformers_pruned.json into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    layout = pruned_layout(model)
    model.save_pretrained(out)
    (out / LAYOUT_FILE).write_text(json.dumps(layout, indent=1))
    return out


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise UserError(f"{path}: no .safetensors weights; write the checkpoint with save_pruned")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


def _subconfigs(config) -> list:
    return [config.text_config, config.vision_config] if config.model_type == "clip" else [config]


def load_pruned(path: str | Path) -> nn.Module:
    """Load a checkpoint written by `save_pruned` (standard ones through ``from_pretrained``)."""
    path = Path(path)
    try:
        layout = json.loads((path / LAYOUT_FILE).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no {LAYOUT_FILE}; not a pruned checkpoint written by catransformers") from None
    cls = getattr(transformers, layout["class"])
    if layout["standard"]:
        return cls.from_pretrained(path).eval()
    # The config validates hidden % heads == 0, which a pruned layout need not meet: build it with one head
    # (any divisor of hidden works), then set the real per-layer heads from the layout below.
    raw = json.loads((path / "config.json").read_text())
    subs = [raw["text_config"], raw["vision_config"]] if raw.get("model_type") == "clip" else [raw]
    saved_heads = [d["num_attention_heads"] for d in subs]
    for d in subs:
        d["num_attention_heads"] = 1
    config = transformers.AutoConfig.for_model(**raw)
    model = cls(config)
    for c, h in zip(_subconfigs(config), saved_heads, strict=True):
        c.num_attention_heads = h
    state = _read_state(path)
    with torch.no_grad():
        for key, tensor in state.items():
            owner, _, attr = key.rpartition(".")
            mod = get_module(model, owner)
            old = getattr(mod, attr)
            if isinstance(old, nn.Parameter):
                setattr(mod, attr, nn.Parameter(tensor))
            else:
                mod.register_buffer(attr, tensor)
            _fit(mod)
    for stack in stacks_of(model):
        rows = layout["stacks"][stack.name]["layers"]
        for layer, (heads, _kv, head_dim, _ffn) in zip(layer_list(model, stack), rows, strict=True):
            set_attn_heads(model, stack, layer, heads, head_dim)
        for head, source in stack.tied:
            get_module(model, head).weight = get_module(model, source).weight
        if layout["family"] == "clip":
            setattr(model, f"{stack.name}_embed_dim", layout["stacks"][stack.name]["hidden"])
    missing = [k for k, v in model.state_dict().items() if k not in state and v.is_floating_point()
               and k in dict(model.named_parameters())]
    if missing:
        raise UserError(f"{path}: checkpoint lacks weights {missing[:3]}; it is incomplete")
    return model.eval()


__all__ = ["LAYOUT_FILE", "load_pruned", "prune_model", "pruned_layout", "save_pruned", "spec_of_model"]
