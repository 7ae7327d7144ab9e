"""The experiment config: one TOML file, validated with pydantic, every field defaulted.

Sections: ``[model]`` (base model and pruning-space overrides), ``[hardware]`` (the accelerator space, plus
``fixed`` for the model-only mode), ``[constraints]``, ``[carbon]`` / ``[workload]`` / ``[tech]`` (handed to the
cost model's `CostSettings`), ``[search]``, ``[accuracy]`` (the accuracy recipe) and ``[output]``.
Unknown keys fail with a one-line error that names the key and suggests the closest valid one.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from catransformers.accuracy.recipe import AccuracyRecipe
from catransformers.carbon.model import CarbonSettings
from catransformers.errors import UserError
from catransformers.hardware.config import HardwareConfig, HardwareSpace
from catransformers.hardware.tech import Tech
from catransformers.models import PRUNE_KEYS, KnobRange, PruneSpace, default_space, parse_prune, resolve_model
from catransformers.search.modes import DEFAULT_REFERENCE, MODES, get_mode
from catransformers.workload.ops import WorkloadOptions

# Paper's constraints (DESIGN §3): TOPS <= 20.48, area <= 31.99 mm², latency <= 50 ms when not an objective.
PAPER_MAX_TOPS = 20.48
PAPER_MAX_AREA_MM2 = 31.99
PAPER_MAX_LATENCY_MS = 50.0
PAPER_TRIALS = 100  # the paper's Ax budget (DESIGN §9)
OFFLINE_PRESET = "offline_default"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSection(_Section):
    """The base model and its pruning space."""

    id: str = Field("clip-vit-b-16", description="registry id or path to a Hugging Face config.json")
    prune: str = Field("", description="fixed pruning for the hardware-only mode (e.g. 'layers=4'); '' = unpruned")
    space: dict[str, dict[str, list[int]]] = Field(
        default_factory=dict,
        description="per-encoder knob ranges [low, high] or [low, high, step]; missing knobs keep the paper's",
    )


class HardwareSection(HardwareSpace):
    """The accelerator space (lists of values per parameter) and, for the model-only mode, one fixed config."""

    fixed: HardwareConfig | None = Field(None, description="the fixed accelerator of the model-only mode")


class ConstraintsSection(_Section):
    """Deterministic design constraints, checked exactly before any fine-tune ('none' disables one)."""

    max_tops: float | None = Field(PAPER_MAX_TOPS, gt=0)
    max_area_mm2: float | None = Field(PAPER_MAX_AREA_MM2, gt=0)
    max_latency_ms: float | None = Field(PAPER_MAX_LATENCY_MS, gt=0, description="applies if latency is no objective")
    check_dram_capacity: bool = Field(True, description="weights (+ KV cache) must fit in the DRAM")

    @field_validator("max_tops", "max_area_mm2", "max_latency_ms", mode="before")
    @classmethod
    def _none_text(cls, v: Any) -> Any:
        return None if isinstance(v, str) and v.strip().lower() in ("none", "off", "") else v


class CostSection(_Section):
    """Cost-model options beyond workload, technology and carbon (see `catransformers.cost.CostSettings`)."""

    dataflow: Literal["ws", "os"] = Field("ws", description="ws (weight-stationary) or os (output-stationary)")
    double_buffered: bool = Field(True, description="WS: next fold's weights load during the current fold")


class SearchSection(_Section):
    """How the search runs."""

    mode: Literal["carbon", "latency", "energy", "all", "hardware", "model"] = "carbon"
    strategy: Literal["nested", "joint", "random"] = Field(
        "nested", description="nested: Ax over models, exhaustive hardware sweep per model; joint: the paper's one "
        "Ax space; random: quasi-random (Sobol) over the joint space",
    )
    trials: int = Field(PAPER_TRIALS, ge=1, description="Ax trials (proposals); infeasible ones cost no fine-tune")
    max_finetunes: int | None = Field(None, ge=1, description="stop after this many distinct fine-tunes")
    sobol_trials: int = Field(8, ge=1, description="quasi-random initial trials before qLogNEHVI")
    batch_size: int = Field(4, ge=1, description="candidates per Ax generation (fixed: workers never change results)")
    acqf_restarts: int = Field(4, ge=1, description="qLogNEHVI optimiser restarts (Ax default 20; fewer = faster)")
    acqf_raw_samples: int = Field(256, ge=8, description="qLogNEHVI raw samples (Ax default 1024)")
    seed: int = 0
    workers: int = Field(1, ge=1, description="trials evaluated at once on this machine")
    ray_address: str | None = Field(None, description="address of an existing Ray cluster, e.g. 'auto' or 'ip:6379'")
    model_objective: Literal["energy", "carbon"] = Field("energy", description="cost objective of the model mode")
    reference: dict[str, float] = Field(
        default_factory=dict, description="reference point per objective column (defaults: the paper's)"
    )
    footprint: bool = Field(False, description="measure the search's own carbon with codecarbon (offline mode)")
    footprint_country: str = Field("USA", description="ISO-3 country code for codecarbon's offline grid intensity")

    @field_validator("mode", "strategy", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v


class AccuracySection(AccuracyRecipe):
    """The accuracy recipe, plus where results are cached and the surrogate's knobs (task = 'surrogate')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cache_dir: str | None = Field(None, description="accuracy result cache shared by runs (None: the accuracy "
                                  "stage's default, $CATRANSFORMERS_CACHE or ~/.cache/catransformers)")
    surrogate_noise: float = Field(0.003, ge=0, description="task 'surrogate': noise sd of the score")
    surrogate_delay_s: float = Field(0.0, ge=0, description="task 'surrogate': sleep per evaluation (tests)")
    surrogate_fail: str = Field("", description="task 'surrogate': regex of pruned specs that fail (fault injection)")

    def recipe(self) -> AccuracyRecipe:
        own = {"cache_dir", "surrogate_noise", "surrogate_delay_s", "surrogate_fail"}
        return AccuracyRecipe(**{k: v for k, v in self.model_dump().items() if k not in own})


