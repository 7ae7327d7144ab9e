"""Settings resolution, the one path from user input to the cost model's `CostSettings`.

Every cost-related input has one dotted key in the experiment-config namespace (``carbon.region``,
``workload.batch``, ``constraints.max_latency_ms``, ``cost.timing``, ``hardware.node_nm``, ``tech.<field>``). Three
layers are merged, each overriding the one before:

1. a profile (``cost.profile``: a named bundle of assumptions, `catransformers.profiles`),
2. a config file (``--config``: the same sections as an experiment config),
3. command-line flags (`FLAGS`: each flag names its dotted key once).

A key set in a higher layer also drops the keys it competes with in lower layers (`SUPERSEDES`: ``--region``
replaces a profile's ``ci_g_per_kwh``); competing keys given in the same layer are refused (`EXCLUSIVE`). The
merged sections are validated by the same pydantic models the search config uses, so one rule holds everywhere.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import keyword
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer
from pydantic import ValidationError

from catransformers.errors import UserError
from catransformers.strict import check_finite_tree, one_line

# Sections of a config that feed the cost model (the search config adds model, search, accuracy, output).
COST_SECTIONS = ("hardware", "workload", "tech", "carbon", "cost", "constraints")


@dataclass(frozen=True)
class Flag:
    """One command-line option: its name, the dotted key it sets and its help text."""

    name: str  # option name without dashes, e.g. "max-latency-ms"
    key: str  # dotted key, e.g. "constraints.max_latency_ms"
    type: type
    help: str
    negative: str | None = None  # for booleans: the "--no-..." form

    @property
    def param(self) -> str:
        name = self.name.replace("-", "_")
        return f"{name}_" if keyword.iskeyword(name) else name

    def option(self) -> Any:
        decls = [f"--{self.name}/--{self.negative}"] if self.negative else [f"--{self.name}"]
        return typer.Option(None, *decls, help=self.help)


# Hardware parameters: scalars in `estimate` (next to --hw), comma lists in `sweep`.
HARDWARE_FLAGS: tuple[Flag, ...] = (
    Flag("clusters", "hardware.clusters", str, "tensor-core clusters, e.g. 1,2,4"),
    Flag("width", "hardware.width", str, "systolic array columns, e.g. 32,64,128,256"),
    Flag("depth", "hardware.depth", str, "systolic array rows, e.g. 2,4,8,16,32,64"),
    Flag("l2-kb", "hardware.l2_kb", str, "per-cluster L2 KB, e.g. 64,128,256,512,1024"),
    Flag("l2-bw", "hardware.l2_bw", str, "GLB->L2 words/cycle, e.g. 32,64,128"),
    Flag("glb-mb", "hardware.glb_mb", str, "global buffer MB, e.g. 2,4,8"),
    Flag("freq-mhz", "hardware.freq_mhz", str, "clock in MHz (default 625)"),
    Flag("precision-bits", "hardware.precision_bits", str, "operand bits: 4, 8 (default) or 16"),
    Flag("node", "hardware.node_nm", str, "technology node in nm (default 22)"),
    Flag("dram", "hardware.dram_type", str, "DRAM technology (default lpddr3_20nm; none = on chip only)"),
    Flag("dram-gb", "hardware.dram_gb", str, "DRAM capacity in GB (default 1; 0 = on chip only)"),
    Flag("dram-channels", "hardware.dram_channels", str, "DRAM channels (default: the part's bus)"),
    Flag("memory", "hardware.memory", str, "sweep: memory chosen per design, 'auto' (edge LPDDR parts and on chip "
         "only) or technologies, e.g. lpddr4,lpddr5,none"),
    Flag("dram-bw-gbps", "hardware.dram_bw_gbps", str, "DRAM bandwidth in GB/s (default: channels x rate x width)"),
)
TEMPLATE_FLAG_NAMES = ("clusters", "width", "depth", "l2-kb", "l2-bw", "glb-mb")

# Workload, cost-model, carbon and constraint options shared by `estimate` and `sweep`.
FLAGS: tuple[Flag, ...] = (
    Flag("profile", "cost.profile", str, "assumption bundle: default or paper (any flag still overrides it)"),
    Flag("timing", "cost.timing", str, "systolic timing: scalesim, pipelined or ideal"),
    Flag("batch", "workload.batch", int, "batch size (default 1)"),
    Flag("tokens", "workload.tokens", int, "text/encoder tokens (CLIP text default 77)"),
    Flag("image-size", "workload.image_size", int, "vision input size in pixels (default 224)"),
    Flag("prefill-tokens", "workload.prefill_tokens", int, "causal LMs: prompt tokens"),
    Flag("decode-tokens", "workload.decode_tokens", int, "causal LMs: generated tokens (default 0)"),
    Flag("dataflow", "cost.dataflow", str, "ws (default) or os"),
    Flag("double-buffer", "cost.double_buffered", bool, "WS weight loads overlap the previous fold (default on)",
         negative="no-double-buffer"),
    Flag("region", "carbon.region", str, "use region for grid intensity (default california)"),
    Flag("ci-g-per-kwh", "carbon.ci_g_per_kwh", float, "use-phase grid intensity in g/kWh (instead of --region)"),
    Flag("ci-csv", "carbon.ci_csv", str, "hourly intensity CSV averaged over the active hours"),
    Flag("lifetime-years", "carbon.lifetime_years", float, "deployment lifetime (default 3)"),
    Flag("inferences-per-s", "carbon.inferences_per_s", float, "inference rate while active (default 1)"),
    Flag("hours-per-day", "carbon.hours_per_day", float, "active hours per day (default 6)"),
    Flag("total-inferences", "carbon.total_inferences", float, "lifetime inference count (instead of the rate)"),
    Flag("fleet", "carbon.fleet_size", int, "devices deployed with the design (fleet totals; default 1)"),
    Flag("idle", "carbon.include_idle", bool, "add idle (leakage) power over non-busy time", negative="no-idle"),
    Flag("idle-power-w", "carbon.idle_power_w", float, "idle power in W (default: the chip's leakage)"),
    Flag("gpa", "carbon.gpa", int, "fab gas abatement: 95 (default), 97 or 99"),
    Flag("fab", "carbon.fab_location", str, "fab location (default taiwan)"),
    Flag("fab-ci-g-per-kwh", "carbon.fab_ci_g_per_kwh", float, "fab grid intensity in g/kWh (instead of --fab)"),
    Flag("yield", "carbon.fab_yield", float, "fab yield (default 0.875)"),
    Flag("max-latency-ms", "constraints.max_latency_ms", str, "latency cap (default 50) or 'none'"),
    Flag("max-area-mm2", "constraints.max_area_mm2", str, "area cap (default 31.99) or 'none'"),
    Flag("max-tops", "constraints.max_tops", str, "peak TOPS cap (default 20.48) or 'none'"),
    Flag("check-duty-cycle", "constraints.check_duty_cycle", bool,
         "designs must keep up with the usage profile (default on)", negative="no-check-duty-cycle"),
    Flag("check-dram-capacity", "constraints.check_dram_capacity", bool,
         "weights (+ KV cache) must fit in the DRAM (default on)", negative="no-check-dram-capacity"),
)

# Bought devices (`estimate --device`): how the device is used and charged.
DEVICE_FLAGS: tuple[Flag, ...] = (
    Flag("precision", "device.precision", str, "--device: int8 (default) or fp16"),
    Flag("allocation", "device.allocation", str, "--device: auto (edge dedicated, datacenter shared), dedicated "
         "or shared"),
    Flag("utilisation", "device.utilisation", float, "--device, shared: fraction of the device's life it is busy"),
    Flag("pue", "device.pue", float, "--device: data-centre PUE applied to operational energy"),
    Flag("reuse", "device.reuse", bool, "--device: already owned, so its embodied carbon is sunk", negative="no-reuse"),
    Flag("devices-dir", "device.devices_dir", str, "--device: folder of extra device TOML files"),
)

# Keys that replace competing keys of lower layers (a profile or a config file) when a higher layer sets them.
_USE_CI = ("carbon.region", "carbon.ci_g_per_kwh", "carbon.ci_csv")
_FAB_CI = ("carbon.fab_location", "carbon.fab_ci_g_per_kwh")
SUPERSEDES: dict[str, tuple[str, ...]] = {
    **{k: tuple(o for o in _USE_CI if o != k) for k in _USE_CI},
    **{k: tuple(o for o in _FAB_CI if o != k) for k in _FAB_CI},
    **{k: ("carbon.total_inferences",) for k in ("carbon.inferences_per_s", "carbon.lifetime_years",
                                                  "carbon.hours_per_day")},
}
# Keys that contradict each other when given in the same layer.
EXCLUSIVE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the use-phase grid intensity", _USE_CI),
    ("the fab grid intensity", _FAB_CI),
    ("the lifetime inference count", ("carbon.total_inferences", "carbon.inferences_per_s")),
)


# ---------------------------------------------------------------- dotted keys


def get_dotted(raw: dict[str, Any], dotted: str) -> Any:
    node: Any = raw
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def has_dotted(raw: dict[str, Any], dotted: str) -> bool:
    *parents, leaf = dotted.split(".")
    node: Any = raw
    for key in parents:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return isinstance(node, dict) and leaf in node


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = raw
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            if child is not None:
                raise UserError(f"config: '{key}' must be a table of settings, not {type(child).__name__}")
            child = node[key] = {}
        node = child
    node[leaf] = value


def drop_dotted(raw: dict[str, Any], dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    node: Any = raw
    for key in parents:
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
    if isinstance(node, dict):
        node.pop(leaf, None)


def flatten(raw: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted keys of every leaf of a nested dict (lists are leaves)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out |= flatten(value, dotted + ".")
        else:
            out[dotted] = value
    return out


# ---------------------------------------------------------------- layers


def flag_name(key: str) -> str:
    """The command-line spelling of a dotted key ('--region' for carbon.region), else the key itself."""
    return next((f"--{f.name}" for f in (*FLAGS, *HARDWARE_FLAGS, *DEVICE_FLAGS) if f.key == key), key)


def check_exclusive(keys: set[str], where: str, as_flags: bool = False) -> None:
    """Refuse competing keys given together in one layer (e.g. --region with --ci-g-per-kwh)."""
    for what, group in EXCLUSIVE:
        given = [flag_name(k) if as_flags else k for k in group if k in keys]
        if len(given) > 1:
            raise UserError(f"{where}: {' and '.join(given)} both set {what}; give only one")


def merge_layer(base: dict[str, Any], layer: dict[str, Any], where: str, as_flags: bool = False) -> dict[str, Any]:
    """`base` overridden by the dotted-key dict `layer`; competing keys of `base` are dropped first."""
    check_exclusive(set(layer), where, as_flags)
    out = copy.deepcopy(base)
    for key in layer:
        for other in SUPERSEDES.get(key, ()):
            drop_dotted(out, other)
    for key, value in layer.items():
        set_dotted(out, key, value)
    return out


def profile_layer(name: str | None) -> dict[str, Any]:
    """The dotted overrides of profile `name` (None or 'default': none)."""
    if name in (None, "default"):
        return {}
    from catransformers.profiles import get_profile

    return dict(get_profile(name).overrides)


def resolve(config: dict[str, Any] | None, flags: dict[str, Any], where: str = "config",
            list_hardware: bool = False) -> dict[str, Any]:
    """Sections from profile < config < flags (dotted keys), with the profile recorded as ``cost.profile``.

    `list_hardware` wraps scalar ``hardware.*`` values of the profile and the config into lists (a space).
    """
    config = copy.deepcopy(config or {})
    check_finite_tree(config)
    for key, value in flags.items():
        check_finite_tree(value, flag_name(key))
    check_exclusive(set(flatten(config)), where)
    name = flags.get("cost.profile") or get_dotted(config, "cost.profile") or "default"
    prof = profile_layer(name)
    if list_hardware:
        prof = {k: ([v] if k.startswith("hardware.") and not isinstance(v, list) else v) for k, v in prof.items()}
    merged = merge_layer({}, prof, f"profile {name}")
    merged = merge_layer(merged, flatten(config), where)
    merged = merge_layer(merged, flags, "command line", as_flags=True)
    set_dotted(merged, "cost.profile", name)
    return merged


def cost_settings(sections: dict[str, Any], latency_capped: bool = True, where: str = "config") -> Any:
    """`CostSettings` from resolved sections; the latency cap is dropped where latency is an objective."""
    from catransformers.cost import CostSettings

    cost = dict(sections.get("cost") or {})
    try:
        settings = CostSettings(workload=sections.get("workload") or {}, tech=sections.get("tech") or {},
                                carbon=sections.get("carbon") or {}, constraints=sections.get("constraints") or {},
                                **cost)
    except ValidationError as err:
        raise UserError(one_line(err, where, name_of=_with_flag)) from None
    except TypeError as err:  # a section that is not a table, e.g. `carbon = 5`
        raise UserError(f"{where}: {err}") from None
    if not latency_capped:
        settings = settings.model_copy(update={"constraints": settings.constraints.model_copy(
            update={"max_latency_ms": None})})
    return settings


def _with_flag(loc: str) -> str:
    key = loc if "." in loc else f"cost.{loc}"  # CostSettings' own fields come from the [cost] section
    flag = flag_name(key)
    return key if flag == key else f"{key} ({flag})"


# ---------------------------------------------------------------- typer commands with the flag table


def with_flags(flags: tuple[Flag, ...]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command one option per flag; the command receives them as `overrides` (dotted key -> value)."""

    def wrap(fn: Callable[..., None]) -> Callable[..., None]:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn)  # the command module's string annotations, evaluated in its namespace
        own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()
               if p.name != "overrides"]
        extra = [inspect.Parameter(f.param, inspect.Parameter.KEYWORD_ONLY, default=f.option(),
                                   annotation=f.type | None) for f in flags]
        by_param = {f.param: f for f in flags}

        def command(**kwargs: Any) -> None:
            overrides = {by_param[p].key: kwargs.pop(p) for p in list(kwargs) if p in by_param}
            fn(**kwargs, overrides={k: v for k, v in overrides.items() if v is not None})

        command.__signature__ = sig.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
        command.__doc__ = fn.__doc__
        command.__name__ = fn.__name__
        return command

    return wrap


def unknown_key(key: str, valid: list[str], where: str) -> UserError:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f"; valid: {', '.join(valid)}"
    return UserError(f"{where}: unknown key '{key}'{hint}")
