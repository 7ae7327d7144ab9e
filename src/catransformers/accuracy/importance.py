"""Importance scores that decide which layers, heads, FFN neurons and hidden channels survive pruning.

Computed once per base model on a small calibration set and saved (``Importance.save`` / ``load``, .npz).
Methods (higher score = more important):

- ``taylor``: first-order Taylor, the sum over a structure's weights of |w * dL/dw| (Molchanov
  et al., CVPR 2019), accumulated over the calibration batches; needs ``loss_fn``.
- ``activation`` (the default of `AccuracyRecipe.importance` and `compute_importance`): no labels, forward
  only. Heads: mean |output| of each head (input of the output projection); neurons: mean |activation|
  (input of the down projection); hidden channels: mean |value| of the residual stream after each layer;
  layers: block influence 1 - cos(layer input, layer output) (Men et al. 2024, "ShortGPT").
- ``magnitude``: no data, the L2 norm of each structure's weights.
- ``ablation``: remove one unit, measure the loss increase (MoPE-CLIP, Lin et al. 2024, as the
  CATransformers paper used for CLIP). Layers are skipped one at a time, heads zeroed one at a time; FFN
  neurons and hidden channels are ablated in `ablation_chunks` contiguous chunks per layer / encoder (one
  pass per unit would be thousands of passes), ties inside a chunk broken by weight magnitude. Slow.

Which to use: ``activation``. Measured here without healing (scores of the pruned model; "end" keeps the
first units, the baseline), calibration on gensim's lee_background.cor (taylor: label-free InfoNCE between
the two halves of each document for MiniLM, next-token loss for SmolLM2):

  all-MiniLM-L6-v2, Lee-50 Pearson (unpruned 0.656)   end    magnitude  activation  taylor
  layers=3                                             0.405  0.405      0.587       0.407
  hidden_blocks=12                                     0.532  0.489      0.609       0.618
  layers=4,heads=8,ffn_blocks=10,hidden_blocks=14      0.420  0.403      0.574       0.338
  SmolLM2-135M perplexity (unpruned 28.7)
  layers=24                                            5.6e6  315        73.9        77.3
  heads=6                                              1634   358        62.0        1011
  layers=26,heads=6,ffn_blocks=14,hidden_blocks=15     4.9e8  1.6e5      207         4824

Ablation (32 calibration docs, 16 chunks; 9 min for MiniLM on a shared 2-core CPU) gives 0.606, 0.513 and
0.494 on the three MiniLM rows. First-order Taylor ranks single knobs well (MiniLM ffn_blocks=8: 0.653
against 0.559 for activation) but its layer ranking (sum of |w * grad| over a layer) is no better than
removing layers from the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from catransformers.accuracy.prune_arch import (
    Stack,
    attn_shape,
    family_of,
    get_module,
    layer_list,
    stacks_of,
)
from catransformers.errors import UserError
from catransformers.fileio import atomic_write_with

METHODS = ("taylor", "activation", "magnitude", "ablation")
LossFn = Callable[[nn.Module, dict], torch.Tensor]


@dataclass
class EncoderImportance:
    """Scores of one encoder: per layer (L,), per query head (L, H), per FFN neuron (L, F), per channel (D,)."""

    layers: np.ndarray
    heads: np.ndarray
    ffn: np.ndarray
    hidden: np.ndarray

    def __add__(self, other: EncoderImportance) -> EncoderImportance:
        return EncoderImportance(*(getattr(self, k) + getattr(other, k) for k in _KINDS))

    def scaled(self, factor: float) -> EncoderImportance:
        return EncoderImportance(*(getattr(self, k) * factor for k in _KINDS))


_KINDS = ("layers", "heads", "ffn", "hidden")


@dataclass
class Importance:
    """Per-encoder importance scores of one base model, and how they were computed."""

    method: str
    encoders: dict[str, EncoderImportance]
    meta: dict = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        """Write one .npz (arrays ``<encoder>/<kind>`` plus a json ``__meta__``), atomically."""
        arrays = {f"{name}/{k}": getattr(enc, k) for name, enc in self.encoders.items() for k in _KINDS}
        meta = {"method": self.method, "meta": self.meta}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)

        return atomic_write_with(path, write)

    @classmethod
    def load(cls, path: str | Path) -> Importance:
        """Read a file written by `save`; a missing or unreadable file raises UserError."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                meta = json.loads(str(data["__meta__"]))
                names = sorted({key.split("/")[0] for key in data.files if key != "__meta__"})
                encoders = {n: EncoderImportance(*(np.array(data[f"{n}/{k}"]) for k in _KINDS)) for n in names}
        except (OSError, KeyError, ValueError) as err:
            raise UserError(f"cannot read importance file {path} ({err}); delete it to recompute") from None
        return cls(method=meta["method"], encoders=encoders, meta=meta.get("meta", {}))


