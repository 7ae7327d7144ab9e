"""The paper's Table 2 under our profiles and timing modes, the Table-2 fit of the paper profile, and area vs its flow.

Table 2 (Wang et al., arXiv 2505.01386): the minimum-carbon and minimum-latency design of seven CLIP models at
20 TOPS (hardware-only search). Each design is evaluated on the paper's hardware (L2 bandwidth is not printed in
the table: 128 words/cycle is used) under `--profile default|paper` x `--timing scalesim|pipelined|ideal`, and
printed beside the paper's carbon and latency with ratios, the median |error|s, and whether the order of the
seven models by their min-carbon design's carbon is unchanged (Spearman rank correlation).
Targets for the paper profile (issue 7): median |carbon error| <= 10 %, median |latency error| <= 25 %, order kept.

    python benchmarks/bench_paper_tables.py                # tables (both profiles x three timing modes)
    python benchmarks/bench_paper_tables.py --fit          # refit the paper profile's unpublished figures
    python benchmarks/bench_paper_tables.py --area [--cores-json PATH]   # area vs the paper flow
    python benchmarks/bench_paper_tables.py --area-fit     # refit the area terms on the 60 given points
    python benchmarks/bench_paper_tables.py --nodes clip-vit-b-16         # min-carbon node, two usages

`--fit`: the paper flow's register-file and SRAM access energies are not published; fit them (non-negative least
squares on relative carbon error, operational carbon being linear in both) on Table 2 only, once per candidate
use-phase intensity (68 g/kWh of the released config, 224 of the text), and print residuals for both.
`--area`: the area model against the released flow's areas: the 60 given points (benchmarks/fixtures copy of
../shared/validation/paper_flow_area_calibration.csv) and, with `--cores-json` (the released estimator's
arch_configs/cores.json, all 3,240 points; not shipped here), the 1,020 held-out distinct points.
Data are read from ../shared/validation relative to the repository root, else from benchmarks/fixtures/.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "benchmarks" / "fixtures"
SHARED = ROOT.parent / "shared" / "validation"
TIMINGS = ("scalesim", "pipelined", "ideal")
ENERGY_KEYS = ("mac", "register_file", "l2", "glb", "dram", "vector", "leakage")
PROFILE_NAMES = ("default", "paper")
L2_BW_WORDS = 128  # not printed in Table 2 (stated choice)


def _data(name: str) -> Path:
    for folder in (SHARED, FIXTURES):
        if (folder / name).exists():
            return folder / name
    raise SystemExit(f"{name} not found in {SHARED} or {FIXTURES}")


def table2() -> pd.DataFrame:
    return pd.read_csv(_data("paper_table2.csv"), comment="#")


def resolved(profile: str, timing: str | None, extra: dict[str, Any] | None = None
             ) -> tuple[Any, dict[str, Any], str]:
    """(CostSettings, hardware overrides, timing mode) for a profile + timing (+ extra dotted overrides)."""
    from catransformers.cost import CostSettings
    from catransformers.hardware.systolic import DEFAULT_TIMING
    from catransformers.profiles import get_profile

    flags = dict(extra or {})
    if timing:
        flags["cost.timing"] = timing
    if timing == "scalesim":  # SCALE-Sim v3's exact fold-by-fold count: no weight-preload overlap
        flags["cost.double_buffered"] = False
    has_timing = "timing" in CostSettings.model_fields
    try:  # the one settings path, where it exists
        from catransformers.settings import cost_settings, resolve
    except ImportError:
        resolve = None
    if resolve is not None:
        sections = resolve(None, flags | {"cost.profile": profile})
        mode = (sections.get("cost") or {}).get("timing") or DEFAULT_TIMING
        if not has_timing:  # until CostSettings carries the mode, pass it to the estimator here
            sections["cost"] = {k: v for k, v in (sections.get("cost") or {}).items() if k != "timing"}
        return cost_settings(sections, latency_capped=False), dict(sections.get("hardware") or {}), mode
    from catransformers.carbon.model import CarbonSettings
    from catransformers.hardware import Tech

    merged = dict(get_profile(profile).overrides) | flags
    pick = lambda pre: {k.split(".", 1)[1]: v for k, v in merged.items() if k.startswith(pre)}  # noqa: E731
    cost = pick("cost.")
    mode = cost.get("timing") or DEFAULT_TIMING
    kw = {k: v for k, v in cost.items() if k in CostSettings.model_fields}
    settings = CostSettings(tech=Tech(**pick("tech.")), carbon=CarbonSettings(**pick("carbon.")), **kw)
    return settings, pick("hardware."), mode


def design_row(spec: Any, hw: Any, settings: Any, timing: str) -> dict[str, Any]:
    """Carbon, latency, energy and its breakdown of one design, through the cost pipeline (evaluate_designs)."""
    from catransformers.cost import CostSettings, evaluate_designs

    if "timing" not in CostSettings.model_fields:  # older cost stage: the same functions, timing passed here
        return _design_row_direct(spec, hw, settings, timing)
    row = evaluate_designs(spec, hw, settings).iloc[0]
    out = {"kg": float(row["total_carbon_kg"]), "ms": float(row["latency_s"]) * 1e3,
           "embodied_kg": float(row["embodied_kg"]), "operational_kg": float(row["operational_kg"]),
           "energy_j": float(row["energy_per_inference_j"]), "area_mm2": float(row["area_mm2"])}
    return out | {f"energy_{k}_j": float(row[f"energy_{k}_j"]) for k in ENERGY_KEYS}


def _design_row_direct(spec: Any, hw: Any, settings: Any, timing: str) -> dict[str, Any]:
    from catransformers.carbon.model import embodied_die_kg, embodied_dram_kg, operational_kg
    from catransformers.cost import hardware_columns
    from catransformers.hardware import estimate
    from catransformers.workload import build_workload

    cols = hardware_columns(hw)
    est = estimate(build_workload(spec, settings.workload), cols, settings.tech, settings.dataflow,
                   getattr(settings, "double_buffered", False), per_op=False, timing=timing)
    emb = float(embodied_die_kg(est.area_mm2, cols["node_nm"], settings.carbon)[0]
                + embodied_dram_kg(cols["dram_type"], cols["dram_gb"], settings.carbon)[0])
    op = float(operational_kg(est.energy_j, est.latency_s, est.leakage_w, settings.carbon)["operational_kg"][0])
    out = {"kg": emb + op, "ms": float(est.latency_s[0]) * 1e3, "embodied_kg": emb, "operational_kg": op,
           "energy_j": float(est.energy_j[0]), "area_mm2": float(est.area_mm2[0])}
    return out | {f"energy_{k}_j": float(v[0]) for k, v in est.energy_breakdown_j.items()}


def evaluate(profile: str, timing: str | None, extra: dict[str, Any] | None = None) -> pd.DataFrame:
    """Our carbon/latency of the 14 Table-2 designs under one profile and timing mode."""
    from catransformers.hardware import HardwareConfig
    from catransformers.models import get_model

    settings, hw_over, mode = resolved(profile, timing, extra)
    rows = []
    for r in table2().itertuples():
        hw = HardwareConfig(clusters=r.clusters, width=r.width, depth=r.depth, l2_kb=r.l2_kb, l2_bw=L2_BW_WORDS,
                            glb_mb=r.glb_mb, **hw_over)
        rows.append({"model": r.model, "design": r.design, "paper_kg": r.carbon_kg, "paper_ms": r.latency_ms}
                    | design_row(get_model(r.model), hw, settings, mode))
    df = pd.DataFrame(rows)
    df["kg_ratio"], df["ms_ratio"] = df.kg / df.paper_kg, df.ms / df.paper_ms
    df.attrs["settings"] = settings
    return df


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = pd.Series(a).rank().to_numpy(), pd.Series(b).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])


def summary(df: pd.DataFrame) -> dict[str, float]:
    mc = df[df.design == "min_carbon"]
    return {"median_kg_err": float(np.median(np.abs(df.kg_ratio - 1))),
            "median_ms_err": float(np.median(np.abs(df.ms_ratio - 1))),
            "spearman_min_carbon": spearman(mc.kg.to_numpy(), mc.paper_kg.to_numpy())}


def print_tables() -> None:
    print(f"Table 2 designs, L2 bandwidth {L2_BW_WORDS} words/cycle (not printed in the paper)\n")
    medians = []
    for profile in PROFILE_NAMES:
        for timing in TIMINGS:
            df = evaluate(profile, timing)
            s = summary(df)
            medians.append((profile, timing, s))
            print(f"== profile {profile}, timing {timing} ==")
            print(f"{'model':17s} {'design':11s} {'paper kg':>8s} {'ours kg':>8s} {'ratio':>6s} | "
                  f"{'paper ms':>8s} {'ours ms':>8s} {'ratio':>6s}")
            for r in df.itertuples():
                print(f"{r.model:17s} {r.design:11s} {r.paper_kg:8.2f} {r.kg:8.3f} {r.kg_ratio:6.2f} | "
                      f"{r.paper_ms:8.1f} {r.ms:8.2f} {r.ms_ratio:6.2f}")
            print(f"median |carbon err| {s['median_kg_err']:.1%}, median |latency err| {s['median_ms_err']:.1%}, "
                  f"Spearman (min-carbon order) {s['spearman_min_carbon']:.2f}\n")
    print("== medians ==")
    print(f"{'profile':8s} {'timing':10s} {'|carbon err|':>12s} {'|latency err|':>13s} {'spearman':>8s}")
    for profile, timing, s in medians:
        print(f"{profile:8s} {timing:10s} {s['median_kg_err']:12.1%} {s['median_ms_err']:13.1%} "
              f"{s['spearman_min_carbon']:8.2f}")


# Known inconsistency of the paper (validation README): CLIP-H/14's 70-71 ms are below the compute bound of its
# workload, so its flow counted fewer MACs; kept out of the fit.
FIT_EXCLUDED_MODELS = ("clip-vit-h-14",)


def fit() -> None:
    """Fit the paper profile's register-file read energy on Table 2 (SRAM scale fixed at 1, and free), per CI."""
    from scipy.optimize import nnls

    for ci in (68.0, 224.0):
        base = evaluate("paper", None, {"tech.rf_read_energy_pj": 1.0, "tech.sram_energy_scale": 1.0,
                                        "carbon.ci_g_per_kwh": ci})
        kg_per_j = base.attrs["settings"].carbon.inferences() * ci / 3.6e6 / 1000.0
        fixed = (base.embodied_kg + kg_per_j * (base.energy_mac_j + base.energy_dram_j + base.energy_vector_j
                                                + base.energy_leakage_j)).to_numpy()
        rf = (kg_per_j * base.energy_register_file_j).to_numpy()
        sram = (kg_per_j * (base.energy_l2_j + base.energy_glb_j)).to_numpy()
        paper = base.paper_kg.to_numpy()
        use = ~base.model.isin(FIT_EXCLUDED_MODELS).to_numpy()
        w = 1.0 / paper
        # (a) SRAM at our CACTI 7 figures (the flow's Accelergy CACTI plugin models the same macros): fit rf only
        (rf_pj,), _ = nnls((rf * w)[use, None], ((paper - fixed - sram) * w)[use])
        pred = fixed + sram + rf * rf_pj
        # (b) both free
        (rf2, scale2), _ = nnls((np.stack([rf, sram], axis=1) * w[:, None])[use], ((paper - fixed) * w)[use])
        pred2 = fixed + rf * rf2 + sram * scale2
        err, err2 = pred / paper - 1, pred2 / paper - 1
        implied = (base.paper_kg - base.embodied_kg) / kg_per_j
        print(f"use CI {ci:g} g/kWh (fit on {int(use.sum())} designs, {', '.join(FIT_EXCLUDED_MODELS)} excluded):")
        print(f"  (a) sram_energy_scale 1 (fixed): rf_read_energy_pj = {rf_pj:.4f}; carbon |err| on the fit set: "
              f"median {np.median(np.abs(err[use])):.1%}, max {np.max(np.abs(err[use])):.1%}")
        print(f"  (b) both free: rf_read_energy_pj = {rf2:.4f}, sram_energy_scale = {scale2:.3f}; carbon |err| "
              f"median {np.median(np.abs(err2[use])):.1%}, max {np.max(np.abs(err2[use])):.1%}")
        print(f"  implied energy per inference {implied.min() * 1e3:.0f}..{implied.max() * 1e3:.0f} mJ")
        for r, e in zip(base.itertuples(), err, strict=True):
            print(f"   {r.model:17s} {r.design:11s} paper {r.paper_kg:5.2f} fit (a) {r.paper_kg * (1 + e):6.3f} "
                  f"({e:+.1%}); embodied {r.embodied_kg:.3f}")


