"""Apply one joint sample to the cost model's settings: the seam between the sampler and the cost model.

``kind = "absolute"`` draws replace the setting; ``kind = "factor"`` draws multiply the setting's resolved
value (for the grid intensities: the region's or fab location's figure when no number is given). Keys of the
``dram`` section are factors on the memory technology's figures: ``dram.pj_per_bit`` multiplies
``tech.dram_energy_scale`` (which scales every technology's access energy, or the LPDDR / DDR overrides where
given), ``dram.g_per_gb`` has no setting (the embodied DRAM carbon is multiplied by it where used); both factors
are returned. Keys naming a setting that does not exist are returned in ``skipped`` and change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from catransformers.carbon.model import CarbonSettings
from catransformers.carbon.tables import fab_ci
from catransformers.errors import UserError
from catransformers.hardware.tech import Tech
from catransformers.uncertainty.table import DistributionTable, load_table

DRAM_ENERGY_FIELD = "dram_energy_scale"  # Tech field the dram.pj_per_bit factor multiplies


@dataclass(frozen=True)
class SampleSettings:
    """The settings of one joint sample."""

    tech: Tech
    carbon: CarbonSettings
    dram_pj_per_bit_factor: float = 1.0
    dram_g_per_gb_factor: float = 1.0
    skipped: tuple[str, ...] = field(default_factory=tuple)


def _carbon_base(carbon: CarbonSettings, name: str) -> float:
    """A carbon setting's resolved value (what the model would use), the base of a factor."""
    if name == "ci_g_per_kwh":
        return carbon.use_ci_g_per_kwh()
    if name == "fab_ci_g_per_kwh":
        return carbon.fab_ci_g_per_kwh if carbon.fab_ci_g_per_kwh is not None else fab_ci(carbon.fab_location)
    return float(getattr(carbon, name))


def settings_for_sample(samples: Mapping[str, np.ndarray], i: int, tech: Tech | None = None,
                        carbon: CarbonSettings | None = None,
                        table: DistributionTable | None = None) -> SampleSettings:
    """The Tech and CarbonSettings of joint sample ``i`` of ``samples`` (from ``draw``), on top of the given ones."""
    tech = tech or Tech()
    carbon = carbon or CarbonSettings()
    tab = table or load_table()
    n = len(next(iter(samples.values()))) if samples else 0
    if not 0 <= i < n:
        raise UserError(f"sample index {i} is outside the {n} samples drawn")
    tech_upd: dict[str, float] = {}
    carbon_upd: dict[str, float] = {}
    factors = {"pj_per_bit": 1.0, "g_per_gb": 1.0}
    skipped: list[str] = []
    for key, values in samples.items():
        if key not in tab.figure:
            raise UserError(f"no distribution for '{key}'; the table has: {', '.join(tab.keys())}")
        dist, x = tab.figure[key], float(values[i])
        section, name = key.split(".", 1)
        if section == "device":
            continue  # a bought device's figure, applied by catransformers.uncertainty.devices
        if section == "dram" and name in factors:
            factors[name] = x  # the table allows only factors in the dram section
        elif section == "tech" and name in Tech.model_fields:
            tech_upd[name] = x * float(getattr(tech, name)) if dist.kind == "factor" else x
        elif section == "carbon" and name in CarbonSettings.model_fields:
            carbon_upd[name] = x * _carbon_base(carbon, name) if dist.kind == "factor" else x
        else:
            skipped.append(key)
    tech_upd[DRAM_ENERGY_FIELD] = tech_upd.get(DRAM_ENERGY_FIELD, float(tech.dram_energy_scale)) * factors["pj_per_bit"]
    return SampleSettings(
        tech=Tech.model_validate({**tech.model_dump(), **tech_upd}),
        carbon=CarbonSettings.model_validate({**carbon.model_dump(), **carbon_upd}),
        dram_pj_per_bit_factor=factors["pj_per_bit"], dram_g_per_gb_factor=factors["g_per_gb"],
        skipped=tuple(skipped),
    )