class OutputSection(_Section):
    """Where the run's files go."""

    dir: str = Field("runs", description="parent folder of auto-named runs")
    name: str | None = Field(None, description="run folder name; default <model>-<mode>-<strategy>-<time>")


class ExperimentConfig(_Section):
    """A whole experiment."""

    model: ModelSection = Field(default_factory=ModelSection)
    hardware: HardwareSection = Field(default_factory=HardwareSection)
    constraints: ConstraintsSection = Field(default_factory=ConstraintsSection)
    carbon: CarbonSettings = Field(default_factory=CarbonSettings)
    workload: WorkloadOptions = Field(default_factory=WorkloadOptions)
    tech: Tech = Field(default_factory=Tech)
    cost: CostSection = Field(default_factory=CostSection)
    search: SearchSection = Field(default_factory=SearchSection)
    accuracy: AccuracySection = Field(default_factory=AccuracySection)
    output: OutputSection = Field(default_factory=OutputSection)


# ---------------------------------------------------------------- unknown-key check with suggestions


def _model_class(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel class inside `annotation` (also through `X | None`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_class(arg)
            if found:
                return found
    return None


def check_keys(raw: dict[str, Any], cls: type[BaseModel], where: str = "") -> None:
    """Raise a UserError naming the first unknown key of `raw` (recursively) and the closest valid one."""
    fields = cls.model_fields
    for key, value in raw.items():
        path = f"{where}{key}"
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.5)
            hint = f"; did you mean '{where}{close[0]}'?" if close else f"; valid keys: {', '.join(fields)}"
            raise UserError(f"config: unknown key '{path}'{hint}")
        sub = _model_class(fields[key].annotation)
        if sub is not None and isinstance(value, dict):
            check_keys(value, sub, f"{path}.")


def _one_line(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "value"
    return f"{source}: {loc}: {first['msg']}"


# ---------------------------------------------------------------- loading, overrides, printing


def preset_names() -> list[str]:
    """Names of the shipped experiment presets."""
    folder = resources.files("catransformers").joinpath("presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _read_toml(source: str) -> tuple[dict[str, Any], str]:
    """Read a config file, or a shipped preset by name."""
    path = Path(source).expanduser()
    if path.is_file():
        text, label = path.read_text(), str(path)
    elif source in preset_names():
        text, label = resources.files("catransformers").joinpath("presets", f"{source}.toml").read_text(), source
    else:
        close = difflib.get_close_matches(Path(source).stem, preset_names(), n=1, cutoff=0.5)
        hint = f" Did you mean preset '{close[0]}'?" if close else f" Presets: {', '.join(preset_names())}."
        raise UserError(f"config '{source}' is neither a file nor a preset.{hint}")
    if path.suffix in (".yaml", ".yml"):  # YAML too (PyYAML comes with transformers)
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            raise UserError(f"{label} is not valid YAML: {str(err).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise UserError(f"{label}: the top level must be a mapping of sections")
        return data, label
    try:
        return tomllib.loads(text), label
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"{label} is not valid TOML: {err}") from None


def _deep_set(raw: dict[str, Any], dotted: str, value: Any) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def load_config(source: str | None = None, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Load `source` (file path or preset name; None = the offline default), apply dotted-key overrides, validate."""
    raw, label = _read_toml(source or OFFLINE_PRESET)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _deep_set(raw, dotted, value)
    return config_from_dict(raw, label)


def config_from_dict(raw: dict[str, Any], label: str = "config") -> ExperimentConfig:
    """Validate a config dict; every problem is a one-line UserError."""
    check_keys(raw, ExperimentConfig)
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        raise UserError(_one_line(err, label)) from None
    validate_semantics(cfg)
    mode = get_mode(cfg.search.mode, cfg.search.model_objective)
    reference = {o.name: cfg.search.reference.get(o.name, DEFAULT_REFERENCE[o.name]) for o in mode.objectives}
    return cfg.model_copy(update={"search": cfg.search.model_copy(update={"reference": reference})})


def config_to_toml(cfg: ExperimentConfig) -> str:
    """The full resolved config as TOML (unset optional fields are left out; disabled constraints read 'none')."""
    data = cfg.model_dump(mode="json")
    for key, value in data["constraints"].items():
        if value is None:
            data["constraints"][key] = "none"

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if v is not None}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    text = tomli_w.dumps(strip(data))
    # one line per short array of scalars (tomli_w writes one element per line)
    return re.sub(r"\[\n((?:    [^\[\]{}\n]+,\n)+)\]",
                  lambda m: "[" + ", ".join(x.strip().rstrip(",") for x in m.group(1).splitlines()) + "]", text)


# ---------------------------------------------------------------- cross-field checks


def prune_space(cfg: ExperimentConfig) -> PruneSpace:
    """The model's pruning space: the paper's default with the config's per-encoder overrides."""
    spec = resolve_model(cfg.model.id)
    space = default_space(spec)
    full = {e.name: e for e in spec.encoders}
    for enc, knobs in cfg.model.space.items():
        if enc not in space:
            close = difflib.get_close_matches(enc, list(space), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise UserError(f"config: model.space.{enc}: '{spec.id}' has no encoder '{enc}'{hint}")
        for knob, values in knobs.items():
            where = f"model.space.{enc}.{knob}"
            if knob not in PRUNE_KEYS:
                close = difflib.get_close_matches(knob, PRUNE_KEYS, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else f"; knobs: {', '.join(PRUNE_KEYS)}"
                raise UserError(f"config: unknown key '{where}'{hint}")
            if len(values) not in (2, 3):
                raise UserError(f"config: {where} must be [low, high] or [low, high, step], got {values}")
            low, high, step = values[0], values[1], values[2] if len(values) == 3 else space[enc][knob].step
            if low > high:
                raise UserError(f"config: {where} = {values} is an inverted range (low {low} > high {high})")
            blocks = spec.block_counts[enc]
            top = {"layers": full[enc].layers, "heads": full[enc].heads}.get(knob, blocks)
            if low < 1 or high > top or step < 1:
                raise UserError(f"config: {where} = {values} is outside 1..{top} for '{spec.id}'")
            if not KnobRange(low, high, step).values():
                raise UserError(f"config: {where} = {values} is an empty range")
            space[enc][knob] = KnobRange(low, high, step)
    return space


def validate_semantics(cfg: ExperimentConfig) -> None:
    """Checks across fields that pydantic cannot express; each failure is one UserError line."""
    spec = resolve_model(cfg.model.id)
    prune_space(cfg)
    parse_prune(spec, cfg.model.prune)
    mode = get_mode(cfg.search.mode, cfg.search.model_objective)
    if cfg.search.mode == "model" and cfg.hardware.fixed is None:
        raise UserError("config: mode 'model' needs a fixed accelerator: add [hardware.fixed] with clusters, width, "
                        "depth, l2_kb, l2_bw, glb_mb")
    names = {o.name for o in mode.objectives}
    for key, value in cfg.search.reference.items():
        valid = ["accuracy", "total_carbon_kg", "latency_s", "energy_per_inference_j"]
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid: {', '.join(valid)}"
            raise UserError(f"config: unknown key 'search.reference.{key}'{hint}")
        if key in names and key != "accuracy" and value <= 0:
            raise UserError(f"config: search.reference.{key} = {value} excludes every design (costs are positive)")
    if "accuracy" in names and cfg.search.reference.get("accuracy", 0.0) >= 1.0 and cfg.accuracy.task != "surrogate":
        raise UserError(f"config: search.reference.accuracy = {cfg.search.reference['accuracy']} excludes every "
                        "design (scores are at most 1)")
    if cfg.output.name is not None and (not cfg.output.name or "/" in cfg.output.name):
        raise UserError(f"config: output.name '{cfg.output.name}' must be a plain folder name")


__all__ = [
    "MODES", "AccuracySection", "ExperimentConfig", "config_from_dict", "config_to_toml", "load_config",
    "preset_names", "prune_space", "validate_semantics",
]