# ---- aggregation of per-weight scores into per-structure scores -------------------------------------------


def _cols(t: torch.Tensor) -> torch.Tensor:  # per input column of a Linear weight
    return t.sum(0)


def _rows(t: torch.Tensor) -> torch.Tensor:  # per output row / channel (Linear or Conv2d)
    return t.reshape(t.shape[0], -1).sum(1)


def _structure_scores(
    model: nn.Module, stack: Stack, score: Callable[[nn.Parameter], torch.Tensor]
) -> EncoderImportance:
    """Sum the elementwise `score` of every weight into layers, heads, neurons and hidden channels."""
    layers = layer_list(model, stack)
    heads0 = attn_shape(model, stack, layers[0])[0]
    ffn0 = get_module(layers[0], stack.up).out_features
    width = get_module(layers[0], stack.o).out_features
    out = EncoderImportance(np.zeros(len(layers)), np.zeros((len(layers), heads0)),
                            np.zeros((len(layers), ffn0)), np.zeros(width))
    hidden = torch.zeros(width, dtype=torch.float64)
    seen: set[int] = set()

    def s(p: nn.Parameter | None) -> torch.Tensor | None:
        if p is None:
            return None
        return score(p).detach().to(torch.float64).cpu()

    def add_rows(mod: nn.Module) -> None:
        nonlocal hidden
        hidden += _rows(s(mod.weight))
        if getattr(mod, "bias", None) is not None:
            hidden += s(mod.bias)

    with torch.no_grad():
        for i, layer in enumerate(layers):
            heads, kv, head_dim = attn_shape(model, stack, layer)
            q, k, v, o = (get_module(layer, p) for p in (stack.q, stack.k, stack.v, stack.o))
            head = _rows(s(q.weight)).reshape(heads, head_dim).sum(1)
            if q.bias is not None:
                head += s(q.bias).reshape(heads, head_dim).sum(1)
            for proj in (k, v):
                kv_s = _rows(s(proj.weight)).reshape(kv, head_dim).sum(1)
                if proj.bias is not None:
                    kv_s += s(proj.bias).reshape(kv, head_dim).sum(1)
                head += kv_s.repeat_interleave(heads // kv) / (heads // kv)  # a KV head serves its query group
            head += _cols(s(o.weight)).reshape(heads, head_dim).sum(1)
            out.heads[i] = head.numpy()
            ffn_mods = [get_module(layer, stack.up)] + ([get_module(layer, stack.gate)] if stack.gate else [])
            neuron = sum(_rows(s(m.weight)) + (s(m.bias) if m.bias is not None else 0) for m in ffn_mods)
            down = get_module(layer, stack.down)
            out.ffn[i] = (neuron + _cols(s(down.weight))).numpy()
            out.layers[i] = float(sum(s(p).sum() for p in layer.parameters()))
            for m in (q, k, v, *ffn_mods):
                hidden += _cols(s(m.weight))
            for m in (o, down):
                add_rows(m)
            for path in stack.layer_norms:
                norm = get_module(layer, path)
                hidden += s(norm.weight) + (s(norm.bias) if getattr(norm, "bias", None) is not None else 0)
        for path in (*stack.embeddings, *stack.reads):
            mod = get_module(model, path)
            if id(mod.weight) not in seen:
                seen.add(id(mod.weight))
                hidden += _cols(s(mod.weight))
        for path in stack.norms:
            norm = get_module(model, path)
            hidden += s(norm.weight) + (s(norm.bias) if getattr(norm, "bias", None) is not None else 0)
        for path in stack.writes:
            mod = get_module(model, path)
            if id(mod.weight) not in seen:
                seen.add(id(mod.weight))
                add_rows(mod)
        for path in stack.params:
            p = s(get_module(model, path.rpartition(".")[0]).get_parameter(path.rpartition(".")[2]))
            hidden += p.reshape(-1, p.shape[-1]).sum(0)
    out.hidden = hidden.numpy()
    return out


# ---- the methods --------------------------------------------------------------------------------------------


def _need_loss(loss_fn: LossFn | None, method: str) -> LossFn:
    if loss_fn is None:
        raise UserError(f"importance method '{method}' needs a loss function (use 'activation' without labels)")
    return loss_fn


def _taylor(model: nn.Module, stacks: list[Stack], batches: list[dict], loss_fn: LossFn) -> dict:
    total: dict[str, EncoderImportance] = {}
    for batch in batches:
        model.zero_grad(set_to_none=True)
        loss_fn(model, batch).backward()

        def score(p: nn.Parameter) -> torch.Tensor:
            return (p * p.grad).abs() if p.grad is not None else torch.zeros_like(p)

        for st in stacks:
            cur = _structure_scores(model, st, score)
            total[st.name] = cur if st.name not in total else total[st.name] + cur
    model.zero_grad(set_to_none=True)
    return {k: v.scaled(1.0 / len(batches)) for k, v in total.items()}


def _magnitude(model: nn.Module, stacks: list[Stack]) -> dict:
    out = {}
    for st in stacks:
        sq = _structure_scores(model, st, lambda p: p.detach() ** 2)
        out[st.name] = EncoderImportance(*(np.sqrt(getattr(sq, k)) for k in _KINDS))
    return out


def _first(args: tuple, kwargs: dict) -> torch.Tensor:
    return args[0] if args else kwargs["hidden_states"]


def _main(output) -> torch.Tensor:
    return output if isinstance(output, torch.Tensor) else output[0]


def _activation(model: nn.Module, stacks: list[Stack], batches: list[dict]) -> dict:
    acc: dict[str, dict[str, list]] = {}
    hooks = []
    for st in stacks:
        layers = layer_list(model, st)
        a = acc[st.name] = {"layers": [0.0] * len(layers), "heads": [0.0] * len(layers),
                            "ffn": [0.0] * len(layers), "hidden": [0.0]}
        for i, layer in enumerate(layers):
            heads, _, head_dim = attn_shape(model, st, layer)

            def head_hook(mod, args, i=i, a=a, heads=heads, head_dim=head_dim):
                x = args[0].detach().abs().reshape(-1, heads, head_dim)
                a["heads"][i] = a["heads"][i] + x.mean(dim=(0, 2)).double().cpu()

            def ffn_hook(mod, args, i=i, a=a):
                x = args[0].detach().abs()
                a["ffn"][i] = a["ffn"][i] + x.reshape(-1, x.shape[-1]).mean(0).double().cpu()

            def layer_hook(mod, args, kwargs, output, i=i, a=a):
                x, y = _first(args, kwargs).detach(), _main(output).detach()
                cos = nn.functional.cosine_similarity(x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1]), dim=-1)
                a["layers"][i] += float((1 - cos).mean())
                channel = y.abs().reshape(-1, y.shape[-1]).mean(0).double().cpu()
                a["hidden"][0] = a["hidden"][0] + channel / len(a["layers"])

            hooks.append(get_module(layer, st.o).register_forward_pre_hook(head_hook))
            hooks.append(get_module(layer, st.down).register_forward_pre_hook(ffn_hook))
            hooks.append(layer.register_forward_hook(layer_hook, with_kwargs=True))
    try:
        with torch.no_grad():
            for batch in batches:
                model(**batch)
    finally:
        for h in hooks:
            h.remove()
    n = len(batches)
    return {
        name: EncoderImportance(
            np.asarray(a["layers"]) / n,
            np.stack([torch.as_tensor(h).numpy() for h in a["heads"]]) / n,
            np.stack([torch.as_tensor(f).numpy() for f in a["ffn"]]) / n,
            torch.as_tensor(a["hidden"][0]).numpy() / n,
        )
        for name, a in acc.items()
    }


