"""The HTML report, pareto.csv, plots and the rich table built from synthetic run folders."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from catransformers.errors import UserError
from catransformers.models import PRUNE_KEYS
from catransformers.report import build_report, format_pareto_table, load_run, pareto_front, run_summary

CARBON_OBJECTIVES = [{"name": "accuracy", "maximize": True}, {"name": "total_carbon_kg", "maximize": False}]


def _trials(n: int = 24, seed: int = 0) -> pd.DataFrame:
    """Synthetic trials: completed rows, two infeasible (no accuracy) and two failed with errors."""
    rng = np.random.default_rng(seed)
    die = rng.uniform(0.01, 0.06, n)
    dram = np.full(n, 0.21)
    op = rng.uniform(0.02, 0.3, n)
    rows = pd.DataFrame({
        "trial": np.arange(n),
        "status": "completed",
        "accuracy": rng.uniform(0.2, 0.65, n).round(4),
        "metric": "pearson",
        "total_carbon_kg": die + dram + op,
        "embodied_die_kg": die,
        "embodied_dram_kg": dram,
        "operational_kg": op,
        "latency_s": rng.uniform(0.002, 0.05, n),
        "energy_per_inference_j": rng.uniform(1e-3, 2e-2, n),
        "area_mm2": rng.uniform(3.0, 30.0, n),
        "tops": rng.choice([0.16, 0.64, 2.56], n),
        "clusters": rng.choice([1, 2, 4], n),
        "width": rng.choice([32, 64, 128], n),
        "depth": rng.choice([8, 16, 32], n),
        "l2_kb": rng.choice([64, 256], n),
        "l2_bw": rng.choice([32, 64], n),
        "glb_mb": rng.choice([2, 4], n),
        "main.layers": rng.integers(3, 7, n),
        "main.heads": rng.integers(6, 13, n),
        "main.ffn_blocks": rng.integers(8, 17, n),
        "main.hidden_blocks": rng.integers(8, 17, n),
        "prune": "main.layers=...",
        "wall_s": rng.uniform(5, 40, n),
        "cached": False,
        "error": "",
    })
    rows.loc[[3, 7], "status"] = "infeasible"
    rows.loc[[3, 7], "accuracy"] = np.nan
    rows.loc[[5, 11], "status"] = "failed"
    rows.loc[[5, 11], ["accuracy", "total_carbon_kg"]] = np.nan
    rows.loc[5, "error"] = "RuntimeError: NaN loss at step 3 <script>alert(1)</script>"
    rows.loc[11, "error"] = "MemoryError: out of memory"
    return rows


def _run_dir(tmp_path: Path, trials: pd.DataFrame | None = None, objectives=None, ref=None, **meta) -> Path:
    run = tmp_path / "runs" / "demo"
    run.mkdir(parents=True)
    info = {
        "mode": "carbon",
        "strategy": "nested",
        "seed": 7,
        "objectives": objectives or CARBON_OBJECTIVES,
        "reference_point": ref if ref is not None else {"accuracy": 0.15, "total_carbon_kg": 0.5},
        "wall_s": 754.2,
        "n_finetunes": 18,
        "codecarbon": {"emissions_kg": 0.0012, "energy_kwh": 0.0051, "region": "california"},
        "settings": {
            "model": "minilm-l6",
            "usage": {"lifetime_years": 3, "inferences_per_s": 1, "hours_per_day": 6, "use_ci_g_per_kwh": 224},
            "carbon": {"node": "22nm", "fab": "taiwan", "yield": 0.875},
            "constraints": {"max_tops": 20.48, "max_area_mm2": 31.99, "max_latency_s": 0.05},
        },
    }
    info.update(meta)
    (run / "run.json").write_text(json.dumps(info))
    (run / "config.toml").write_text('[model]\nid = "minilm-l6"\n[search]\nmode = "carbon"\n')
    (trials if trials is not None else _trials()).to_csv(run / "trials.csv", index=False)
    return run


class _Tables(HTMLParser):
    """Collects every <table id=...> as rows of cell texts, and <img> sources."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.imgs: list[str] = []
        self.scripts = 0
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._ids: dict[str, str] = {}
        self.ids_text: dict[str, str] = {}
        self._capture: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag == "p" and a.get("id"):
            self._capture = a["id"]
            self.ids_text[self._capture] = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "p":
            self._capture = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._capture:
            self.ids_text[self._capture] += data


