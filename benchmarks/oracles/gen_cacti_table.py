"""Generate benchmarks/fixtures/cacti_22nm.json: CACTI 7 SRAM access energy and area at 22 nm over size x port width.

Dev-only oracle (ZigZag's bundled CACTI 7 binary, offline), used to check the cost model's SRAM energy/area tables
and its port-width scaling. Regenerate with:
    /work/venv-oracle/bin/python benchmarks/oracles/gen_cacti_table.py
Each point is one 1R+1W SRAM bank (ZigZag's CactiParser defaults), `mem_type` sram, technology 0.022 um.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from importlib.metadata import version
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cacti_22nm.json"
SIZES_KB = [64, 128, 256, 512, 1024, 2048, 4096, 8192]  # the template's L2 and GLB sizes (DESIGN §3)
PORT_BITS = [64, 128, 256, 512, 1024]  # 8-128 words/cycle of int8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=FIXTURE)
    args = ap.parse_args()
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")  # CACTI: `python`
    from zigzag.cacti.cacti_parser import CactiParser

    parser = CactiParser()
    rows = []
    t0 = time.perf_counter()
    for kb in SIZES_KB:
        for bits in PORT_BITS:
            with contextlib.redirect_stdout(io.StringIO()):
                r_pj, w_pj, area = parser.get_item(mem_name=f"sram_{kb}kb_{bits}b", mem_type="sram",
                                                   size=kb * 1024 * 8, r_bw=bits, r_port=1, w_port=1, rw_port=0,
                                                   bank=1)
            rows.append({"size_kb": kb, "port_bits": bits, "read_pj_per_access": round(float(r_pj), 4),
                         "write_pj_per_access": round(float(w_pj), 4), "area_mm2": round(float(area), 5)})
            print(f"{kb:5d} KB {bits:5d} b: read {r_pj:8.2f} pJ, write {w_pj:8.2f} pJ, {area:7.3f} mm2", flush=True)
    doc = {
        "tool": "CACTI 7 (bundled with zigzag-dse)",
        "zigzag_version": version("zigzag-dse"),
        "technology_um": 0.022,
        "ports": "1 read + 1 write, 1 bank",
        "generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generation_wall_s": round(time.perf_counter() - t0, 1),
        "generator": "benchmarks/oracles/gen_cacti_table.py",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
