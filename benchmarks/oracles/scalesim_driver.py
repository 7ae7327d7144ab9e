"""Run one GEMM through SCALE-Sim v3 in a private temp folder and return its reported cycles.

Dev-only: needs the oracle venv (/work/venv-oracle, `pip install scalesim==3.0.0 "numpy<2.4"`), never the package venv.
Facts about SCALE-Sim 3.0.0 this driver relies on (read from its installed source):
- GEMM topology CSV row `Layer,M,N,K,` maps to ifmap M x K, filter K x N (num_filt = N): M = tokens (our M),
  N = output channels (our N), K = reduction (our K); the trailing comma is required (last field is dropped).
- The layout CSV is always parsed; a header line is required (rows unused when custom layouts are off).
- `InterfaceBandwidth: USER` takes the ifmap and filter backing bandwidth from the `[layout]` keys
  IfmapSRAMBankBandwidth / FilterSRAMBankBandwidth and the ofmap one from `Bandwidth`; we set all three to the
  same words/cycle (word = 1 byte) so each operand has its own interface of that width.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass

CONFIG_TEMPLATE = """[general]
run_name = oracle

[run_presets]
InterfaceBandwidth = {bw_mode}
UseRamulatorTrace = False

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
ifmapsramszkB = {ifmap_kb}
filtersramszkB = {filter_kb}
ofmapsramszkB = {ofmap_kb}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = {dataflow}
Bandwidth = {bw}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = {bw}
IfmapSRAMBankNum = 1
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = {bw}
FilterSRAMBankNum = 1
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40
"""

LAYOUT_HEADER = (
    "Layer name,IFMAP Height Intraline Factor,IFMAP Width Intraline Factor,Filter Height Intraline Factor,"
    "Filter Width Intraline Factor,Channel Intraline Factor,Num Filter Intraline Factor,\n"
)


@dataclass(frozen=True)
class ScaleSimResult:
    """Cycles SCALE-Sim reports in COMPUTE_REPORT.csv for one layer."""

    total_cycles: int  # "Total Cycles": compute + stall cycles of the array
    total_cycles_incl_prefetch: int  # "Total Cycles (incl. prefetch)": first DRAM read to last DRAM write
    stall_cycles: int
    wall_s: float
    accesses: dict[str, int]  # DETAILED_ACCESS_REPORT counts: sram_/dram_ x ifmap_reads, filter_reads, ofmap_writes


def run_gemm(
    m: int,
    k: int,
    n: int,
    rows: int,
    cols: int,
    dataflow: str,
    bandwidth_words_per_cycle: int | None = None,
    sram_kb: tuple[int, int, int] = (1024, 1024, 1024),
) -> ScaleSimResult:
    """Simulate C[m,n] = A[m,k] @ B[k,n] on a rows x cols array; `bandwidth_words_per_cycle=None` is CALC mode."""
    import time

    from scalesim.scale_sim import scalesim  # imported here: only the oracle venv has it

    user_bw = bandwidth_words_per_cycle is not None
    with tempfile.TemporaryDirectory(prefix="scalesim_") as tmp:
        cfg = os.path.join(tmp, "oracle.cfg")
        topo = os.path.join(tmp, "gemm.csv")
        layout = os.path.join(tmp, "layout.csv")
        with open(cfg, "w") as f:
            f.write(
                CONFIG_TEMPLATE.format(
                    bw_mode="USER" if user_bw else "CALC",
                    rows=rows,
                    cols=cols,
                    ifmap_kb=sram_kb[0],
                    filter_kb=sram_kb[1],
                    ofmap_kb=sram_kb[2],
                    dataflow=dataflow,
                    bw=bandwidth_words_per_cycle if user_bw else 10,
                )
            )
        with open(topo, "w") as f:
            f.write(f"Layer,M,N,K,\ngemm,{m},{n},{k},\n")
        with open(layout, "w") as f:
            f.write(LAYOUT_HEADER)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, layout=layout,
                           input_type_gemm=True)
            sim.run_scale(top_path=os.path.join(tmp, "out"))
        wall_s = time.perf_counter() - t0
        with open(os.path.join(tmp, "out", "oracle", "COMPUTE_REPORT.csv")) as f:
            f.readline()
            fields = [x.strip() for x in f.readline().split(",")]
        with open(os.path.join(tmp, "out", "oracle", "DETAILED_ACCESS_REPORT.csv")) as f:
            head = [x.strip() for x in f.readline().split(",")]
            detail = dict(zip(head, (x.strip() for x in f.readline().split(",")), strict=False))
    accesses = {
        f"{level.lower()}_{op.lower()}_{kind.lower()}": int(float(detail[f"{level} {op} {kind}"]))
        for level in ("SRAM", "DRAM") for op, kind in (("IFMAP", "Reads"), ("Filter", "Reads"), ("OFMAP", "Writes"))
    }
    return ScaleSimResult(
        total_cycles_incl_prefetch=int(float(fields[1])),
        total_cycles=int(float(fields[2])),
        stall_cycles=int(float(fields[3])),
        wall_s=wall_s,
        accesses=accesses,
    )


if __name__ == "__main__":
    for df in ("ws", "os"):
        print(df, run_gemm(197, 768, 768, 32, 32, df))
