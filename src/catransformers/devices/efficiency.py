"""Achieved fractions of peak per device class, and the per-kernel launch overhead.

compute: fraction of peak dense throughput a tuned inference runtime reaches on GEMMs; memory: fraction of peak
DRAM bandwidth; launch_us: fixed time per kernel of our operator table (vector ops inside attention are taken as
fused, as in FlashAttention-style kernels). `compute` and `launch_us` of edge-gpu, datacenter-gpu and cpu are fitted by
``benchmarks/bench_validate_devices.py --fit`` on the calibration rows of
``benchmarks/fixtures/device_measurements.csv`` (MLPerf Inference closed-division results); `memory` is not fitted
(no memory-bound calibration point) and is an assumption with the range given. npu has no calibration point:
all three of its values are assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Efficiency:
    """Achieved fraction of peak compute and of peak DRAM bandwidth, and seconds of overhead per kernel."""

    compute: float
    memory: float
    launch_us: float
    fitted: bool
    note: str


# Memory: assumed 0.8 of peak (range 0.6-0.9) for every class; not fitted, no memory-bound calibration point.
MEMORY_EFFICIENCY = 0.8

CLASS_EFFICIENCY: dict[str, Efficiency] = {
    # Fitted on MLPerf Inference v3.1 BERT-99, Jetson AGX Orin 64GB SingleStream (mean latency) and Offline.
    "edge-gpu": Efficiency(0.795, MEMORY_EFFICIENCY, 7.5, True, "fitted on Jetson AGX Orin 64GB (MLPerf v3.1 BERT-99)"),
    # Fitted on MLPerf Inference v3.1 BERT-99: L4 SingleStream (mean latency) and H100 SXM Offline.
    "datacenter-gpu": Efficiency(0.575, MEMORY_EFFICIENCY, 3.0, True,
                                 "fitted on L4 and H100 SXM (MLPerf v3.1 BERT-99)"),
    # Fitted on MLPerf Inference v3.1 BERT-99 Offline, 2-socket Xeon Platinum 8480+ (AMX int8) per socket; the
    # launch term is not identifiable from a throughput point and stays at the 10 us assumption. Arm cores untested.
    "cpu": Efficiency(0.355, MEMORY_EFFICIENCY, 10.0, True, "fitted on Xeon 8480+ (MLPerf v3.1 BERT-99); Arm untested"),
    # Assumption (no calibration point): the Edge TPU runs Transformers partly on the host CPU; wide uncertainty.
    "npu": Efficiency(0.30, 0.6, 20.0, False, "assumption, no calibration measurement"),
}


def efficiency_for(device_class: str, override: dict[str, float] | None = None) -> Efficiency:
    """The class efficiencies, with a device TOML's [efficiency] override applied."""
    base = CLASS_EFFICIENCY[device_class]
    if not override:
        return base
    return Efficiency(override.get("compute", base.compute), override.get("memory", base.memory),
                      override.get("launch_us", base.launch_us), False, "device override")
