"""The structured-pruning space of a model and the pruned specs it yields.

Per encoder four knobs, as in the CATransformers paper (arXiv 2505.01386): number of layers kept, attention
heads kept per layer (head size unchanged), FFN width and hidden width in blocks of
``width / block_count``. For grouped-query attention whole query groups are removed, so the number of
query heads stays a multiple of the group size and the KV heads shrink with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from catransformers.errors import UserError
from catransformers.models.spec import EncoderSpec, ModelSpec

PRUNE_KEYS = ("layers", "heads", "ffn_blocks", "hidden_blocks")


@dataclass(frozen=True)
class EncoderPrune:
    """How much of one encoder is kept."""

    layers: int
    heads: int
    ffn_blocks: int
    hidden_blocks: int


PruneParams = dict[str, EncoderPrune]  # encoder name -> what is kept


def full_params(spec: ModelSpec) -> PruneParams:
    """The pruning parameters that keep everything (the unpruned model)."""
    return {
        e.name: EncoderPrune(e.layers, e.heads, spec.block_counts[e.name], spec.block_counts[e.name])
        for e in spec.encoders
    }


def _check(spec: ModelSpec, params: PruneParams) -> None:
    for name, p in params.items():
        if name not in spec.block_counts:
            raise UserError(
                f"--prune: model '{spec.id}' has no encoder '{name}'; encoders: {', '.join(spec.encoder_names)}"
            )
        enc = spec.encoder(name)
        blocks = spec.block_counts[name]
        limits = {"layers": enc.layers, "heads": enc.heads, "ffn_blocks": blocks, "hidden_blocks": blocks}
        for key, top in limits.items():
            value = getattr(p, key)
            if not 1 <= value <= top:
                prefix = f"{name}." if len(spec.encoders) > 1 else ""
                raise UserError(f"--prune {prefix}{key}={value} is outside 1..{top} for model '{spec.id}'")
        if p.heads % enc.group_size:
            allowed = ", ".join(str(h) for h in range(enc.group_size, enc.heads + 1, enc.group_size))
            raise UserError(
                f"--prune heads={p.heads}: '{spec.id}' uses grouped-query attention with {enc.group_size} "
                f"query heads per KV head; heads must be one of {allowed}"
            )


def _pruned_encoder(enc: EncoderSpec, p: EncoderPrune, blocks: int) -> EncoderSpec:
    return replace(
        enc,
        layers=p.layers,
        heads=p.heads,
        kv_heads=p.heads // enc.group_size,
        ffn=enc.ffn * p.ffn_blocks // blocks,
        hidden=enc.hidden * p.hidden_blocks // blocks,
    )


def prune_spec(spec: ModelSpec, params: PruneParams) -> ModelSpec:
    """The spec of `spec` pruned to `params` (encoders not named stay whole)."""
    _check(spec, params)
    encoders = tuple(
        _pruned_encoder(e, params[e.name], spec.block_counts[e.name]) if e.name in params else e
        for e in spec.encoders
    )
    if encoders == spec.encoders:
        return spec
    return spec.with_encoders(encoders, id=f"{spec.id}[{format_prune(spec, params)}]")


def format_prune(spec: ModelSpec, params: PruneParams) -> str:
    """Canonical ``key=value`` text of `params` (encoder-prefixed when the model has several)."""
    multi = len(spec.encoders) > 1
    parts = []
    for enc in spec.encoders:
        if enc.name not in params:
            continue
        p = params[enc.name]
        for key in PRUNE_KEYS:
            parts.append(f"{enc.name + '.' if multi else ''}{key}={getattr(p, key)}")
    return ",".join(parts)


def parse_prune(spec: ModelSpec, text: str | None) -> PruneParams:
    """Parse ``text.layers=6,vision.ffn_blocks=5`` (CLIP) or ``layers=4,heads=8`` (single encoder).

    Unnamed knobs keep the original size. Raises UserError naming the bad key and what is allowed.
    """
    base = full_params(spec)
    if not text or not text.strip():
        return base
    values: dict[str, dict[str, int]] = {name: {} for name in base}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        if not sep:
            raise UserError(f"--prune: '{item}' is not key=value (e.g. layers=4,heads=8)")
        key = key.strip()
        enc_name, dot, knob = key.rpartition(".")
        if not dot:
            if len(spec.encoders) > 1:
                raise UserError(
                    f"--prune: '{key}' needs an encoder prefix for '{spec.id}': "
                    + ", ".join(f"{e}.{key}" for e in spec.encoder_names)
                )
            enc_name = spec.encoders[0].name
        if enc_name not in base:
            raise UserError(f"--prune: unknown encoder '{enc_name}'; '{spec.id}' has {', '.join(base)}")
        if knob not in PRUNE_KEYS:
            raise UserError(f"--prune: unknown key '{knob}'; allowed: {', '.join(PRUNE_KEYS)}")
        if knob in values[enc_name]:
            raise UserError(f"--prune: '{key}' is given twice; give each key once")
        try:
            values[enc_name][knob] = int(raw)
        except ValueError:
            raise UserError(f"--prune {key}={raw.strip()}: value must be an integer") from None
    params = {name: replace(base[name], **vals) for name, vals in values.items()}
    _check(spec, params)
    return params


@dataclass(frozen=True)
class KnobRange:
    """An inclusive integer range a search may choose from (step for GQA head groups)."""

    low: int
    high: int
    step: int = 1

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))


PruneSpace = dict[str, dict[str, KnobRange]]  # encoder -> knob -> range


def default_space(spec: ModelSpec) -> PruneSpace:
    """The paper's search ranges: each knob from half (rounded up) to the full size (arXiv 2505.01386).

    CLIP ViT-B/16: layers 6-12, heads text 4-8 / vision 6-12, FFN and hidden 4-8 of 8 blocks.
    """
    space: PruneSpace = {}
    for enc in spec.encoders:
        blocks = spec.block_counts[enc.name]
        g = enc.group_size
        head_low = max(g, g * math.ceil(enc.heads / g / 2))
        space[enc.name] = {
            "layers": KnobRange(math.ceil(enc.layers / 2), enc.layers),
            "heads": KnobRange(head_low, enc.heads, g),
            "ffn_blocks": KnobRange(math.ceil(blocks / 2), blocks),
            "hidden_blocks": KnobRange(math.ceil(blocks / 2), blocks),
        }
    return space
