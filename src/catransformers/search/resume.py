"""What a resumed run may change: only the budget and where it runs, never what its trials were computed under.

The original config (``state/config.original.toml``) is compared key by key with the one a resume would use;
a difference outside `ADDITIVE_KEYS` (model, space, hardware, constraints, usage and carbon settings, recipe,
mode, seed, ...) would mix results computed under different settings in one front, so it is refused with the
first difference named. Accepted changes are returned for the run's per-session record in run.json.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from catransformers.errors import UserError
from catransformers.search.config import ExperimentConfig, config_from_dict

# Settings that change how much is searched or where it runs, not what a trial's result is.
ADDITIVE_KEYS = frozenset({
    "search.trials", "search.workers", "search.max_finetunes", "search.ray_address", "search.footprint",
    "search.footprint_country", "search.verbose", "output.dir", "output.name",
})


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of a nested mapping (lists and scalars are leaves)."""
    if not isinstance(node, Mapping):
        return {prefix.rstrip("."): node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        out.update(flatten(value, f"{prefix}{key}."))
    return out


def config_changes(original: ExperimentConfig, current: ExperimentConfig) -> dict[str, tuple[Any, Any]]:
    """Every dotted key whose value differs: {key: (original, current)}."""
    a, b = flatten(original.model_dump(mode="json")), flatten(current.model_dump(mode="json"))
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def check_resume_config(store: Any, cfg: ExperimentConfig) -> dict[str, list[Any]]:
    """Refuse a resume whose settings differ from the original's beyond `ADDITIVE_KEYS`; return the accepted ones."""
    source = store.state / "config.original.toml"
    label = str(source if source.is_file() else store.root / "config.toml")
    try:
        original = config_from_dict(tomllib.loads(store.original_config()), label)
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{label} is not valid TOML ({err}); the run cannot be resumed safely") from None
    changes = config_changes(original, cfg)
    for key, (old, new) in changes.items():
        if key not in ADDITIVE_KEYS:
            raise UserError(f"resume: {key} is {new!r} but the run's trials were computed with {old!r} ({label}); "
                            "only trials, workers, max_finetunes, ray_address and footprint may change: restore "
                            "it or start a new run with another --out")
    return {k: [old, new] for k, (old, new) in changes.items()}
