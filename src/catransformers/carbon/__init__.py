"""Carbon: embodied (ACT) and operational (usage profile x grid intensity), with cited tables."""

from catransformers.carbon.model import (
    CarbonSettings,
    embodied_die_kg,
    embodied_dram_kg,
    hourly_csv_mean,
    operational_kg,
)
from catransformers.carbon.tables import (
    FAB_CI_G_PER_KWH,
    GPA_LEVELS,
    NODES_NM,
    USE_CI_G_PER_KWH,
    dram_g_per_gb,
    fab_ci,
    use_ci,
)

__all__ = [
    "FAB_CI_G_PER_KWH", "GPA_LEVELS", "NODES_NM", "USE_CI_G_PER_KWH", "CarbonSettings",
    "dram_g_per_gb", "embodied_die_kg", "embodied_dram_kg", "fab_ci", "hourly_csv_mean", "operational_kg", "use_ci",
]
