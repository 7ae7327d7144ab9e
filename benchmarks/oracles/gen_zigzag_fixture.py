"""Generate benchmarks/fixtures/zigzag.json: ZigZag energy/latency of Transformer GEMMs on template-like hardware.

Dev-only oracle, never a runtime dependency. Regenerate with:
    python3 -m venv /work/venv-oracle
    /work/venv-oracle/bin/pip install scalesim==3.0.0 "numpy<2.4" zigzag-dse==3.9.1 six
    /work/venv-oracle/bin/python benchmarks/oracles/gen_zigzag_fixture.py
ZigZag's bundled CACTI 7 binary runs offline (22 nm); it caches every SRAM it characterises in its installed
`cacti_master/example_mem_pool.yaml`, so run this serially (one process).
The technology figures passed to ZigZag (MAC energy, DRAM pJ/bit, DRAM bandwidth) are the defaults of
`catransformers.hardware.tech` so that the energy ratio isolates access counting and SRAM energies.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zigzag_driver import HwPoint, run

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "zigzag.json"

# Same figures as catransformers.hardware.tech defaults (kept literal: this venv does not import the package).
# Horowitz ISSCC 2014 int8 mult 0.2 pJ + int32 add 0.1 pJ at 45 nm, x0.294 to 22 nm (DESIGN §6).
MAC_ENERGY_PJ = (0.2 + 0.1) * 0.294
# LPDDR ~8 pJ/bit (Accelergy lineage, DESIGN §6).
DRAM_PJ_PER_BIT = 8.0
# LPDDR3-1600 x 2 channels = 12.8 GB/s at 625 MHz = 20.48 B/cycle; ZigZag needs integer bits/cycle -> 20 B/cycle.
DRAM_BYTES_PER_CYCLE = 20

HW_POINTS = {
    # template keys: depth = rows, width = cols
    "d32_w32_l2_256k_bw64_glb2m": HwPoint(32, 32, 256, 64, 2, DRAM_BYTES_PER_CYCLE, MAC_ENERGY_PJ, DRAM_PJ_PER_BIT),
    "d8_w256_l2_64k_bw128_glb2m": HwPoint(8, 256, 64, 128, 2, DRAM_BYTES_PER_CYCLE, MAC_ENERGY_PJ, DRAM_PJ_PER_BIT),
}

# (source, name, m, k, n): m = tokens, k = reduction, n = output channels (one head for attention matmuls).
GEMMS = [
    ("clip-vit-b-16/vision", "q_proj", 197, 768, 768),
    ("clip-vit-b-16/vision", "ffn_up", 197, 768, 3072),
    ("clip-vit-b-16/vision", "ffn_down", 197, 3072, 768),
    ("clip-vit-b-16/vision", "attn_qk_per_head", 197, 64, 197),
    ("clip-vit-b-16/vision", "attn_av_per_head", 197, 197, 64),
    ("clip-vit-b-16/text", "q_proj", 77, 512, 512),
    ("llama-3-8b/main", "kv_proj_decode", 1, 4096, 1024),
]


def clip_layer_list() -> list[tuple[str, int, int, int, int]]:
    """Distinct GEMMs of CLIP ViT-B/16 (batch 1) with their repeat counts: (name, m, k, n, count).

    Text 12 layers x (hidden 512, FFN 2048, 8 heads of 64, 77 tokens); vision 12 x (768, 3072, 12 heads, 197 tokens);
    patch embedding 196 x 768 x 768 and the two 512-d projection heads (OpenCLIP ViT-B/16).
    """
    out = []
    for enc, (layers, hidden, ffn, heads, seq) in {"text": (12, 512, 2048, 8, 77),
                                                  "vision": (12, 768, 3072, 12, 197)}.items():
        out += [
            (f"{enc}.qkv_proj", seq, hidden, 3 * hidden, layers),
            (f"{enc}.out_proj", seq, hidden, hidden, layers),
            (f"{enc}.ffn_up", seq, hidden, ffn, layers),
            (f"{enc}.ffn_down", seq, ffn, hidden, layers),
            (f"{enc}.attn_qk_per_head", seq, 64, seq, layers * heads),
            (f"{enc}.attn_av_per_head", seq, seq, 64, layers * heads),
        ]
    out += [("vision.patch_embed", 196, 768, 768, 1), ("vision.proj", 1, 768, 512, 1), ("text.proj", 1, 512, 512, 1)]
    return out


def clip_timing(hw_name: str, verbose: bool = True) -> dict:
    """Wall time of ZigZag on every distinct CLIP ViT-B/16 GEMM on one hardware point (one run per GEMM)."""
    per_layer = []
    for name, m, k, n, count in clip_layer_list():
        res = run([(name, m, k, n)], HW_POINTS[hw_name])
        per_layer.append({"name": name, "m": m, "k": k, "n": n, "count": count, "wall_s": round(res["wall_s"], 2),
                          "energy_pj": res["layers"][0]["energy_pj"],
                          "latency_cycles": res["layers"][0]["latency_cycles"]})
        if verbose:
            print(f"timing {name:24s} {res['wall_s']:.1f}s", flush=True)
    return {
        "hw": hw_name,
        "model": "clip-vit-b-16 (batch 1, GEMMs only; ZigZag has no vector-unit ops)",
        "distinct_layers": len(per_layer),
        "wall_s_distinct_layers": round(sum(p["wall_s"] for p in per_layer), 2),
        "wall_s_all_layers_extrapolated": round(sum(p["wall_s"] * p["count"] for p in per_layer), 1),
        "energy_pj_model": sum(p["energy_pj"] * p["count"] for p in per_layer),
        "latency_cycles_model": sum(p["latency_cycles"] * p["count"] for p in per_layer),
        "per_layer": per_layer,
        "note": "each distinct GEMM is one ZigZag run (LOMA temporal-mapping search, lpf_limit 6, opt=energy);"
                " a tool evaluating every layer instance would take wall_s_all_layers_extrapolated.",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=FIXTURE)
    ap.add_argument("--skip-timing", action="store_true", help="skip the whole-CLIP layer-list timing run")
    ap.add_argument("--timing-only", action="store_true", help="print the CLIP timing as one JSON line; no write")
    args = ap.parse_args()
    if args.timing_only:
        print(json.dumps(clip_timing("d32_w32_l2_256k_bw64_glb2m", verbose=False)))
        return

    t_start = time.perf_counter()
    cases = []
    for hw_name, hw in HW_POINTS.items():
        for source, name, m, k, n in GEMMS:
            res = run([(name, m, k, n)], hw)
            layer = res["layers"][0]
            cases.append({"source": source, "layer": name, "m": m, "k": k, "n": n, "hw": hw_name, **asdict(hw),
                          "zigzag_wall_s": round(res["wall_s"], 2), **{f"zigzag_{key}": val for key, val in
                                                                       layer.items() if key != "name"}})
            print(f"{hw_name:28s} {source:22s} {name:18s} {m}x{k}x{n}: {layer['energy_pj'] / 1e6:9.2f} uJ, "
                  f"{layer['latency_cycles']:.0f} cycles, {res['wall_s']:.1f}s", flush=True)

    timing = None if args.skip_timing else clip_timing("d32_w32_l2_256k_bw64_glb2m")
    doc = {
        "tool": "ZigZag",
        "zigzag_version": version("zigzag-dse"),
        "python": platform.python_version(),
        "generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generation_wall_s": round(time.perf_counter() - t_start, 1),
        "generator": "benchmarks/oracles/gen_zigzag_fixture.py",
        "notes": [
            "m = tokens, k = reduction, n = output channels; ZigZag loops D = m, C = k, K = n.",
            "Array: D1 = rows (template depth) unrolls k, D2 = cols (template width) unrolls n: weight-stationary.",
            "Per-PE weight/partial-sum registers have zero energy (the template has no register level).",
            "L2 and GLB are 1R+1W SRAMs characterised by ZigZag's bundled CACTI 7 at 22 nm; L2 port = 8*max(rows,"
            " cols) bits, GLB port = 8*l2_bw_words bits; DRAM energy = dram_energy_pj_per_bit per bit.",
            "Partial sums are 32-bit (operand_precision O = 32, O_final = 8).",
            "Energies in pJ, one GEMM (batch 1); latency_cycles = ZigZag latency_total2 (with on/off-loading).",
            "mapping search: LOMA, lpf_limit 6, opt = energy.",
        ],
        "cases": cases,
        "clip_timing": timing,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {args.out} in {doc['generation_wall_s']} s")


if __name__ == "__main__":
    main()