def _mean_loss(model: nn.Module, batches: list[dict], loss_fn: LossFn) -> float:
    with torch.no_grad():
        return float(np.mean([float(loss_fn(model, b)) for b in batches]))


def _chunks(n: int, count: int) -> list[torch.Tensor]:
    return [c for c in torch.arange(n).chunk(min(count, n)) if len(c)]


def _ablation(model: nn.Module, stacks: list[Stack], batches: list[dict], loss_fn: LossFn, chunks: int) -> dict:
    base = _mean_loss(model, batches, loss_fn)
    magnitude = _magnitude(model, stacks)

    def drop(hooks: list) -> float:
        try:
            return _mean_loss(model, batches, loss_fn) - base
        finally:
            for h in hooks:
                h.remove()

    def zero_input(idx: torch.Tensor):
        def hook(mod, args):
            x = args[0].clone()
            x[..., idx.to(x.device)] = 0
            return (x, *args[1:])
        return hook

    def zero_output(idx: torch.Tensor):
        def hook(mod, args, output):
            y = output.clone()
            y[..., idx.to(y.device)] = 0
            return y
        return hook

    def skip(mod, args, kwargs, output):
        x = _first(args, kwargs)
        return x if isinstance(output, torch.Tensor) else (x, *output[1:])

    out = {}
    for st in stacks:
        mag = magnitude[st.name]
        layers = layer_list(model, st)
        imp = EncoderImportance(np.zeros(len(layers)), np.zeros_like(mag.heads), np.zeros_like(mag.ffn),
                                np.zeros_like(mag.hidden))
        for i, layer in enumerate(layers):
            imp.layers[i] = drop([layer.register_forward_hook(skip, with_kwargs=True)])
            heads, _, head_dim = attn_shape(model, st, layer)
            o = get_module(layer, st.o)
            for h in range(heads):
                cols = torch.arange(h * head_dim, (h + 1) * head_dim)
                imp.heads[i, h] = drop([o.register_forward_pre_hook(zero_input(cols))])
            down = get_module(layer, st.down)
            for c in _chunks(down.in_features, chunks):
                imp.ffn[i, c.numpy()] = drop([down.register_forward_pre_hook(zero_input(c))])
        norms = [get_module(ly, p) for ly in layers for p in st.layer_norms] + [get_module(model, p) for p in st.norms]
        for c in _chunks(len(imp.hidden), chunks):
            imp.hidden[c.numpy()] = drop([n.register_forward_hook(zero_output(c)) for n in norms])
        for kind in ("ffn", "hidden"):  # break ties inside a chunk by weight magnitude, below any chunk gap
            m = getattr(mag, kind)
            span = np.ptp(getattr(imp, kind)) or 1.0
            setattr(imp, kind, getattr(imp, kind) + 1e-6 * span * m / (np.abs(m).max() or 1.0))
        out[st.name] = imp
    return out


