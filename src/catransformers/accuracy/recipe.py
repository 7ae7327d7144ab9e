"""The accuracy recipe (what to score, how to heal) and the result of one accuracy trial.

`AccuracyRecipe` is embedded in the search's experiment config, so every field has the offline default's value
(MiniLM-L6 scored on gensim's human-rated similarity sets, task ``human-similarity``, healed by embedding
distillation on ``lee_background.cor``). Every score carries a seeded 95% bootstrap interval (`accuracy.stats`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

from pydantic import Field

from catransformers.strict import StrictModel

HealMode = Literal["distill", "supervised", "none"]
ImportanceMethod = Literal["taylor", "activation", "magnitude", "ablation", "last"]

# Paper (CATransformers, arXiv 2505.01386): fine-tune epochs scaled by the FLOP ratio unpruned/pruned, capped at 10x.
BUDGET_CAP_X = 10.0


class AccuracyRecipe(StrictModel):
    """How one pruned model is healed and scored. All fields enter the result-cache key."""

    task: str = Field("auto", description="task scorer; 'auto' = the model's default task (see tasks.TASKS)")
    heal: HealMode = Field("distill", description="distill from the unpruned model, supervised, or none")
    base_steps: int = Field(12, ge=0, description="optimizer steps at FLOP ratio 1 (unpruned size)")
    budget_cap_x: float = Field(BUDGET_CAP_X, ge=1.0, description="cap on the FLOP-ratio step multiplier")
    warmup_frac: float = Field(0.1, ge=0.0, lt=1.0, description="linear warm-up, as a fraction of the run")
    schedule: Literal["cosine", "linear"] = "cosine"
    lr: float = Field(1e-4, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    batch_size: int = Field(16, ge=1)
    grad_clip: float = Field(1.0, gt=0.0)
    train_seq_len: int = Field(128, ge=8, description="tokens per training sequence (text tasks)")
    eval_seq_len: int = Field(256, ge=8, description="tokens per scored sequence (MiniLM's max is 256)")
    seed: int = 0
    # 0 = all cores of this process's affinity set; always capped by the cores idle at the start of the trial and
    # dropped to 1 mid-run if steps slow down (OpenMP spin-waiting under load; see runtime.resolve_threads).
    # Not part of the cache key: the thread count changes scores by < 1e-8 (float summation order).
    threads: int = Field(0, ge=0, description="torch CPU threads during a trial (0 = chosen per machine)")
    # 'activation' measured best on Lee-50 (benchmarks/bench_accuracy_trial.py): layers by block influence keep
    # 0.64 at 4 of 6 layers where first-order Taylor and removing from the end keep 0.42.
    importance: ImportanceMethod = Field(
        "activation", description="what decides the removed units; 'last' removes units from the end (baseline)"
    )
    calib_size: int = Field(32, ge=1, description="calibration examples for importance scores")
    data: str | None = Field(None, description="task data path (CSV / HF dataset on disk); None = built-in")
    eval_limit: int | None = Field(None, ge=1, description="score on at most this many examples (None = all)")


@dataclass
class AccuracyResult:
    """One accuracy trial: the score after healing plus what it cost."""

    score: float
    metric: str
    higher_is_better: bool
    params: int
    flops: float  # forward FLOPs per inference at the spec's sequence length (2 per MAC)
    steps: int  # healing optimizer steps
    wall_s: float  # prune + heal + score wall time of the run that produced it
    cached: bool
    score_before_heal: float
    model_id: str
    prune: str  # canonical pruned spec (format_prune)
    task: str
    heal: str
    # 95% seeded bootstrap interval of `score` over the evaluation units (see accuracy.stats and the task's doc:
    # documents for Lee-50, word pairs, test examples, ...) and how many units were scored. None/0 = not known.
    score_ci_low: float | None = None
    score_ci_high: float | None = None
    n_items: int = 0
    loss_first: float | None = None  # mean healing loss over the first 10% of steps
    loss_last: float | None = None  # mean healing loss over the last 10% of steps
    cache_key: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)