def _parse(path: Path) -> _Tables:
    parser = _Tables()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_report_holds_pareto_table_with_the_front_rows(tmp_path: Path) -> None:
    trials = _trials()
    run = _run_dir(tmp_path, trials)
    out = build_report(run)
    assert out == run / "report.html"
    page = _parse(out)
    table = page.tables["pareto-table"]
    header, rows = table[0], table[1:]
    front = pareto_front(trials, CARBON_OBJECTIVES)
    assert len(rows) == len(front) >= 2
    trial_col = header.index("trial")
    acc_col = next(i for i, h in enumerate(header) if h.startswith("accuracy"))
    carbon_col = next(i for i, h in enumerate(header) if h.startswith("total carbon"))
    assert "pearson" in header[acc_col] and header[acc_col].endswith("↑") and header[carbon_col].endswith("↓")
    assert [int(r[trial_col]) for r in rows] == front["trial"].tolist()
    np.testing.assert_allclose([float(r[acc_col]) for r in rows], front["accuracy"], rtol=1e-3)
    np.testing.assert_allclose([float(r[carbon_col]) for r in rows], front["total_carbon_kg"], rtol=1e-3)
    lat_col = header.index("latency (ms)")
    np.testing.assert_allclose([float(r[lat_col]) for r in rows], front["latency_s"] * 1e3, rtol=1e-3)
    dims = rows[0][header.index("pruned dims")]
    assert f"main: {front['main.layers'].iloc[0]} layers" in dims
    # no failed or infeasible trial on the front, and accuracy decreasing as carbon decreases
    assert not set(front["trial"]) & {3, 5, 7, 11}
    assert np.all(np.diff(front["accuracy"].to_numpy()) <= 0)
    assert np.all(np.diff(front["total_carbon_kg"].to_numpy()) < 0)


