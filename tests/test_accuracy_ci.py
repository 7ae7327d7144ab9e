"""Bootstrap intervals of scores, cache integrity (nothing stored is trusted), threads and the spin-wait guard."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import catransformers.accuracy.heal as heal_mod
import catransformers.accuracy.runtime as runtime
from catransformers.accuracy import AccuracyRecipe, AccuracyResult, evaluate_accuracy, stats
from catransformers.accuracy.cache import CACHE_FORMAT, ResultCache
from catransformers.accuracy.runtime import HealObjective
from catransformers.errors import UserError

LEE_FAST = AccuracyRecipe(task="lee-similarity", heal="none", importance="last", eval_limit=20)


def _doc_matrices(docs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric model / human similarity matrices with a strong per-document effect (dependent pairs)."""
    rng = np.random.default_rng(seed)
    doc = rng.normal(size=docs)
    human = doc[:, None] + doc[None, :] + 0.5 * rng.normal(size=(docs, docs))
    model = human + rng.normal(size=(docs, docs))
    return (model + model.T) / 2, (human + human.T) / 2


def test_document_bootstrap_counts_documents_and_is_wider_than_pair_bootstrap() -> None:
    model, human = _doc_matrices(40)
    point, boot = stats.bootstrap_pairs_by_doc(model, human, seed=0)
    doc_ci = stats.interval(point, boot, 40)
    iu = np.triu_indices(40, k=1)
    assert point == pytest.approx(np.corrcoef(model[iu], human[iu])[0, 1])
    assert doc_ci.n_items == 40 and doc_ci.low < point < doc_ci.high
    pair_ci = stats.interval(*stats.pearson_items(model[iu], human[iu]), len(iu[0]))
    # pairs sharing a document are dependent: resampling pairs would understate the uncertainty
    assert doc_ci.high - doc_ci.low > 1.5 * (pair_ci.high - pair_ci.low)
    again = stats.bootstrap_pairs_by_doc(model, human, seed=0)[1]
    assert np.array_equal(boot, again)  # seeded
    assert not np.array_equal(boot, stats.bootstrap_pairs_by_doc(model, human, seed=1)[1])


def test_item_intervals() -> None:
    hits = np.array([1, 0] * 200)
    ci = stats.mean_items(hits)
    assert ci.score == 0.5 and ci.n_items == 400
    # binomial standard error sqrt(0.25 / 400) = 0.025; a 95% interval is about +-1.96 of it
    assert (ci.high - ci.low) / 2 == pytest.approx(1.96 * 0.025, rel=0.15)
    x = np.arange(50.0)
    exact = stats.interval(*stats.pearson_items(x, 2 * x + 1), 50)
    assert (exact.score, exact.low, exact.high) == pytest.approx((1.0, 1.0, 1.0))
    parts = [(0.2, np.full(100, 0.2), 10), (0.6, np.linspace(0.5, 0.7, 100), 30)]
    both = stats.combine_mean(parts)
    assert both.score == pytest.approx(0.4) and both.n_items == 40 and both.low < 0.4 < both.high


def test_result_carries_interval_and_is_json(tmp_path) -> None:
    r = evaluate_accuracy("minilm-l6", "layers=5", LEE_FAST, tmp_path)
    assert r.n_items == 20  # documents, the resampled unit
    assert r.score_ci_low < r.score < r.score_ci_high
    json.dumps(r.to_dict(), allow_nan=False)
    again = evaluate_accuracy("minilm-l6", "layers=5", LEE_FAST, tmp_path)
    assert again.cached and (again.score_ci_low, again.score_ci_high) == (r.score_ci_low, r.score_ci_high)


def _store(cache: ResultCache) -> str:
    key = "k" * 32
    cache.put(key, {"score": 0.5, "score_ci_low": 0.4, "score_ci_high": 0.6}, meta={"m": 1})
    return key


@pytest.mark.parametrize("damage", ["edited score", "truncated", "binary", "wrong checksum", "old format"])
def test_damaged_result_entries_are_never_served(tmp_path, damage) -> None:
    cache = ResultCache(tmp_path)
    key = _store(cache)
    assert cache.get(key) == {"score": 0.5, "score_ci_low": 0.4, "score_ci_high": 0.6}
    path = tmp_path / "results" / f"{key}.json"
    entry = json.loads(path.read_text())
    if damage == "edited score":
        entry["result"]["score"] = 0.99
        path.write_text(json.dumps(entry))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    elif damage == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    elif damage == "wrong checksum":
        entry["checksum"] = "0" * 64
        path.write_text(json.dumps(entry))
    else:
        entry["format"] = CACHE_FORMAT - 1
        path.write_text(json.dumps(entry))
    with pytest.warns(UserWarning, match="corrupted"):
        assert cache.get(key) is None