def area_points(cores_json: str | None) -> pd.DataFrame:
    """The given 60 points (role 'given') plus, with `cores_json`, every other distinct point ('held-out')."""
    given = pd.read_csv(_data("paper_flow_area_calibration.csv"), comment="#")
    given["role"] = "given"
    if not cores_json:
        return given
    raw = pd.DataFrame(json.loads(Path(cores_json).read_text()))
    full = pd.DataFrame({"clusters": raw.num_tc, "width": raw.width, "depth": raw.depth,
                         "l2_kb": raw.L2_Buffer / 1024, "glb_mb": raw.GLB_Buffer / 1024**2,
                         "area_mm2": raw.area / 1e6}).drop_duplicates(["clusters", "width", "depth", "l2_kb",
                                                                       "glb_mb"])
    keys = ["clusters", "width", "depth", "l2_kb", "glb_mb"]
    held = full.merge(given[keys], on=keys, how="left", indicator=True)
    held = held[held["_merge"] == "left_only"].drop(columns="_merge")
    held["role"] = "held-out"
    return pd.concat([given, held], ignore_index=True)


def area_fit() -> None:
    """Least-squares fit (relative error) of the area terms on the 60 given points, free and as shipped."""
    from catransformers.hardware.tech import sram_area_mm2

    pts = area_points(None)
    c, w, d = (pts[k].to_numpy(dtype=float) for k in ("clusters", "width", "depth"))
    glb, l2 = sram_area_mm2(pts.glb_mb.to_numpy() * 1024.0), sram_area_mm2(pts.l2_kb.to_numpy())
    y = pts.area_mm2.to_numpy()
    wt = 1.0 / y
    free = np.stack([c * w * d * 1e-6, c * w * 1e-6, c * l2, c, glb], axis=1)
    x, *_ = np.linalg.lstsq(free * wt[:, None], y * wt, rcond=None)
    print(f"free fit: PE {x[0]:.1f} um2, lane {x[1]:.1f} um2, L2 instances/cluster {x[2]:.3f}, "
          f"overhead {x[3]:.5f} mm2/cluster, GLB instances {x[4]:.4f}")
    fixed = np.stack([c * w * d * 1e-6, c * w * 1e-6], axis=1)  # 2 L2 instances, 1 GLB, no overhead
    x2, *_ = np.linalg.lstsq(fixed * wt[:, None], (y - glb - 2 * c * l2) * wt, rcond=None)
    err = (fixed @ x2 + glb + 2 * c * l2) / y - 1
    print(f"2 L2 instances, 1 GLB, no overhead: PE {x2[0]:.1f} um2, lane {x2[1]:.1f} um2; |err| median "
          f"{np.median(np.abs(err)):.2%}, max {np.max(np.abs(err)):.2%}")


