"""Carbon tables: ACT per-node fab figures, fab and use-region grid intensities, DRAM embodied carbon.

Sources: ACT (Gupta et al., "ACT: Designing Sustainable Computer Systems with an Architectural Carbon
Modeling Tool", ISCA 2022) and its released 2023 tables (facebookresearch/ACT); the 22 nm row is the one in the
CATransformers authors' ACT branch; use-region intensities of the CATransformers paper (arXiv 2505.01386).
"""

from __future__ import annotations

import difflib

from catransformers.errors import UserError

# ACT logic fab figures per node: energy per area (kWh/cm2), gas per area at 95 % / 99 % abatement (g/cm2),
# materials per area (g/cm2).  22 nm: the CATransformers authors' ACT branch (released with arXiv 2505.01386).
NODE_EPA_KWH_PER_CM2 = {28: 0.90, 22: 1.077, 20: 1.20, 14: 1.20, 10: 1.475, 7: 2.15, 5: 2.75, 3: 3.25}
NODE_GPA95_G_PER_CM2 = {28: 175.0, 22: 188.28, 20: 190.0, 14: 200.0, 10: 240.0, 7: 350.0, 5: 430.0, 3: 470.0}
NODE_GPA99_G_PER_CM2 = {28: 100.0, 22: 110.0, 20: 110.0, 14: 125.0, 10: 150.0, 7: 200.0, 5: 225.0, 3: 275.0}
MPA_G_PER_CM2 = 500.0  # ACT materials procurement per area, all nodes
NODES_NM = tuple(sorted(NODE_EPA_KWH_PER_CM2, reverse=True))
GPA_LEVELS = (95, 97, 99)  # 97 = mean of the 95 % and 99 % abatement rows (this project's interpolation)

# Fab-location grid carbon intensity, g CO2e/kWh (ACT's 2023 location table, Gupta et al. ISCA 2022 tool release).
FAB_CI_G_PER_KWH = {
    "world": 481.0, "india": 713.0, "australia": 549.0, "taiwan": 642.0, "singapore": 471.0, "usa": 369.0,
    "europe": 300.0, "brazil": 98.0, "iceland": 7.3, "korea": 402.0, "japan": 446.0,
}

# Use-region grid carbon intensity, g CO2e/kWh: the CATransformers paper's regions (arXiv 2505.01386 §5:
# California 224, British Columbia 68, Taiwan 524); the others are ACT's 2023 location figures (as the fab table).
USE_CI_G_PER_KWH = {
    "california": 224.0, "british_columbia": 68.0, "taiwan": 524.0,
    **{k: v for k, v in FAB_CI_G_PER_KWH.items() if k != "taiwan"},
}

# DRAM embodied carbon per GB: ACT's DRAM table and the other technologies live in the memory technology table
# (catransformers/memory/technologies.toml, each figure with its source); `dram_g_per_gb` reads it.


def _unknown(what: str, value: object, allowed: list[str]) -> UserError:
    close = difflib.get_close_matches(str(value), allowed, n=2, cutoff=0.5)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return UserError(f"unknown {what} '{value}'{hint}; allowed: {', '.join(allowed)}")


def check_node(node_nm: int) -> int:
    if node_nm not in NODE_EPA_KWH_PER_CM2:
        nearest = sorted(NODES_NM, key=lambda n: (abs(n - node_nm), n))[:2]  # numeric, not spelling, neighbours
        raise UserError(f"no ACT fab data for a {node_nm} nm node (nearest: {' or '.join(map(str, nearest))} nm); "
                        f"allowed: {', '.join(map(str, NODES_NM))}")
    return node_nm


def check_dram(dram_type: str) -> str:
    """The canonical memory technology name ('none' = on chip only), or UserError listing the names."""
    from catransformers.hardware.dram import memory_name

    return memory_name(dram_type)


def dram_g_per_gb(dram_type: str) -> float:
    """Embodied g CO2e per GB of a memory technology (0 for on-chip only)."""
    from catransformers.memory import NO_MEMORY, g_per_gb

    name = check_dram(dram_type)
    return 0.0 if name == NO_MEMORY else g_per_gb(name)


def check_gpa(gpa: int) -> int:
    if gpa not in GPA_LEVELS:
        raise UserError(f"unknown GPA abatement level {gpa}; allowed: {', '.join(map(str, GPA_LEVELS))}")
    return gpa


def _region_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def fab_ci(location: str) -> float:
    key = _region_key(location)
    if key not in FAB_CI_G_PER_KWH:
        raise _unknown("fab location", location, list(FAB_CI_G_PER_KWH))
    return FAB_CI_G_PER_KWH[key]


def use_ci(region: str) -> float:
    key = _region_key(region)
    if key not in USE_CI_G_PER_KWH:
        raise _unknown("use region", region, list(USE_CI_G_PER_KWH))
    return USE_CI_G_PER_KWH[key]


def gpa_g_per_cm2(node_nm: int, gpa: int) -> float:
    check_node(node_nm)
    check_gpa(gpa)
    if gpa == 95:
        return NODE_GPA95_G_PER_CM2[node_nm]
    if gpa == 99:
        return NODE_GPA99_G_PER_CM2[node_nm]
    return (NODE_GPA95_G_PER_CM2[node_nm] + NODE_GPA99_G_PER_CM2[node_nm]) / 2
