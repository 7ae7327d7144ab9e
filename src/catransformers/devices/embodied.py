"""Embodied carbon of a bought device: its published product footprint, else a component model.

Component model: chip = die area x ACT's g/cm2 for its node and the fab settings (the project's ACT model);
memory = GB x a per-technology factor; board/thermal/packaging = the device file's cited or estimated `board_kg`.
"""

from __future__ import annotations

from dataclasses import dataclass

from catransformers.carbon.model import CarbonSettings
from catransformers.carbon.tables import dram_g_per_gb
from catransformers.devices.schema import DeviceFile

# NVIDIA, "Product Carbon Footprint (PCF) Summary: NVIDIA HGX H100" (2024): 1,312 kg CO2e per 8-GPU HGX H100
# board (cradle to gate); memory 42 %, chips 25 %, thermal 18 % of it. The board holds 8 x 80 GB HBM3.
HGX_H100_PCF_KG = 1312.0
HGX_H100_GPUS = 8
HGX_H100_MEMORY_SHARE = 0.42
HGX_H100_HBM_GB = HGX_H100_GPUS * 80.0
# HBM kg/GB derived from that footprint: 0.42 x 1312 kg / 640 GB = 0.861 kg/GB.
HBM_KG_PER_GB = HGX_H100_MEMORY_SHARE * HGX_H100_PCF_KG / HGX_H100_HBM_GB
# LLMCarbon (Faiz et al., ICLR 2024) DRAM factor, kg CO2e per GB: the upper end of our memory ranges.
LLMCARBON_KG_PER_GB = 0.4

# Memory technology -> kg CO2e per GB. LPDDR4/4X/5: ACT's lpddr4 row; GDDR6 and DDR5: ACT's ddr4_10nm row (nearest
# technology in ACT's DRAM table, Gupta et al. ISCA 2022); HBM: derived from NVIDIA's HGX H100 footprint above.
MEMORY_KG_PER_GB = {
    "hbm": HBM_KG_PER_GB,
    "lpddr": dram_g_per_gb("lpddr4") / 1000.0,
    "gddr": dram_g_per_gb("ddr4_10nm") / 1000.0,
    "ddr": dram_g_per_gb("ddr4_10nm") / 1000.0,
}
MEMORY_FACTOR_SOURCE = {
    "hbm": "NVIDIA HGX H100 PCF 2024 (42 % of 1,312 kg over 640 GB HBM3)",
    "lpddr": "ACT DRAM table, lpddr4 (Gupta et al. ISCA 2022)",
    "gddr": "ACT DRAM table, ddr4_10nm as proxy (Gupta et al. ISCA 2022)",
    "ddr": "ACT DRAM table, ddr4_10nm as proxy (Gupta et al. ISCA 2022)",
}


@dataclass(frozen=True)
class DeviceEmbodied:
    """Embodied carbon of one whole device (kg CO2e) and how it was obtained."""

    chip_kg: float
    memory_kg: float
    board_kg: float
    total_kg: float
    method: str


def device_embodied(dev: DeviceFile, carbon: CarbonSettings, memory_factor: float = 1.0) -> DeviceEmbodied:
    """Whole-device embodied carbon: the product footprint if the file gives one, else the component model.

    `memory_factor` multiplies the memory technology's kg per GB (component model only; 1 = the cited factor).
    """
    node = int(dev.act_node_nm.value)
    chip = dev.die_area_mm2.value / 100.0 * carbon.die_g_per_cm2(node) / 1000.0
    memory = dev.memory_gb.value * MEMORY_KG_PER_GB[dev.memory_kind] * memory_factor
    board = dev.board_kg.value
    if dev.product_kg is not None:
        total = dev.product_kg.value
        if dev.product_chip_share is not None and dev.product_memory_share is not None:
            c, m = dev.product_chip_share.value, dev.product_memory_share.value
            return DeviceEmbodied(total * c, total * m, total * (1 - c - m), total, "product footprint")
        # No published split: share the total in the component model's proportions, so the parts add up to it.
        parts = chip + memory + board
        scale = total / parts if parts > 0 else 0.0
        return DeviceEmbodied(chip * scale, memory * scale, board * scale, total, "product footprint")
    return DeviceEmbodied(chip, memory, board, chip + memory + board, "component model")
