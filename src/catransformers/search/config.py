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
from pydantic import BaseModel, Field, ValidationError, field_validator

from catransformers.accuracy.recipe import AccuracyRecipe
from catransformers.carbon.model import CarbonSettings
from catransformers.cost import Constraints
from catransformers.errors import UserError
from catransformers.hardware.config import TEMPLATE_KEYS, HardwareConfig, HardwareSpace
from catransformers.hardware.systolic import DEFAULT_TIMING
from catransformers.hardware.tech import Tech
from catransformers.models import PRUNE_KEYS, KnobRange, PruneSpace, default_space, parse_prune, resolve_model
from catransformers.search.modes import DEFAULT_REFERENCE, MODES, get_mode
from catransformers.settings import flatten, has_dotted, profile_layer, set_dotted
from catransformers.strict import StrictModel, check_finite_tree, one_line
from catransformers.workload.ops import WorkloadOptions

PAPER_TRIALS = 100  # the paper's Ax budget (arXiv 2505.01386: 100 trials per search)
OFFLINE_PRESET = "offline_default"


class _Section(StrictModel):
    """A config section: unknown keys, NaN/inf and booleans-for-numbers are refused (see catransformers.strict)."""


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
    devices: list[str] = Field(default_factory=list, description="bought devices in the space ('all' or ids, "
                               "`catransformers devices`); nested strategy: every device per pruned model")
    device_batches: list[int] = Field(default_factory=lambda: [1], description="batch sizes tried on each device")
    template: bool = Field(True, description="with devices: also the accelerator template (false: devices only)")

    def space(self) -> HardwareSpace:
        """The template's space (without the fixed config and the device list)."""
        return HardwareSpace(**self.model_dump(exclude={"fixed", "devices", "device_batches", "template"}))


class ConstraintsSection(Constraints):
    """Deterministic design constraints, checked exactly before any fine-tune ('none' disables one)."""


class CostSection(_Section):
    """Cost-model options beyond workload, technology and carbon (see `catransformers.cost.CostSettings`)."""

    profile: str = Field("default", description="assumption bundle applied under this config (catransformers.profiles)")
    dataflow: Literal["ws", "os"] = Field("ws", description="ws (weight-stationary) or os (output-stationary)")
    double_buffered: bool = Field(True, description="scalesim timing, WS: next fold's weights load during the current "
                                  "fold")
    timing: str = Field(DEFAULT_TIMING, description="systolic timing: scalesim, pipelined or ideal")


