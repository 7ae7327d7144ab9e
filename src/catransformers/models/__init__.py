"""Model specs: the registry, local Hugging Face configs, the pruning space and pruned specs."""

from pathlib import Path

from catransformers.models.hf_config import spec_from_hf_config
from catransformers.models.params import param_count
from catransformers.models.pruning import (
    PRUNE_KEYS,
    EncoderPrune,
    KnobRange,
    PruneParams,
    PruneSpace,
    default_space,
    format_prune,
    full_params,
    parse_prune,
    prune_spec,
)
from catransformers.models.registry import REGISTRY, get_model
from catransformers.models.spec import EncoderSpec, ModelSpec


def resolve_model(model: str) -> ModelSpec:
    """A registry id, or a path to a local Hugging Face config.json (or its folder)."""
    if model not in REGISTRY and (Path(model).exists() or model.endswith(".json")):
        return spec_from_hf_config(model)
    return get_model(model)


__all__ = [
    "PRUNE_KEYS", "REGISTRY", "EncoderPrune", "EncoderSpec", "KnobRange", "ModelSpec", "PruneParams", "PruneSpace",
    "default_space", "format_prune", "full_params", "get_model", "param_count", "parse_prune", "prune_spec",
    "resolve_model", "spec_from_hf_config",
]