def area_report(cores_json: str | None) -> None:
    from catransformers.hardware import Tech, area_mm2

    pts = area_points(cores_json)
    n = len(pts)
    hw = {"clusters": pts.clusters.to_numpy(), "width": pts.width.to_numpy(), "depth": pts.depth.to_numpy(),
          "l2_kb": pts.l2_kb.to_numpy(), "glb_mb": pts.glb_mb.to_numpy(), "precision_bits": np.full(n, 8),
          "node_nm": np.full(n, 22)}
    pts["ours"] = area_mm2(hw, Tech())
    pts["err"] = pts.ours / pts.area_mm2 - 1
    for role, target in (("given", "median <= 3 %, max <= 10 %"), ("held-out", "median <= 3 %, max <= 15 %")):
        sel = pts[pts.role == role]
        if sel.empty:
            print(f"{role}: no points (pass --cores-json PATH to the released flow's cores.json)")
            continue
        e = sel.err.abs()
        print(f"{role:9s} {len(sel):5d} points: median |err| {e.median():.2%}, mean {e.mean():.2%}, max {e.max():.2%}"
              f" (target {target}); > 10 %: {int((e > 0.10).sum())}, > 15 %: {int((e > 0.15).sum())}")
    worst = pts.reindex(pts.err.abs().sort_values(ascending=False).index).head(6)
    print("largest errors:")
    print(worst[["role", "clusters", "width", "depth", "l2_kb", "glb_mb", "area_mm2", "ours", "err"]]
          .to_string(index=False, float_format=lambda v: f"{v:.3f}"))


