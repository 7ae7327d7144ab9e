"""Real-accuracy smoke run: MiniLM-L6 really pruned, healed and scored inside the search (small recipe)."""

from __future__ import annotations

from pathlib import Path

import pytest

from catransformers.search import config_from_dict, run_search


@pytest.mark.slow
def test_real_minilm_search_smoke(tmp_path: Path):
    cfg = config_from_dict({
        "model": {"id": "minilm-l6"},
        "search": {"trials": 2, "sobol_trials": 2, "batch_size": 2, "seed": 1},
        "accuracy": {"base_steps": 2, "importance": "magnitude", "calib_size": 4, "eval_limit": 20, "batch_size": 4,
                     "train_seq_len": 32, "eval_seq_len": 64, "cache_dir": str(tmp_path / "cache")},
    })
    out = run_search(cfg, tmp_path / "run")
    done = out.table[out.table.status == "completed"]
    assert out.info["n_completed"] == 2 and out.info["n_finetunes"] == 2
    assert (done.metric == "pearson").all() and done.accuracy.between(-1, 1).all()
    assert (done.steps > 0).all() and done.params.notna().all()
    # the reference point is accuracy 0.15 / 0.5 kg CO2e: a healed MiniLM front dominates it
    assert out.info["hypervolume"] > 0 and len(out.front) >= 1
    base = out.info["baseline"]
    assert base["metric"] == "pearson" and done.accuracy.max() <= base["score"] + 0.2
