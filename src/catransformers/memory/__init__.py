"""Memory system: DRAM technologies as cited data, and the parts that hold a model's resident bytes."""

from catransformers.memory.technologies import (
    BYTES_PER_GB,
    CANDIDATE_COLUMNS,
    EDGE_TECHNOLOGIES,
    MEMORY_PARTS,
    NO_MEMORY,
    MemoryTechnology,
    bandwidth_gbps,
    check_capacity,
    g_per_gb,
    get,
    load_table,
    max_channels,
    memory_candidates,
    next_part_gb,
    part_channels,
    pj_per_bit,
    resolve,
    smallest_part_gb,
    sold_capacities,
    technology_names,
)

__all__ = [
    "BYTES_PER_GB", "CANDIDATE_COLUMNS", "EDGE_TECHNOLOGIES", "MEMORY_PARTS", "NO_MEMORY", "MemoryTechnology",
    "bandwidth_gbps", "check_capacity", "g_per_gb", "get", "load_table", "max_channels", "memory_candidates",
    "next_part_gb", "part_channels", "pj_per_bit", "resolve", "smallest_part_gb", "sold_capacities",
    "technology_names",
]