def compute_importance(model: nn.Module, family: str, batches: Iterable[dict], loss_fn: LossFn | None = None,
                       method: str = "activation", *, ablation_chunks: int = 16) -> Importance:
    """Importance of every layer, head, FFN neuron and hidden channel of `model` (see module docstring).

    `batches` are dicts of model inputs (``model(**batch)``); `loss_fn(model, batch)` returns a scalar.
    The model is scored in eval mode (no dropout) and returned to its previous mode.
    """
    if method not in METHODS:
        raise UserError(f"unknown importance method '{method}'; choose one of {', '.join(METHODS)}")
    actual = family_of(model)
    if family != actual:
        raise UserError(f"importance: family '{family}' given for a {actual} model ({type(model).__name__})")
    stacks = stacks_of(model)
    batches = list(batches) if method != "magnitude" else []
    if method != "magnitude" and not batches:
        raise UserError(f"importance method '{method}' needs at least one calibration batch")
    was_training = model.training
    model.eval()
    try:
        if method == "taylor":
            scores = _taylor(model, stacks, batches, _need_loss(loss_fn, method))
        elif method == "activation":
            scores = _activation(model, stacks, batches)
        elif method == "magnitude":
            scores = _magnitude(model, stacks)
        else:
            scores = _ablation(model, stacks, batches, _need_loss(loss_fn, method), ablation_chunks)
    finally:
        model.train(was_training)
    meta = {"family": family, "model_class": type(model).__name__, "batches": len(batches)}
    return Importance(method=method, encoders=scores, meta=meta)


__all__ = ["METHODS", "EncoderImportance", "Importance", "compute_importance"]