HEAVY_USAGE = {"carbon.inferences_per_s": 30.0, "carbon.hours_per_day": 24.0}


def node_study(model: str) -> None:
    """Minimum-carbon feasible design of `model` per node and over all nodes, paper usage vs heavy usage."""
    from catransformers.carbon.tables import NODES_NM
    from catransformers.cost import evaluate_designs
    from catransformers.hardware import HardwareSpace
    from catransformers.models import get_model

    spec = get_model(model)
    keys = ["clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb"]
    for profile in PROFILE_NAMES:
        for usage, extra in (("paper usage", {}), ("heavy usage (30/s, 24 h/day)", HEAVY_USAGE)):
            settings, hw_over, _ = resolved(profile, None, extra)
            if profile == "paper":  # the paper flow's figures are node-independent: scale by node here
                settings = settings.model_copy(update={"tech": settings.tech.model_copy(
                    update={"scale_by_node": True})})
            space = HardwareSpace(node_nm=list(NODES_NM), **{k: [v] for k, v in hw_over.items()})
            df = evaluate_designs(spec, space, settings)
            ok = df[df.feasible]
            best = ok.loc[ok.groupby("node_nm").total_carbon_kg.idxmin()].sort_values("node_nm", ascending=False)
            print(f"== {model}, profile {profile}, {usage}: min-carbon feasible design per node ==")
            print(best[["node_nm", *keys, "area_mm2", "latency_s", "energy_per_inference_j", "embodied_kg",
                        "operational_kg", "total_carbon_kg"]].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            top = best.loc[best.total_carbon_kg.idxmin()]
            print(f"-> min-carbon node {int(top.node_nm)} nm ({top.total_carbon_kg:.3f} kg)\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="refit the paper profile's unpublished figures")
    ap.add_argument("--area", action="store_true", help="area model vs the paper flow's areas")
    ap.add_argument("--area-fit", action="store_true", help="refit the area terms on the 60 given points")
    ap.add_argument("--cores-json", help="the released flow's cores.json (held-out area check)")
    ap.add_argument("--nodes", metavar="MODEL", help="min-carbon node study of MODEL (e.g. clip-vit-b-16)")
    args = ap.parse_args(argv)
    if args.area_fit:
        area_fit()
    elif args.nodes:
        node_study(args.nodes)
    elif args.area or args.cores_json:
        area_report(args.cores_json)
    elif args.fit:
        fit()
    else:
        print_tables()


if __name__ == "__main__":
    main(sys.argv[1:])
