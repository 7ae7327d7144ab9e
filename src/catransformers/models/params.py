"""Parameter counts implied by a spec, matching the Hugging Face implementation of each family.

The accuracy branch checks that a really pruned torch model has exactly this many parameters.
"""

from __future__ import annotations

from catransformers.models.spec import EncoderSpec, ModelSpec


def _layernorm(h: int) -> int:
    return 2 * h


def _embeddings(spec: ModelSpec, enc: EncoderSpec) -> int:
    h = enc.hidden
    if enc.kind == "vision":
        patch = enc.channels * enc.patch_size**2 * h
        n = enc.max_positions * h + h  # position table + class token
        if spec.family == "clip":
            return patch + n + _layernorm(h)  # CLIP: bias-free patch conv, pre-layernorm
        return patch + h + n  # ViT: patch conv with bias
    if spec.family == "bert":
        return (enc.vocab_size + enc.max_positions + 2) * h + _layernorm(h)  # + 2 token types
    if spec.family == "clip":
        return (enc.vocab_size + enc.max_positions) * h
    return enc.vocab_size * h  # llama: rotary positions, no table


def _final(spec: ModelSpec, enc: EncoderSpec) -> int:
    h = enc.hidden
    if spec.family == "llama":
        return h + (0 if spec.tie_word_embeddings else enc.vocab_size * h)  # RMSNorm + LM head
    if spec.family in ("clip", "vit"):
        return _layernorm(h)  # final / post layernorm
    return 0


def encoder_params(spec: ModelSpec, enc: EncoderSpec) -> int:
    """Parameters of one encoder: embeddings, layers and its final norm (and LM head for causal LMs)."""
    return _embeddings(spec, enc) + enc.layers * enc.layer_params() + _final(spec, enc)


def param_count(spec: ModelSpec) -> int:
    """Total parameters of the model as its Hugging Face class builds it."""
    total = sum(encoder_params(spec, e) for e in spec.encoders)
    if spec.family == "clip":
        total += sum(e.hidden * spec.projection_dim for e in spec.encoders) + 1  # projections + logit scale
    h = spec.encoders[0].hidden
    if spec.has_pooler:
        total += h * h + h
    if spec.num_labels:
        total += h * spec.num_labels + spec.num_labels
    return total