@pytest.mark.parametrize("damage", ["edited", "truncated", "no checksum file"])
def test_damaged_blobs_are_recomputed(tmp_path, damage) -> None:
    cache = ResultCache(tmp_path)
    cache.put_blob("targets", "t", ".pt", lambda tmp: torch.save(torch.arange(100.0), tmp))
    assert torch.equal(cache.get_blob("targets", "t", ".pt", torch.load), torch.arange(100.0))
    path = cache.blob_path("targets", "t", ".pt")
    raw = path.read_bytes()
    if damage == "edited":
        path.write_bytes(raw[:-20] + bytes(20))
    elif damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    else:
        path.with_name(path.name + ".sha256").unlink()
    with pytest.warns(UserWarning, match="corrupted"):
        assert cache.get_blob("targets", "t", ".pt", torch.load) is None


def test_edited_score_in_a_real_entry_is_recomputed(tmp_path) -> None:
    first = evaluate_accuracy("minilm-l6", "layers=4", LEE_FAST, tmp_path)
    path = tmp_path / "results" / f"{first.cache_key}.json"
    entry = json.loads(path.read_text())
    entry["result"]["score"] = 0.999  # a plausible, well-formed edit
    path.write_text(json.dumps(entry))
    with pytest.warns(UserWarning, match="checksum"):
        again = evaluate_accuracy("minilm-l6", "layers=4", LEE_FAST, tmp_path)
    assert not again.cached and again.score == pytest.approx(first.score, abs=1e-9)
    assert evaluate_accuracy("minilm-l6", "layers=4", LEE_FAST, tmp_path).cached  # rewritten, trusted again


def test_importance_file_edited_on_disk_is_recomputed(tmp_path) -> None:
    recipe = AccuracyRecipe(task="lee-similarity", heal="none", importance="magnitude", eval_limit=10)
    first = evaluate_accuracy("minilm-l6", "heads=10", recipe, tmp_path, use_cache=False)
    [npz] = (tmp_path / "importance").glob("*.npz")
    npz.write_bytes(npz.read_bytes()[:-64] + bytes(64))
    with pytest.warns(UserWarning, match="corrupted"):
        again = evaluate_accuracy("minilm-l6", "heads=10", recipe, tmp_path, use_cache=False)
    assert again.score == first.score


def test_data_for_a_builtin_task_is_a_user_error(tmp_path) -> None:
    with pytest.raises(UserError, match="takes no --data"):
        evaluate_accuracy("minilm-l6", None, AccuracyRecipe(data="/nonexistent.csv"), tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        evaluate_accuracy("minilm-l6", None, AccuracyRecipe(task="text-classification", data="/nonexistent.csv"),
                          tmp_path)


def test_progress_messages(tmp_path) -> None:
    seen: list[str] = []
    recipe = AccuracyRecipe(task="lee-similarity", importance="last", base_steps=1, train_seq_len=16, eval_limit=10)
    r = evaluate_accuracy("minilm-l6", "layers=5", recipe, tmp_path, progress=seen.append)
    assert seen[0].startswith("loading") and any(m.startswith("scoring") for m in seen)
    assert [m for m in seen if m.startswith("healing step")][-1].startswith(f"healing step {r.steps}/{r.steps}")


def test_threads_follow_idle_cores(monkeypatch) -> None:
    monkeypatch.setattr(runtime, "affinity_cores", lambda: 2)
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # only this process runs
    assert runtime.resolve_threads(0) == 2 and runtime.resolve_threads(1) == 1
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (2.1, 1.0, 1.0))  # another process holds a core
    assert runtime.resolve_threads(0) == 1 and runtime.resolve_threads(2) == 1
    monkeypatch.setattr(runtime.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert runtime.resolve_threads(8) == 2  # never more than the affinity set


def test_spin_guard_drops_to_one_thread_when_steps_slow_down(monkeypatch) -> None:
    clock = iter([0.0, 1.0, 1.0, 2.0, 2.0, 7.0, 7.0, 8.0])  # steps of 1 s, 1 s, then 5 s, then 1 s
    monkeypatch.setattr(heal_mod.time, "perf_counter", lambda: next(clock))
    model = nn.Linear(2, 1)
    objective = HealObjective(8, lambda m, idx: m(torch.ones(len(idx), 2)).pow(2).mean(), "toy")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        report = heal_mod.heal(model, objective, 4, AccuracyRecipe(batch_size=2), torch.device("cpu"), threads=2)
        assert report.threads_end == 1 and torch.get_num_threads() == 1
        assert report.step_s == [1.0, 1.0, 5.0, 1.0]
    finally:
        torch.set_num_threads(before)


def test_result_fields_other_stages_read() -> None:
    r = AccuracyResult(0.5, "pearson", True, 1, 2.0, 3, 4.0, False, 0.4, "m", "layers=1", "t", "distill")
    assert {"score_ci_low", "score_ci_high", "n_items"} <= set(r.to_dict())
    assert r.score_ci_low is None and r.n_items == 0 and math.isfinite(r.score)