class SearchSection(_Section):
    """How the search runs."""

    mode: str = Field("carbon", description=f"one of {', '.join(MODES)}")
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
    seed: int = Field(0, ge=0, le=2**32 - 1, description="seed of Ax and of every random choice")
    workers: int = Field(1, ge=1, le=256, description="trials evaluated at once on this machine")
    ray_address: str | None = Field(None, description="address of an existing Ray cluster, e.g. 'auto' or 'ip:6379'")
    model_objective: Literal["energy", "carbon"] = Field("energy", description="cost objective of the model mode")
    objective_quantile: float | None = Field(None, gt=0, lt=1, description="optimise this quantile of the carbon / "
                                             "energy objectives under the uncertainty table (e.g. 0.9), not the "
                                             "nominal value")
    uncertainty_samples: int = Field(200, ge=10, le=5000, description="joint samples for objective_quantile")
    reference: dict[str, float] = Field(
        default_factory=dict, description="reference point per objective column (defaults: the paper's)"
    )
    footprint: bool = Field(False, description="measure the search's own carbon with codecarbon (offline mode)")
    verbose: bool = Field(False, description="show the libraries' own log lines (codecarbon, Ax)")
    fused_logei: bool = Field(True, description="use BoTorch's fused C++ qLogNEHVI kernel where it builds (about 3x "
                              "faster proposals here); false: the pure-PyTorch path")
    footprint_country: str = Field("USA", description="ISO-3 country code for codecarbon's offline grid intensity")

    @field_validator("mode", "strategy", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in MODES:
            close = difflib.get_close_matches(v, MODES, n=1)
            raise ValueError(f"unknown mode '{v}'" + (f" (did you mean {close[0]}?)" if close else "")
                             + f"; modes: {', '.join(MODES)}")
        return v


class AccuracySection(AccuracyRecipe):
    """The accuracy recipe, plus where results are cached and the surrogate's knobs (task = 'surrogate')."""

    cache_dir: str | None = Field(None, description="accuracy result cache shared by runs (None: the accuracy "
                                  "stage's default, $CATRANSFORMERS_CACHE or ~/.cache/catransformers)")
    surrogate_noise: float = Field(0.003, ge=0, description="task 'surrogate': noise sd of the score")
    surrogate_delay_s: float = Field(0.0, ge=0, description="task 'surrogate': sleep per evaluation (tests)")
    surrogate_fail: str = Field("", description="task 'surrogate': regex of pruned specs that fail (fault injection)")

    @field_validator("surrogate_fail")
    @classmethod
    def _regex(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as err:
            raise ValueError(f"not a regular expression ({err})") from None
        return v

    @field_validator("cache_dir")
    @classmethod
    def _cache_dir(cls, v: str | None) -> str | None:
        if v is not None and Path(v).expanduser().exists() and not Path(v).expanduser().is_dir():
            raise ValueError(f"{v} is a file; give a folder for the accuracy cache")
        return v

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


EXPERIMENT_SECTIONS: tuple[str, ...] = tuple(ExperimentConfig.model_fields)


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


# ---------------------------------------------------------------- loading, overrides, printing


def preset_names() -> list[str]:
    """Names of the shipped experiment presets."""
    folder = resources.files("catransformers").joinpath("presets")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_config_file(source: str) -> tuple[dict[str, Any], str]:
    """Read a TOML/YAML config file, or a shipped preset by name: (raw dict, label for messages)."""
    if not source or not str(source).strip():
        raise UserError(f"--config: give a file or a preset name (presets: {', '.join(preset_names())})")
    path = Path(source).expanduser()
    if path.is_dir():
        raise UserError(f"--config {source} is a folder; give a TOML file (or a run folder to --resume)")
    if path.is_file():
        label = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{label} is not a text file; give a TOML config") from None
        except OSError as err:
            raise UserError(f"{label}: cannot read it ({err.strerror})") from None
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
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise UserError(f"{label} is not valid TOML: {err}") from None
    if not isinstance(data, dict):
        raise UserError(f"{label}: the top level must be a mapping of sections")
    return data, label


def apply_profile(raw: dict[str, Any], profile: str | None = None) -> dict[str, Any]:
    """`raw` with the profile's figures filled in wherever `raw` does not set them (a config beats its profile).

    The profile is `profile`, else ``cost.profile`` of `raw`; hardware values become one-value lists of the space
    (and fill the fixed accelerator of the model-only mode).
    """
    cost = raw.get("cost") if isinstance(raw.get("cost"), dict) else {}
    name = profile or cost.get("profile")
    layer = profile_layer(name)
    out = dict(raw)
    given = set(flatten(raw))
    for key, value in layer.items():
        if key.startswith("hardware."):
            leaf = key.split(".", 1)[1]
            if not has_dotted(raw, key):
                set_dotted(out, key, [value])
            if isinstance(raw.get("hardware"), dict) and isinstance(raw["hardware"].get("fixed"), dict) \
                    and leaf not in raw["hardware"]["fixed"]:
                set_dotted(out, f"hardware.fixed.{leaf}", value)
        elif key not in given and not any(k in given for k in _superseding(key)):
            set_dotted(out, key, value)
    if name:
        set_dotted(out, "cost.profile", name)
    return out


def _superseding(key: str) -> tuple[str, ...]:
    """Keys whose presence in a config replaces the profile's `key` (e.g. region replaces ci_g_per_kwh)."""
    from catransformers.settings import SUPERSEDES

    return tuple(k for k, dropped in SUPERSEDES.items() if key in dropped)


def load_config(source: str | None = None, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Load `source` (file path or preset name; None = the offline default), apply dotted-key overrides, validate."""
    raw, label = read_config_file(OFFLINE_PRESET if source is None else source)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            set_dotted(raw, dotted, value)
    return config_from_dict(raw, label)


def config_from_dict(raw: dict[str, Any], label: str = "config") -> ExperimentConfig:
    """Validate a config dict (its profile applied first); every problem is a one-line UserError."""
    for name, value in raw.items():
        if name in ExperimentConfig.model_fields and not isinstance(value, dict):
            raise UserError(f"{label}: [{name}] must be a table of settings, not {type(value).__name__} {value!r}")
    check_keys(raw, ExperimentConfig)
    check_finite_tree(raw)
    from catransformers.settings import check_exclusive

    check_exclusive(set(flatten(raw)), label)
    raw = apply_profile(raw)
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except ValidationError as err:
        raise UserError(one_line(err, label)) from None
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

    def strip(node: Any) -> Any:  # TOML has no null: unset values (and [None] lists: 'derived') are left out
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if v is not None and v != [None]}
        if isinstance(node, list):
            return [strip(v) for v in node if v is not None]
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
    check_output_name(cfg.output.dir, cfg.output.name)
    if cfg.hardware.devices and cfg.search.strategy != "nested":
        raise UserError(f"config: hardware.devices needs the nested strategy (every device per pruned model), not "
                        f"'{cfg.search.strategy}'")
    if cfg.hardware.devices:
        from catransformers.devices.catalogue import resolve_devices

        resolve_devices("all" if cfg.hardware.devices == ["all"] else cfg.hardware.devices)
    uses_ax = mode.search_model or cfg.search.strategy != "nested"  # else: the hardware mode's exhaustive sweep
    dram_choice = any(m != "none" for m in cfg.hardware.memory)  # a DRAM technology: its part is a parameter
    ax_hw = mode.search_hardware and cfg.search.strategy != "nested" and (
        dram_choice or any(len(getattr(cfg.hardware, k)) > 1 for k in TEMPLATE_KEYS))
    ax_knobs = mode.search_model and any(len(r.values()) > 1 for knobs in prune_space(cfg).values()
                                         for r in knobs.values())
    if uses_ax and not (ax_hw or ax_knobs):
        raise UserError("config: nothing to search: every pruning knob (and, for joint/random, every hardware "
                        "parameter) has a single value; widen [model.space] or [hardware]")


def check_output_name(parent: str, name: str | None) -> None:
    """A run's name must be one plain folder inside `parent` ('..', absolute names and escaping symlinks refused)."""
    if name is None:
        return
    if not name.strip() or name in (".", "..") or "/" in name or "\\" in name or Path(name).is_absolute():
        raise UserError(f"config: output.name '{name}' must be a plain folder name inside output.dir; "
                        "use --out for any other path")
    root = Path(parent).expanduser().resolve()
    target = (Path(parent).expanduser() / name).resolve()
    if target.parent != root:
        raise UserError(f"config: output.name '{name}' resolves to {target}, outside output.dir {root} "
                        "(a symlink?); use --out for any other path")


__all__ = [
    "EXPERIMENT_SECTIONS", "MODES", "AccuracySection", "ExperimentConfig", "config_from_dict", "config_to_toml",
    "load_config", "preset_names", "prune_space", "read_config_file", "validate_semantics",
]
