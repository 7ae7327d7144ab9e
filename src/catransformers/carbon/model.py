"""Embodied (ACT) and operational carbon, vectorised over hardware configs.

Embodied die (ACT, Gupta et al. ISCA 2022): area_cm2 x (CI_fab x EPA + GPA + MPA) / yield.
Embodied DRAM (ACT): g_per_GB x GB / yield.
Operational: energy per inference x inferences over the lifetime x grid intensity of the use region,
optionally plus idle (leakage) power over the lifetime's non-busy time.
Defaults are the CATransformers paper's: GPA 95 %, fab in Taiwan, yield 0.875, California use,
3 years x 1 inference/s x 6 h/day.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import Field, field_validator

from catransformers.carbon.tables import (
    MPA_G_PER_CM2,
    NODE_EPA_KWH_PER_CM2,
    check_gpa,
    dram_g_per_gb,
    fab_ci,
    gpa_g_per_cm2,
    use_ci,
)
from catransformers.errors import UserError
from catransformers.strict import StrictModel

SECONDS_PER_YEAR = 365 * 24 * 3600.0  # 365-day years, as the paper's 3 y x 6 h/day x 1/s = 23.65 M inferences
J_PER_KWH = 3.6e6


# Physical sanity ranges (stated limits): the dirtiest grids are ~1,000 g CO2e/kWh (coal), so 2,000 is a typo guard.
MAX_GRID_G_PER_KWH = 2000.0
MAX_LIFETIME_YEARS = 100.0
MAX_INFERENCES_PER_S = 1e7


class CarbonSettings(StrictModel):
    """Fab, use region and usage profile; every default is the paper's."""

    gpa: int = Field(95, description="fab gas abatement level: 95, 97 or 99 %")
    fab_location: str = "taiwan"
    fab_ci_g_per_kwh: float | None = Field(None, ge=0, le=MAX_GRID_G_PER_KWH,
                                           description="overrides fab_location's intensity")
    fab_yield: float = Field(0.875, gt=0, le=1)
    region: str = "california"
    ci_g_per_kwh: float | None = Field(None, ge=0, le=MAX_GRID_G_PER_KWH,
                                       description="use-phase intensity; overrides region")
    ci_csv: str | None = Field(None, description="hourly intensity CSV, averaged over the active hours")
    lifetime_years: float = Field(3.0, gt=0, le=MAX_LIFETIME_YEARS)
    inferences_per_s: float = Field(1.0, ge=0, le=MAX_INFERENCES_PER_S)
    hours_per_day: float = Field(6.0, gt=0, le=24)
    active_start_hour: float = Field(9.0, ge=0, lt=24, description="start of the daily active window (CSV)")
    total_inferences: float | None = Field(None, ge=0, le=MAX_INFERENCES_PER_S * 3600 * 24 * 365 * MAX_LIFETIME_YEARS,
                                           description="overrides lifetime x rate x hours")
    include_idle: bool = Field(False, description="add idle power over the lifetime's non-busy time")
    idle_power_w: float | None = Field(None, ge=0, le=1e5, description="idle power; None = the chip's leakage")
    fleet_size: int = Field(1, ge=1, le=10**10, description="devices deployed with this design (fleet totals)")

    @field_validator("gpa")
    @classmethod
    def _gpa(cls, v: int) -> int:
        try:
            return check_gpa(v)
        except UserError as err:
            raise ValueError(str(err)) from None

    def model_post_init(self, _ctx: object) -> None:
        fab_ci(self.fab_location)  # unknown names fail early, listing what is allowed
        if self.ci_g_per_kwh is None and self.ci_csv is None:
            use_ci(self.region)
        if self.ci_g_per_kwh is None and self.ci_csv is not None:
            self.use_ci_g_per_kwh()  # a malformed CSV fails here, at the boundary, not mid-evaluation

    def active_seconds(self) -> float:
        """Seconds of use over the lifetime (lifetime x 365 days x active hours per day)."""
        return self.lifetime_years * 365 * self.hours_per_day * 3600

    def inferences(self) -> float:
        """Inferences over the lifetime (23.65 M at the defaults)."""
        if self.total_inferences is not None:
            return self.total_inferences
        return self.active_seconds() * self.inferences_per_s

    def use_ci_g_per_kwh(self) -> float:
        """Use-phase grid intensity: explicit number, else hourly CSV over the active window, else region."""
        if self.ci_g_per_kwh is not None:
            return self.ci_g_per_kwh
        if self.ci_csv is not None:
            return hourly_csv_mean(self.ci_csv, self.active_start_hour, self.hours_per_day)
        return use_ci(self.region)

    def use_ci_source(self) -> str:
        if self.ci_g_per_kwh is not None:
            return "given"
        if self.ci_csv is not None:
            return f"{self.ci_csv}, mean over {self.hours_per_day:g} h from {self.active_start_hour:g}:00"
        return self.region

    def die_g_per_cm2(self, node_nm: int) -> float:
        """ACT die carbon per cm2 at `node_nm` (1,576.8 g/cm2 at 22 nm, GPA 95, Taiwan, yield 0.875)."""
        ci = self.fab_ci_g_per_kwh if self.fab_ci_g_per_kwh is not None else fab_ci(self.fab_location)
        epa = NODE_EPA_KWH_PER_CM2[node_nm]
        return (ci * epa + gpa_g_per_cm2(node_nm, self.gpa) + MPA_G_PER_CM2) / self.fab_yield


