"""Generate benchmarks/fixtures/scalesim_v3.json: SCALE-Sim v3 cycle counts for Transformer GEMMs (run once).

Dev-only oracle, never a runtime dependency. Regenerate with:
    python3 -m venv /work/venv-oracle
    /work/venv-oracle/bin/pip install scalesim==3.0.0 "numpy<2.4"
    /work/venv-oracle/bin/python benchmarks/oracles/gen_scalesim_fixture.py [--jobs 2] [--limit N]
Each case runs in its own process and temp folder (SCALE-Sim keeps state in module objects and writes reports).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import platform
import sys
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scalesim_driver import run_gemm

BANDWIDTH_UNIT = "words/cycle per interface (ifmap, filter, ofmap each); 1-byte words"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "scalesim_v3.json"

# Encoder dims (hidden, ffn, heads, head_dim, kv_heads, tokens) as in catransformers.models.REGISTRY
# (CLIP ViT-B/16: OpenCLIP; BERT-base: Devlin et al. 2019; Llama-3-8B: Meta config.json; TinyCLIP: Wu et al. 2023).
DIMS = {
    "clip-vit-b-16/text": (512, 2048, 8, 64, 8, 77),
    "clip-vit-b-16/vision": (768, 3072, 12, 64, 12, 197),
    "bert-base/main": (768, 3072, 12, 64, 12, 128),
    "llama-3-8b/main": (4096, 14336, 32, 128, 8, 512),
    "tinyclip-8m-16/text": (256, 1024, 4, 64, 4, 77),
    "tinyclip-8m-16/vision": (256, 1024, 4, 64, 4, 197),
}


def gemm(source: str, layer: str, tokens: int | None = None) -> tuple[str, str, int, int, int]:
    """(source, layer, m, k, n) of one GEMM of an encoder; `tokens` overrides M (decode/prefill of an LLM)."""
    hidden, ffn, heads, head_dim, kv_heads, seq = DIMS[source]
    m = seq if tokens is None else tokens
    attn = heads * head_dim
    shapes = {
        "q_proj": (m, hidden, attn),
        "kv_proj": (m, hidden, kv_heads * head_dim),
        "out_proj": (m, attn, hidden),
        "ffn_up": (m, hidden, ffn),
        "ffn_down": (m, ffn, hidden),
        "attn_qk_per_head": (m, head_dim, seq),  # scores = Q_h @ K_h^T over `seq` keys (KV cache for decode)
        "attn_av_per_head": (m, seq, head_dim),  # context = P_h @ V_h
        "patch_embed": (seq - 1, 3 * 16 * 16, hidden),  # 196 patches x (3*16*16) -> hidden, as a GEMM
    }
    return source, layer, *shapes[layer]


@dataclass(frozen=True)
class Case:
    """One SCALE-Sim run; `bandwidth` None means stall-free (InterfaceBandwidth: CALC)."""

    source: str
    layer: str
    m: int
    k: int
    n: int
    rows: int
    cols: int
    dataflow: str
    bandwidth: int | None = None
    sram_kb: tuple[int, int, int] = (1024, 1024, 1024)


def stall_free_cases() -> list[Case]:
    """At least 40 stall-free cases: model GEMMs x square/non-square arrays x both dataflows."""
    picks = [
        # (gemm, rows, cols)
        (gemm("clip-vit-b-16/vision", "q_proj"), 32, 32),  # the known 167,615 / 139,439 case
        (gemm("clip-vit-b-16/vision", "ffn_up"), 32, 128),
        (gemm("clip-vit-b-16/vision", "ffn_down"), 64, 128),
        (gemm("clip-vit-b-16/vision", "attn_qk_per_head"), 8, 64),
        (gemm("clip-vit-b-16/vision", "attn_av_per_head"), 16, 32),
        (gemm("clip-vit-b-16/vision", "patch_embed"), 64, 256),
        (gemm("clip-vit-b-16/text", "q_proj"), 16, 64),
        (gemm("clip-vit-b-16/text", "out_proj"), 64, 64),
        (gemm("clip-vit-b-16/text", "ffn_up"), 8, 256),
        (gemm("clip-vit-b-16/text", "ffn_down"), 32, 256),
        (gemm("clip-vit-b-16/text", "attn_qk_per_head"), 2, 32),
        (gemm("clip-vit-b-16/text", "attn_av_per_head"), 4, 128),
        (gemm("bert-base/main", "q_proj"), 16, 128),
        (gemm("bert-base/main", "ffn_up"), 64, 256),
        (gemm("bert-base/main", "attn_qk_per_head"), 4, 32),
        (gemm("llama-3-8b/main", "kv_proj", tokens=1), 64, 256),  # decode step
        (gemm("llama-3-8b/main", "attn_qk_per_head", tokens=1), 8, 128),  # decode vs a 512-token KV cache
        (gemm("llama-3-8b/main", "attn_av_per_head", tokens=1), 32, 64),
        (gemm("llama-3-8b/main", "attn_qk_per_head", tokens=16), 16, 256),  # small prefill chunk
        (gemm("tinyclip-8m-16/text", "q_proj"), 8, 32),
        (gemm("tinyclip-8m-16/vision", "ffn_up"), 16, 256),
        (gemm("tinyclip-8m-16/vision", "ffn_down"), 32, 64),
    ]
    return [Case(src, layer, m, k, n, r, c, df) for (src, layer, m, k, n), r, c in picks for df in ("ws", "os")]


def bandwidth_cases() -> list[Case]:
    """Bandwidth-limited cases (InterfaceBandwidth: USER), 8-32 words/cycle per operand interface, 1-byte words."""
    picks = [
        (gemm("clip-vit-b-16/text", "q_proj"), 16, 64, "ws", 8, (64, 64, 64)),
        (gemm("clip-vit-b-16/text", "q_proj"), 16, 64, "ws", 32, (64, 64, 64)),
        (gemm("clip-vit-b-16/text", "q_proj"), 16, 64, "os", 16, (64, 64, 64)),
        (gemm("clip-vit-b-16/text", "ffn_up"), 32, 128, "ws", 16, (128, 128, 64)),
        (gemm("clip-vit-b-16/vision", "attn_qk_per_head"), 8, 64, "os", 8, (32, 32, 32)),
        (gemm("tinyclip-8m-16/vision", "ffn_up"), 16, 256, "os", 32, (64, 256, 64)),
        (gemm("bert-base/main", "attn_qk_per_head"), 4, 32, "ws", 16, (16, 16, 16)),
        (gemm("llama-3-8b/main", "attn_qk_per_head", tokens=16), 16, 256, "ws", 32, (32, 64, 32)),
        # operands fit their (half, active) SRAM buffers: only compulsory traffic plus SCALE-Sim's per-fold writes
        (gemm("clip-vit-b-16/text", "out_proj"), 32, 64, "ws", 8, (512, 1024, 512)),
        (gemm("tinyclip-8m-16/text", "q_proj"), 16, 32, "os", 8, (256, 256, 256)),
        (gemm("clip-vit-b-16/vision", "attn_av_per_head"), 16, 128, "ws", 16, (256, 256, 256)),
    ]
    return [Case(src, layer, m, k, n, r, c, df, bw, sram) for (src, layer, m, k, n), r, c, df, bw, sram in picks]


def extra_bandwidth_cases() -> list[Case]:
    """Held-out bandwidth-limited cases added after the buffer-policy model was written (`--append-extra`).

    Chosen to differ from the first 11: odd sizes, 8x8 to 32x64 arrays, 12 and 24 words/cycle, SRAMs that are
    thrashed, partly fitting or write-bound.
    """
    picks = [
        (gemm("tinyclip-8m-16/text", "ffn_down"), 16, 32, "ws", 16, (32, 32, 32)),
        (gemm("bert-base/main", "attn_av_per_head"), 8, 16, "os", 8, (16, 16, 16)),
        (gemm("clip-vit-b-16/vision", "attn_av_per_head"), 32, 32, "ws", 12, (16, 32, 32)),
        (gemm("tinyclip-8m-16/vision", "q_proj"), 32, 16, "os", 16, (32, 64, 32)),
        (gemm("clip-vit-b-16/text", "attn_qk_per_head"), 8, 8, "ws", 8, (8, 8, 8)),
        (gemm("bert-base/main", "q_proj"), 32, 64, "os", 24, (128, 128, 128)),
    ]
    return [Case(src, layer, m, k, n, r, c, df, bw, sram) for (src, layer, m, k, n), r, c, df, bw, sram in picks]


def _key(rec: dict) -> tuple:
    return (rec["m"], rec["k"], rec["n"], rec["rows"], rec["cols"], rec["dataflow"], rec["bandwidth"],
            tuple(rec["sram_kb"]))


def closed_form_cycles(c: Case) -> int:
    """DESIGN §4 stall-free estimate, used here only to order and budget the runs (not stored)."""
    if c.dataflow == "ws":
        return math.ceil(c.k / c.rows) * math.ceil(c.n / c.cols) * (2 * c.rows + c.m + c.cols - 2) - 1
    return math.ceil(c.m / c.rows) * math.ceil(c.n / c.cols) * (c.k + c.rows + c.cols - 2) - 1


def run_case(c: Case) -> dict:
    """Run one case and return its fixture record."""
    r = run_gemm(c.m, c.k, c.n, c.rows, c.cols, c.dataflow, c.bandwidth, c.sram_kb)
    rec = asdict(c)
    rec["sram_kb"] = list(c.sram_kb)
    rec["bandwidth_unit"] = BANDWIDTH_UNIT if c.bandwidth else None
    rec["scalesim_total_cycles"] = r.total_cycles
    rec["scalesim_stall_cycles"] = r.stall_cycles
    rec["scalesim_total_cycles_incl_prefetch"] = r.total_cycles_incl_prefetch
    rec["scalesim_wall_s"] = round(r.wall_s, 2)
    rec.update({f"scalesim_{key}": val for key, val in r.accesses.items()})
    print(f"{c.source:24s} {c.layer:18s} {c.m}x{c.k}x{c.n} {c.rows}x{c.cols} {c.dataflow} bw={c.bandwidth} "
          f"-> {r.total_cycles} (stall {r.stall_cycles}) in {r.wall_s:.1f}s", flush=True)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="parallel SCALE-Sim processes (each up to ~1.3 GB)")
    ap.add_argument("--limit", type=int, default=None, help="run only the first N cases (smoke test; no write)")
    ap.add_argument("--out", type=Path, default=FIXTURE)
    ap.add_argument("--append-extra", action="store_true",
                    help="run only extra_bandwidth_cases() missing from --out and append them (old cases untouched)")
    args = ap.parse_args()

    cases = stall_free_cases() + bandwidth_cases()
    if args.append_extra:
        old = json.loads(args.out.read_text())
        have = {_key(rec) for rec in old["cases"]}
        cases = [c for c in extra_bandwidth_cases() if _key({**asdict(c), "sram_kb": list(c.sram_kb)}) not in have]
    if args.limit:
        cases = cases[: args.limit]
    # Longest first so the pool finishes together; sim time grows with cycles x (rows + 2 cols) demand entries.
    order = sorted(range(len(cases)), key=lambda i: -closed_form_cycles(cases[i]) * (cases[i].rows + 2 * cases[i].cols)
                   * (3 if cases[i].bandwidth else 1))
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=1) as pool:
        results = pool.map(run_case, [cases[i] for i in order], chunksize=1)
    records = [None] * len(cases)
    for i, rec in zip(order, results, strict=True):
        records[i] = rec
    wall_s = time.perf_counter() - t0
    if args.append_extra:
        old["cases"].extend(records)
        old.setdefault("appended", []).append({
            "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cases": len(records),
            "scalesim_version": version("scalesim"), "numpy_version": version("numpy"), "wall_s": round(wall_s, 1),
            "what": "extra_bandwidth_cases(): held-out bandwidth-limited cases for the buffer-policy model"})
        args.out.write_text(json.dumps(old, indent=1) + "\n")
        print(f"appended {len(records)} cases to {args.out} in {wall_s:.0f} s")
        return
    doc = {
        "tool": "SCALE-Sim",
        "scalesim_version": version("scalesim"),
        "numpy_version": version("numpy"),
        "python": platform.python_version(),
        "generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generation_wall_s": round(wall_s, 1),
        "generator": "benchmarks/oracles/gen_scalesim_fixture.py",
        "notes": [
            "m = tokens (rows of the input), k = reduction, n = output channels; SCALE-Sim GEMM CSV is Layer,M,N,K.",
            "rows = array height (ArrayHeight), cols = array width (ArrayWidth); word size 1 byte.",
            "scalesim_total_cycles is COMPUTE_REPORT 'Total Cycles' (compute + stalls, no initial DRAM prefetch).",
            "bandwidth null: InterfaceBandwidth CALC (stall-free); otherwise USER mode with IfmapSRAMBankBandwidth ="
            " FilterSRAMBankBandwidth = Bandwidth = the value, so each operand has its own interface of that width.",
            "sram_kb = [ifmap, filter, ofmap] SRAM sizes in KB (double-buffered, half active).",
            "scalesim_sram_*/scalesim_dram_* are DETAILED_ACCESS_REPORT word counts (ifmap/filter reads, ofmap"
            " writes); in USER mode DRAM counts include SCALE-Sim's re-fetches (prefetch lines requested).",
        ],
        "cases": records,
    }
    if args.limit:
        print(json.dumps(doc, indent=1)[:2000])
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(records)} cases to {args.out} in {wall_s:.0f} s")


if __name__ == "__main__":
    main()
