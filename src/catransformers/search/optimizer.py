"""Ax (1.x `ax.api.client.Client`) with BoTorch: Sobol initialisation, then qLogNEHVI; or quasi-random only.

The trials journal is the source of truth: on resume a fresh client is built and every journalled trial is
re-attached with its outcome (`replay`), so the Ax state never needs its own file. Candidate batches have a
fixed size (`search.batch_size`), generated only after the previous batch is fully reported, so the results do
not depend on how many workers evaluate them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from ax.api.client import Client
from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig
from ax.api.utils.generation_strategy_dispatch import choose_generation_strategy
from ax.api.utils.structs import GenerationStrategyDispatchStruct
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement

from catransformers.errors import UserError
from catransformers.search.kernel import prepare_logei_kernel
from catransformers.search.problem import Problem
from catransformers.search.records import Status, TrialRecord


def _quiet() -> None:
    prefixes = ("ax", "botorch", "linear_operator", "gpytorch", "pyro")
    for name in [*logging.root.manager.loggerDict, *prefixes]:
        if name.split(".")[0] in prefixes:
            logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"(ax|botorch|gpytorch|linear_operator)(\..*)?")


@contextmanager
def one_thread() -> Iterator[None]:
    """Fit and optimise on one torch thread: on a busy CPU, multi-threaded GP fits of a few dozen points
    spin-wait and ran 10-40x slower here (0.6-2 s vs 25-80 s per batch, measured side by side)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class AxOptimizer:
    """Proposes parameterizations for one problem and learns from reported outcomes."""

    def __init__(self, problem: Problem, strategy: str, seed: int, sobol_trials: int,
                 acqf_restarts: int = 4, acqf_raw_samples: int = 256, fused_logei: bool = True) -> None:
        _quiet()
        self.problem = problem
        self.strategy = strategy
        self.fused_logei = fused_logei
        self.kernel: str | None = None  # 'fused' or 'pure: <why>', decided before the first proposal
        self.notify: Callable[[str], None] | None = None  # where waits longer than a few seconds are announced
        self.client = Client(random_seed=seed)
        params: list[RangeParameterConfig | ChoiceParameterConfig] = []
        for enc, knob in problem.model_knobs:
            rng = problem.space[enc][knob]
            params.append(RangeParameterConfig(
                name=f"{enc}__{knob}", bounds=(rng.low, rng.low + (len(rng.values()) - 1) * rng.step),
                parameter_type="int", step_size=rng.step if rng.step > 1 else None,
            ))
        if strategy in ("joint", "random"):
            for key, values in problem.hw_values.items():
                is_int = all(float(v).is_integer() for v in values)
                params.append(ChoiceParameterConfig(
                    name=f"hw__{key}", values=[int(v) for v in values] if is_int else [float(v) for v in values],
                    parameter_type="int" if is_int else "float", is_ordered=True,
                ))
            for key, choices in problem.memory_values.items():  # technology (unordered), part (smallest < next)
                params.append(ChoiceParameterConfig(name=f"hw__{key}", values=list(choices), parameter_type="str",
                                                    is_ordered=key == "memory_part"))
        if not params:
            raise UserError("nothing to search: every knob of the space is fixed; widen [model.space] or "
                            "[hardware], or use --mode hardware")
        self.parameter_names = [p.name for p in params]
        self.client.configure_experiment(parameters=params, name="catransformers")
        objs = problem.mode.objectives
        objective = ", ".join(("" if o.maximize else "-") + o.name for o in objs)
        thresholds = [f"{o.name} {'>=' if o.maximize else '<='} {problem.reference[o.name]!r}" for o in objs]
        self.client.configure_optimization(objective=objective, outcome_constraints=thresholds)
        struct = GenerationStrategyDispatchStruct(
            method="random_search" if strategy == "random" else "fast",
            initialization_budget=sobol_trials, initialization_random_seed=seed, initialize_with_center=False,
            allow_exceeding_initialization_budget=False,
        )
        acqf = None if strategy == "random" else qLogNoisyExpectedHypervolumeImprovement
        strategy_obj = choose_generation_strategy(struct, botorch_acqf_class=acqf)
        for node in strategy_obj._nodes:
            if node.name == "MBM":  # fewer acquisition restarts than Ax's 20 / 1024 raw samples: CPU budget
                opts = {"optimizer_kwargs": {"num_restarts": acqf_restarts, "raw_samples": acqf_raw_samples}}
                node.generator_specs[0].generator_gen_kwargs = {"model_gen_options": opts}
        self.client.set_generation_strategy(strategy_obj)
        _quiet()

    def replay(self, trials: list[TrialRecord]) -> None:
        """Re-attach journalled trials in order (indices match the journal); pending ones stay running."""
        with one_thread():
            self._replay(trials)

    def _replay(self, trials: list[TrialRecord]) -> None:
        for rec in trials:
            idx = self.client.attach_trial(parameters=rec.params)
            if idx != rec.trial:
                raise RuntimeError(f"journal out of order: trial {rec.trial} re-attached as {idx}")
            self.report(rec)

    def report(self, rec: TrialRecord) -> None:
        """Tell Ax a trial's outcome: objectives, or abandoned (infeasible: no fine-tune), or failed."""
        if rec.status is Status.COMPLETED:
            self.client.complete_trial(rec.trial, raw_data={k: float(v) for k, v in rec.objectives.items()})
        elif rec.status is Status.INFEASIBLE:
            self.client.mark_trial_abandoned(rec.trial)
        elif rec.status is Status.FAILED:
            self.client.mark_trial_failed(rec.trial, failed_reason=str(rec.error or "")[:200])

    def propose(self, n: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to `n` new trials (index, parameterization); fewer only if the space is exhausted."""
        if self.kernel is None and self.strategy != "random":  # never an unexplained wait on botorch's build lock
            self.kernel = prepare_logei_kernel(self.notify, self.fused_logei)
        with one_thread():
            return self._propose(n)

    def _propose(self, n: int) -> list[tuple[int, dict[str, Any]]]:
        out: list[tuple[int, dict[str, Any]]] = []
        for _ in range(4):  # Ax may stop a batch early at a Sobol -> BO transition
            if len(out) >= n:
                break
            try:
                got = self.client.get_next_trials(max_trials=n - len(out))
            except Exception:
                if out:  # the strategy needs data before more candidates: run what we have
                    break
                raise
            if not got:
                break
            out.extend(sorted(got.items()))
        return out