def _lookup(values: np.ndarray, fn) -> np.ndarray:
    uniq, inv = np.unique(np.asarray(values), return_inverse=True)
    return np.array([fn(u.item() if hasattr(u, "item") else u) for u in uniq], dtype=float)[inv]


def embodied_die_kg(area_mm2: np.ndarray, node_nm: np.ndarray, settings: CarbonSettings) -> np.ndarray:
    """Die embodied carbon per config (kg)."""
    per_cm2 = _lookup(np.asarray(node_nm).astype(int), settings.die_g_per_cm2)
    return np.asarray(area_mm2, dtype=float) / 100.0 * per_cm2 / 1000.0


def embodied_dram_kg(dram_type: np.ndarray, dram_gb: np.ndarray, settings: CarbonSettings) -> np.ndarray:
    """DRAM embodied carbon per config (kg)."""
    per_gb = _lookup(np.asarray(dram_type), lambda t: dram_g_per_gb(str(t)))
    return per_gb * np.asarray(dram_gb, dtype=float) / settings.fab_yield / 1000.0


def operational_kg(energy_per_inference_j: np.ndarray, latency_s: np.ndarray, leakage_w: np.ndarray,
                   settings: CarbonSettings) -> dict[str, np.ndarray]:
    """Operational carbon over the lifetime: {'operational_kg', 'active_kg', 'idle_kg'} (kg)."""
    ci = settings.use_ci_g_per_kwh()
    n = settings.inferences()
    active = np.asarray(energy_per_inference_j, dtype=float) * n / J_PER_KWH * ci / 1000.0
    idle = np.zeros_like(active)
    if settings.include_idle:
        busy_s = n * np.asarray(latency_s, dtype=float)
        idle_s = np.maximum(settings.lifetime_years * SECONDS_PER_YEAR - busy_s, 0.0)
        power = np.asarray(leakage_w, dtype=float) if settings.idle_power_w is None else settings.idle_power_w
        idle = power * idle_s / J_PER_KWH * ci / 1000.0
    return {"operational_kg": active + idle, "active_kg": active, "idle_kg": idle}


def hourly_csv_mean(path: str | Path, start_hour: float, hours: float) -> float:
    """Mean intensity over the daily window [start, start + hours) from an hourly CSV.

    Accepted layouts: a `datetime`/`timestamp` column (any length, averaged per hour of day) or an `hour`
    column (0-23), or 24 plain rows; the intensity is the column named like ``ci``/``carbon_intensity``, else
    the last numeric column. The file is read once per content version (path, size, mtime): every cost-model
    call asks for the intensity, and a search or an uncertainty run makes thousands of them.
    """
    p = Path(path)
    if not p.exists():
        raise UserError(f"hourly intensity CSV {p} not found")
    stat = p.stat()
    return _hourly_csv_mean(str(p.resolve()), stat.st_size, stat.st_mtime_ns, float(start_hour), float(hours))


@lru_cache(maxsize=32)
def _hourly_csv_mean(path: str, _size: int, _mtime_ns: int, start_hour: float, hours: float) -> float:
    import pandas as pd

    p = Path(path)
    try:
        df = pd.read_csv(p)
    except Exception as err:  # pandas raises several parser errors
        raise UserError(f"cannot read {p} as CSV: {err}") from None
    cols = {c.lower().strip(): c for c in df.columns}
    ci_col = next((cols[c] for c in cols if c.startswith("ci") or "intensity" in c), None)
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and c.lower().strip() != "hour"]
    ci_col = ci_col or (numeric[-1] if numeric else None)
    if ci_col is None:
        raise UserError(f"{p}: no numeric intensity column (name one 'ci_g_per_kwh')")
    time_col = next((cols[c] for c in cols if c in ("datetime", "timestamp", "time", "date")), None)
    if time_col is not None:
        hour = pd.to_datetime(df[time_col], errors="coerce").dt.hour
        if hour.isna().any():
            raise UserError(f"{p}: column '{time_col}' has values that are not timestamps")
    elif "hour" in cols:
        raw_hour = pd.to_numeric(df[cols["hour"]], errors="coerce")
        if raw_hour.isna().any() or (raw_hour != raw_hour.round()).any() or (raw_hour < 0).any() or (
                raw_hour > 23).any():
            raise UserError(f"{p}: column '{cols['hour']}' must hold whole hours 0-23")
        hour = raw_hour.astype(int)
    elif len(df) == 24:
        hour = pd.Series(range(24))
    else:
        raise UserError(f"{p}: need a 'datetime' or 'hour' column, or exactly 24 rows")
    values = pd.to_numeric(df[ci_col], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan)) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(f"{p}: intensity '{df[ci_col].iloc[row]}' in row {row + 2} is not a number >= 0 g/kWh")
    if (values > MAX_GRID_G_PER_KWH).any():
        raise UserError(f"{p}: intensities above {MAX_GRID_G_PER_KWH:g} g/kWh (column '{ci_col}'); give g/kWh, "
                        "not g/MWh or mg/kWh")
    per_hour = values.groupby(hour.values).mean().reindex(range(24))
    weights = np.zeros(24)
    for h in range(24):  # overlap of [h, h+1) with the (possibly wrapping) active window
        for shift in (0, 24):
            lo, hi = start_hour, start_hour + hours
            weights[h] += max(0.0, min(h + 1 + shift, hi) - max(h + shift, lo))
    vals = per_hour.to_numpy(dtype=float)
    if np.isnan(vals[weights > 0]).any():
        raise UserError(f"{p}: missing intensity for some active hours")
    return float(np.nansum(vals * weights) / weights.sum())