def test_report_is_self_contained_and_escapes_text(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    out = build_report(run)
    text = out.read_text(encoding="utf-8")
    page = _parse(out)
    assert page.scripts == 0 and "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert page.imgs and all(src.startswith("data:image/png;base64,") for src in page.imgs)
    assert "http://" not in text and "https://" not in text
    failed = page.tables["failed-trials"]
    assert [r[0] for r in failed[1:]] == ["5", "11"]
    assert "MemoryError: out of memory" in failed[2][-1]
    usage = dict(page.tables["usage"])
    assert usage["use_ci_g_per_kwh"] == "224" and usage["lifetime_years"] == "3"
    assert dict(page.tables["footprint"])["emissions_kg"] == "0.0012"
    assert dict(page.tables["run-settings"])["model"] == "minilm-l6"
    assert "0.15" in page.ids_text["hypervolume"] and "0.5" in page.ids_text["hypervolume"]


def test_report_hypervolume_matches_front_and_csv_written(tmp_path: Path) -> None:
    trials = pd.DataFrame({
        "trial": [0, 1, 2, 3], "status": ["completed", "completed", "completed", "infeasible"],
        "accuracy": [0.5, 0.35, 0.2, np.nan], "total_carbon_kg": [0.4, 0.3, 0.6, 0.1],
        "latency_s": [0.01, 0.02, 0.03, 0.04],
    })
    run = _run_dir(tmp_path, trials)
    build_report(run)
    # front: trials 0 (0.5, 0.4) and 1 (0.35, 0.3); trial 2 dominated; box to (0.15, 0.5):
    # 0.35·0.1 (0.15→0.5 accuracy band, carbon 0.4→0.5) + 0.2·0.1 (0.15→0.35, carbon 0.3→0.4) = 0.055
    summary = run_summary(load_run(run))
    assert summary["hypervolume"] == pytest.approx(0.055)
    assert (summary["completed"], summary["infeasible"], summary["failed"], summary["pareto"]) == (3, 1, 0, 2)
    csv = pd.read_csv(run / "pareto.csv")
    assert csv["trial"].tolist() == [0, 1]
    assert "0.055" in _parse(run / "report.html").ids_text["hypervolume"]


def test_plots_written_for_accuracy_and_hardware_modes(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    build_report(run)
    for name in ("accuracy_vs_carbon.png", "accuracy_vs_latency.png", "carbon_breakdown.png"):
        data = (run / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    hw = _trials().drop(columns=["accuracy", "metric"])
    hw_run = tmp_path / "hw"
    hw_run.mkdir()
    run2 = _run_dir(hw_run, hw, objectives=[{"name": "latency_s", "maximize": False},
                                            {"name": "total_carbon_kg", "maximize": False}],
                    ref={"latency_s": 0.06, "total_carbon_kg": 0.8}, mode="hardware")
    page = _parse(build_report(run2))
    assert (run2 / "latency_vs_carbon.png").is_file() and not (run2 / "accuracy_vs_carbon.png").exists()
    header = page.tables["pareto-table"][0]
    assert not any(h.startswith("accuracy") for h in header) and "latency (ms) ↓" in header


def test_three_objective_run_and_missing_reference(tmp_path: Path) -> None:
    objectives = [{"name": "accuracy", "maximize": True}, {"name": "latency_s", "maximize": False},
                  {"name": "total_carbon_kg", "maximize": False}]
    run = _run_dir(tmp_path, objectives=objectives, ref={"accuracy": 0.15, "total_carbon_kg": 0.5}, mode="all")
    page = _parse(build_report(run))
    assert "latency_s" in page.ids_text["hypervolume"] and "not computed" in page.ids_text["hypervolume"]
    front = pareto_front(_trials(), objectives)
    assert len(page.tables["pareto-table"]) - 1 == len(front)


def test_missing_files_give_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        build_report(tmp_path / "nope")
    run = _run_dir(tmp_path)
    (run / "trials.csv").unlink()
    with pytest.raises(UserError, match=r"trials\.csv not found.*catransformers search"):
        build_report(run)
    (run / "run.json").unlink()
    with pytest.raises(UserError, match=r"run\.json not found.*catransformers search"):
        build_report(run)
    (run / "run.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        build_report(run)
    assert not (run / "report.html").exists()


def test_empty_trials_header_only_builds_empty_report(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, _trials().iloc[:0])
    page = _parse(build_report(run))
    assert "pareto-table" not in page.tables
    assert "0" in page.ids_text["hypervolume"]


@pytest.mark.parametrize("objectives", [CARBON_OBJECTIVES, [*CARBON_OBJECTIVES, {"name": "energy_per_inference_j",
                                                                                  "maximize": False}]])
def test_format_pareto_table_fits_80_columns_with_numbers_whole(tmp_path: Path, objectives) -> None:
    trials = _trials()
    for knob in PRUNE_KEYS:  # two encoders, like CLIP
        trials[f"text.{knob}"] = trials[f"main.{knob}"]
    baseline = {"score": 0.6557, "metric": "pearson"}
    table = format_pareto_table(trials, objectives, baseline=baseline)
    front = pareto_front(trials, objectives)
    assert table.row_count == len(front) + 1
    console = Console(width=80, record=True)
    console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text and "base" in text and "0.6557" in text
    for _, row in front.iterrows():
        assert f"{row['accuracy']:.4g}" in text and f"{row['total_carbon_kg']:.4g}" in text


def test_energy_mode_plot_and_a_disagreeing_parquet_is_refused(tmp_path: Path) -> None:
    objectives = [{"name": "accuracy", "maximize": True}, {"name": "energy_per_inference_j", "maximize": False}]
    trials = _trials()
    run = _run_dir(tmp_path, trials, objectives=objectives, ref={"accuracy": 0.15, "energy_per_inference_j": 0.05},
                   mode="energy")
    build_report(run)
    assert (run / "accuracy_vs_energy.png").is_file()
    extra = trials.copy()
    extra.loc[len(extra)] = extra.loc[0]
    extra.loc[len(extra) - 1, ["trial", "accuracy", "energy_per_inference_j"]] = [99, 0.99, 1e-4]  # dominates all
    extra.to_parquet(run / "trials.parquet", index=False)  # newer than the CSV, and different
    with pytest.raises(UserError, match=r"trials\.parquet disagrees with trials\.csv"):
        build_report(run)
    trials.to_parquet(run / "trials.parquet", index=False)  # the same rows: accepted
    assert "99" not in [r[0] for r in _parse(build_report(run)).tables["pareto-table"][1:]]


def test_table_checksums_in_run_json_refuse_a_truncated_or_edited_table(tmp_path: Path) -> None:
    import hashlib

    trials = _trials()
    run = _run_dir(tmp_path, trials)
    trials.to_parquet(run / "trials.parquet", index=False)
    meta = json.loads((run / "run.json").read_text())
    meta["table"] = {"rows": len(trials), "csv_sha256": hashlib.sha256((run / "trials.csv").read_bytes()).hexdigest(),
                     "parquet_sha256": hashlib.sha256((run / "trials.parquet").read_bytes()).hexdigest()}
    (run / "run.json").write_text(json.dumps(meta))
    assert build_report(run).is_file()
    text = (run / "trials.csv").read_text()
    (run / "trials.csv").write_text(text[: len(text) // 2])  # a torn CSV that still parses
    with pytest.raises(UserError, match=r"trials\.csv is not the table the search last wrote"):
        build_report(run)
    (run / "trials.csv").write_text(text)
    edited = trials.copy()
    edited.loc[0, "accuracy"] = 0.99
    edited.to_parquet(run / "trials.parquet", index=False)
    with pytest.raises(UserError, match=r"trials\.parquet disagrees"):
        build_report(run)


def test_baseline_row_line_and_noise_note_in_the_report(tmp_path: Path) -> None:
    trials = _trials()
    front = pareto_front(trials, CARBON_OBJECTIVES)
    trials["accuracy_ci_low"] = trials["accuracy"] - 0.3  # wide intervals: every front pair overlaps
    trials["accuracy_ci_high"] = trials["accuracy"] + 0.3
    trials["prune"] = [f"p{i}" for i in range(len(trials))]
    run = _run_dir(tmp_path, trials, baseline={"score": 0.6557, "score_ci_low": 0.6, "score_ci_high": 0.7})
    page = _parse(build_report(run))
    rows = page.tables["pareto-table"]
    assert rows[1][0] == "base" and rows[1][1] == "0.6557" and "95% interval" in rows[0]
    assert "within noise" in page.ids_text["noise"]
    assert f"#{int(front.trial.min())}" in page.ids_text["noise"]
    narrow = trials.assign(accuracy_ci_low=trials["accuracy"] - 1e-6, accuracy_ci_high=trials["accuracy"] + 1e-6)
    (run / "trials.csv").unlink()
    narrow.to_csv(run / "trials.csv", index=False)
    assert "No two Pareto designs" in _parse(build_report(run)).ids_text["noise"]


def test_feasible_column_as_text_is_respected(tmp_path: Path) -> None:
    trials = _trials()
    front = pareto_front(trials, CARBON_OBJECTIVES)
    best = int(front["trial"].iloc[0])
    trials["feasible"] = ["False" if t == best else "True" for t in trials["trial"]]
    assert best not in pareto_front(trials, CARBON_OBJECTIVES)["trial"].tolist()
    run = _run_dir(tmp_path, trials)
    rows = _parse(build_report(run)).tables["pareto-table"][1:]
    assert str(best) not in [r[0] for r in rows]
