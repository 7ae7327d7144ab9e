"""Validate the bought-device cost model against measured MLPerf Inference results (closed division).

    .venv/bin/python benchmarks/bench_validate_devices.py          # table with the package's efficiencies
    .venv/bin/python benchmarks/bench_validate_devices.py --fit    # refit compute efficiency + launch per class
    .venv/bin/python benchmarks/bench_validate_devices.py --answers  # min-carbon device per model, region, usage

Measurements: benchmarks/fixtures/device_measurements.csv (round, submitter, system, scenario, metric, value and
the results-repository URL per row). Rows marked `calibration` fit the class efficiencies
(catransformers/devices/efficiency.py); `held-out` rows are the real test; `info` rows are shown, not scored.

Sequence lengths: BERT-99 is BERT-Large on SQuAD v1.1 windows of at most 384 tokens; the fastest submissions skip
the padding. Padding is 54 % of the tokens of SQuAD v1.1 at 384 (openreview.net/forum?id=3nzKUh9a4M, abstract), so
mean latency and Offline throughput are compared with ours at the mean unpadded length, 0.46 x 384 = 177 tokens;
the official p90 latency (info rows) against ours at the full 384 tokens, which bounds it from above.
Offline throughput: ours at batch 256 (saturated). Ratios are in time per sample: ours / measured (the one energy
row: joules per query, ours for the module at MAXN against the MaxQ dev kit's wall power x latency).
Targets (issue 9): calibration median within [0.75, 1.33] and every device within 2x; held-out reported apart.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import numpy as np

from catransformers.devices.catalogue import load_catalogue
from catransformers.devices.efficiency import CLASS_EFFICIENCY, MEMORY_EFFICIENCY
from catransformers.devices.model import device_arrays, device_cost
from catransformers.models import get_model
from catransformers.workload.ops import WorkloadOptions

FIXTURE = Path(__file__).parent / "fixtures" / "device_measurements.csv"
SQUAD_PADDING_SHARE = 0.54  # SQuAD v1.1 at 384 tokens (openreview.net/forum?id=3nzKUh9a4M)
MAX_TOKENS = 384  # MLPerf BERT-99 window
MEAN_TOKENS = round((1 - SQUAD_PADDING_SHARE) * MAX_TOKENS)  # 177
OFFLINE_BATCH = 256  # our throughput saturates well below it (launch share < 1 %); the submissions' batch is theirs
COMPUTE_GRID = np.round(np.arange(0.05, 1.0001, 0.005), 3)
LAUNCH_GRID_US = np.arange(0.0, 40.01, 0.5)


def load_rows() -> list[dict]:
    with FIXTURE.open() as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["value"] = float(r["value"])
        r["devices_in_system"] = int(r["devices_in_system"])
        if r["metric"] == "samples_per_s":
            r["measured_s"] = r["devices_in_system"] / r["value"]  # seconds per sample per device
        elif r["metric"] == "energy_per_query":
            r["measured_s"] = r["value"]  # joules: the ratio column is then an energy ratio
        else:
            r["measured_s"] = r["value"] / 1e3
    return rows


def _point(row: dict) -> tuple[int, int]:
    """(batch, tokens) at which our model is compared with the row."""
    if row["metric"] == "samples_per_s":
        return OFFLINE_BATCH, MEAN_TOKENS
    if row["metric"] == "p90_latency":
        return 1, MAX_TOKENS
    return 1, MEAN_TOKENS


def predict(row: dict, compute: np.ndarray, launch_us: np.ndarray) -> np.ndarray:
    """Our seconds per sample for `row`, for every (compute efficiency, launch) pair given (broadcast arrays)."""
    dev = load_catalogue()[row["device"]]
    batch, tokens = _point(row)
    compute, launch_us = np.broadcast_arrays(np.asarray(compute, float), np.asarray(launch_us, float))
    arrays = device_arrays([dev], row["precision"])
    n = compute.size
    rep = lambda a: np.repeat(a, n)  # noqa: E731
    grid = type(arrays)(
        ids=[dev.id] * n, peak_ops=rep(arrays.peak_ops), bw_bytes=rep(arrays.bw_bytes), tdp_w=rep(arrays.tdp_w),
        idle_w=rep(arrays.idle_w), eff_compute=compute.ravel(), eff_memory=rep(arrays.eff_memory),
        launch_s=launch_us.ravel() * 1e-6, memory_bytes=rep(arrays.memory_bytes),
    )
    cost = device_cost(get_model(row["model"]), WorkloadOptions(tokens=tokens), [batch], grid, row["precision"])
    seconds = cost.latency_s[:, 0]
    if row["metric"] == "samples_per_s":
        seconds = seconds / batch
    elif row["metric"] == "energy_per_query":
        seconds = cost.energy_per_inference_j[:, 0]
    return seconds.reshape(compute.shape)


def fit(rows: list[dict]) -> dict[str, tuple[float, float, float]]:
    """Per class: (compute efficiency, launch us, rms log ratio) minimising squared log ratios on calibration rows."""
    catalogue = load_catalogue()
    out = {}
    for cls in sorted({catalogue[r["device"]].device_class for r in rows if r["role"] == "calibration"}):
        cal = [r for r in rows if r["role"] == "calibration" and catalogue[r["device"]].device_class == cls]
        c, lu = np.meshgrid(COMPUTE_GRID, LAUNCH_GRID_US, indexing="ij")
        if all(r["metric"] == "samples_per_s" for r in cal):  # throughput alone cannot identify the launch term
            lu = np.full_like(c, CLASS_EFFICIENCY[cls].launch_us)
        loss = sum(np.log(predict(r, c, lu) / r["measured_s"]) ** 2 for r in cal)
        i = np.unravel_index(np.argmin(loss), loss.shape)
        out[cls] = (float(c[i]), float(lu[i]), float(np.sqrt(loss[i] / len(cal))))
    return out


def table(rows: list[dict], effs: dict[str, tuple[float, float]]) -> None:
    catalogue = load_catalogue()
    print(f"tokens: mean {MEAN_TOKENS} (unpadded), p90 rows at {MAX_TOKENS}; Offline batch {OFFLINE_BATCH}; "
          f"memory efficiency {MEMORY_EFFICIENCY} (not fitted)")
    for role in ("calibration", "held-out", "info"):
        sel = [r for r in rows if r["role"] == role]
        if not sel:
            continue
        print(f"\n== {role} ==")
        print(f"{'device':30s} {'system / scenario':44s} {'metric':14s} {'measured':>10s} {'ours':>10s} {'ratio':>6s}")
        ratios = []
        for r in sel:
            cls = catalogue[r["device"]].device_class
            c, lu = effs[cls]
            ours = float(predict(r, np.array(c), np.array(lu)))
            ratio = ours / r["measured_s"]
            ratios.append(ratio)
            unit = {"samples_per_s": "/s", "energy_per_query": "J"}.get(r["metric"], "ms")
            meas = r["value"] / r["devices_in_system"] if unit == "/s" else r["value"]
            mine = {"/s": 1.0 / ours, "J": ours}.get(unit, ours * 1e3)
            what = f"{r['round'].split()[2]} {r['system']} {r['scenario']}"
            print(f"{r['device']:30s} {what[:44]:44s} {r['metric']:14s} {meas:10.3f} {mine:10.3f} {ratio:6.2f}")
        if role != "info":
            med = statistics.median(ratios)
            worst = max(max(x, 1 / x) for x in ratios)
            ok = 0.75 <= med <= 1.33 and worst <= 2.0
            print(f"median ratio {med:.2f}, worst factor {worst:.2f} "
                  f"(target: median in [0.75, 1.33], all within 2x): {'PASS' if ok else 'FAIL'}")


SCENARIOS = {  # name -> CarbonSettings overrides: the paper's usage in California; heavy use in Taiwan
    "california, 1/s x 6 h/day x 3 y": {"region": "california"},
    "taiwan, 30/s x 24 h/day x 3 y": {"region": "taiwan", "inferences_per_s": 30.0, "hours_per_day": 24.0},
}
PRUNED = {"clip-vit-b-16": "text.layers=6,vision.layers=6,text.ffn_blocks=4,vision.ffn_blocks=4",
          "minilm-l6": "layers=3,ffn_blocks=8"}


def answers() -> None:
    """Min-carbon bought device (feasible: latency <= 50 ms, fits memory, can serve the rate) vs the template."""
    from catransformers.carbon.model import CarbonSettings
    from catransformers.cost import CostSettings, evaluate_designs
    from catransformers.devices.evaluate import DeviceSettings, evaluate_devices
    from catransformers.hardware.config import HardwareSpace
    from catransformers.models import parse_prune, prune_spec

    for scen, over in SCENARIOS.items():
        carbon = CarbonSettings(**over)
        print(f"\n== {scen} ({carbon.inferences() / 1e6:.1f} M inferences), int8, batch 1 ==")
        for model, prune in PRUNED.items():
            full = get_model(model)
            for label, spec in (("full", full), (f"pruned {prune}", prune_spec(full, parse_prune(full, prune)))):
                df = evaluate_devices(spec, "all", DeviceSettings(carbon=carbon))
                ok = df[df["feasible"] & (df["duty_cycle"] <= 1.0)].sort_values("total_carbon_kg")
                tpl = evaluate_designs(spec, HardwareSpace(), CostSettings(carbon=carbon))
                tpl = tpl[tpl["feasible"] & (tpl["duty_cycle"] <= 1.0)].sort_values("total_carbon_kg")
                print(f"{model} {label}:")
                for _, r in ok.head(3).iterrows():
                    print(f"  {r['device']:28s} total {r['total_carbon_kg']:8.3f} kg (embodied {r['embodied_kg']:7.3f}"
                          f", operational {r['operational_kg']:7.3f}) latency {r['latency_s'] * 1e3:7.2f} ms")
                idle = evaluate_devices(spec, "all", DeviceSettings(carbon=carbon.model_copy(
                    update={"include_idle": True})))
                idle = idle[idle["feasible"] & (idle["duty_cycle"] <= 1.0)].sort_values("total_carbon_kg").iloc[0]
                print(f"  with idle power charged: {idle['device']} {idle['total_carbon_kg']:.3f} kg")
                if len(tpl):
                    t = tpl.iloc[0]
                    hw = "x".join(str(int(t[k])) for k in ("clusters", "width", "depth", "l2_kb", "l2_bw", "glb_mb"))
                    print(f"  {'template best ' + hw:28s} total {t['total_carbon_kg']:8.3f} kg (embodied "
                          f"{t['embodied_kg']:7.3f}, operational {t['operational_kg']:7.3f}) latency "
                          f"{t['latency_s'] * 1e3:7.2f} ms")
                else:
                    print("  template: no feasible design")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="refit compute efficiency and launch overhead per class")
    ap.add_argument("--answers", action="store_true", help="min-carbon device per model and scenario vs template")
    args = ap.parse_args()
    if args.answers:
        answers()
        return
    rows = load_rows()
    effs = {k: (v.compute, v.launch_us) for k, v in CLASS_EFFICIENCY.items()}
    if args.fit:
        fitted = fit(rows)
        print("fitted per class (compute efficiency, launch us, rms log ratio):")
        for cls, (c, lu, rms) in fitted.items():
            print(f"  {cls:16s} compute {c:.3f}  launch {lu:.1f} us  rms log ratio {rms:.3f}")
            effs[cls] = (c, lu)
    table(rows, effs)


if __name__ == "__main__":
    main()
