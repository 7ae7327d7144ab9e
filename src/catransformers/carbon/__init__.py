"""Carbon: embodied (ACT) and operational (usage profile x grid intensity), with cited tables."""

from catransformers.carbon.model import (
    CarbonSettings,
    embodied_die_kg,
    embodied_dram_kg,
    hourly_csv_mean,
    operational_kg,
)
from catransformers.carbon.tables import (
    DRAM_G_PER_GB,
    FAB_CI_G_PER_KWH,
    GPA_LEVELS,
    NODES_NM,
    USE_CI_G_PER_KWH,
    fab_ci,
    use_ci,
)

__all__ = [
    "DRAM_G_PER_GB", "FAB_CI_G_PER_KWH", "GPA_LEVELS", "NODES_NM", "USE_CI_G_PER_KWH", "CarbonSettings",
    "embodied_die_kg", "embodied_dram_kg", "fab_ci", "hourly_csv_mean", "operational_kg", "use_ci",
]
