"""Fine-tune jobs and where they run: in this process, in a local process pool, or on a Ray cluster.

A job is a plain dict (picklable, no live objects): model id, canonical pruned spec, the recipe, the cache
folder. Only fine-tunes (accuracy) go to workers; the hardware sweep and constraint checks stay in the
driver, so an infeasible proposal never reaches a worker.
"""

from __future__ import annotations

import math
import os
import socket
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from catransformers.errors import UserError

RAY_MISSING = "--ray-address needs Ray: pip install 'ray[default]==2.60.0'"
RAY_CONNECT_TIMEOUT_S = 5.0  # how long --ray-address may take to accept a connection (this project's choice)


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Prune, fine-tune and score one model (or the surrogate). Never raises: errors come back as a dict.

    `job["prune"]` None scores the unpruned model (the run's baseline) without any pruning.
    """
    try:
        from catransformers.models import full_params, parse_prune, resolve_model

        spec = resolve_model(job["model_id"])
        params = None if job["prune"] is None else parse_prune(spec, job["prune"])
        if job["task"] == "surrogate":
            from catransformers.search.surrogate import surrogate_result

            if params is None:  # the baseline: no delay, no fault injection, not a "fine-tune"
                res = surrogate_result(spec, full_params(spec), job["seed"], job["surrogate_noise"], 0.0, log=False)
            else:
                res = surrogate_result(spec, params, job["seed"], job["surrogate_noise"], job["surrogate_delay_s"],
                                       job.get("surrogate_fail", ""))
        else:
            from catransformers.accuracy import AccuracyRecipe, evaluate_accuracy

            recipe = AccuracyRecipe(**job["recipe"])
            if job["cache_dir"]:
                cache_dir = Path(job["cache_dir"]).expanduser()
            else:
                from catransformers.accuracy.cache import default_cache_dir

                cache_dir = default_cache_dir()
            result = evaluate_accuracy(job["model_id"], params, recipe, cache_dir)
            res = result.to_dict() if hasattr(result, "to_dict") else dict(vars(result))
        score = res.get("score")
        if score is None or not math.isfinite(float(score)):
            return {"ok": False, "error": f"non-finite score {score!r} (diverged fine-tune: NaN loss)"}
        return {"ok": True, "result": res}
    except MemoryError:
        return {"ok": False, "error": "out of memory"}
    except UserError as err:
        return {"ok": False, "error": f"{err}", "user_error": True}
    except Exception as err:  # a failing trial is recorded and the search goes on
        msg = str(err).splitlines()[0] if str(err) else ""
        if "out of memory" in msg.lower():
            msg = f"out of memory: {msg}"
        return {"ok": False, "error": f"{type(err).__name__}: {msg}"[:500],
                "traceback": traceback.format_exc(limit=5)[-2000:]}


def _init_worker(threads: int) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def threads_per_worker(workers: int) -> int:
    """Torch threads for each of `workers` parallel jobs: this process's cores (its affinity set) shared out."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


class Executor:
    """Submit jobs, wait for any to finish. Serial (workers = 1), process pool, or Ray."""

    def __init__(self, workers: int, ray_address: str | None = None) -> None:
        self.workers = max(1, workers)
        self.threads = threads_per_worker(self.workers)
        self._pool: ProcessPoolExecutor | None = None
        self._ray = None
        self._ray_fn: Callable | None = None
        if ray_address:
            ray_preflight(ray_address)
            import ray

            try:
                ray.init(address=ray_address, ignore_reinit_error=True, log_to_driver=False,
                         logging_level="ERROR")
            except Exception as err:
                raise UserError(f"cannot connect to Ray at '{ray_address}': {str(err).splitlines()[0]}; start one "
                                "with `ray start --head`") from None
            self._ray = ray
            self._ray_fn = ray.remote(num_cpus=self.threads)(_ray_job)
        elif self.workers > 1:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"),
                                             initializer=_init_worker, initargs=(self.threads,))

    @property
    def kind(self) -> str:
        return "ray" if self._ray else ("process-pool" if self._pool else "serial")

    @property
    def capacity(self) -> int:
        return self.workers

    def submit(self, job: dict[str, Any]) -> Any:
        if self._ray is not None:
            return self._ray_fn.remote(job, self.threads)
        if self._pool is not None:
            return self._pool.submit(run_job, job)
        fut: Future = Future()
        fut.set_result(run_job(job))
        return fut

    def wait_any(self, handles: list[Any], timeout_s: float | None = None) -> list[tuple[Any, dict[str, Any]]]:
        """(handle, result) for every finished handle, waiting at most `timeout_s` (None: until one is done).

        An empty list means the timeout passed with every job still running (the caller says what it waits for).
        """
        if self._ray is not None:
            done, _ = self._ray.wait(handles, num_returns=1, timeout=timeout_s)
            return [(h, self._ray.get(h)) for h in done]
        done, _ = wait_futures(handles, timeout=timeout_s, return_when="FIRST_COMPLETED")
        out = []
        for h in done:
            try:
                out.append((h, h.result()))
            except Exception as err:  # a crashed worker process (e.g. killed by the OOM killer)
                out.append((h, {"ok": False, "error": f"worker crashed: {type(err).__name__}: {err}"[:500]}))
        return out

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._ray is not None:
            self._ray.shutdown()


def ray_preflight(address: str) -> None:
    """Ray installed and `address` reachable, checked before a run folder is created."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UserError(RAY_MISSING) from None
    check_reachable(address)


def check_reachable(address: str, timeout_s: float = RAY_CONNECT_TIMEOUT_S) -> None:
    """A one-line UserError unless `host:port` accepts a TCP connection within `timeout_s`.

    Ray's own client retries an unreachable address for minutes, printing warnings; this fails in seconds.
    Addresses without a port ('auto', 'ray://...') are left to Ray.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            pass
    except OSError as err:
        raise UserError(f"cannot reach Ray at '{address}' within {timeout_s:g} s ({err.strerror or err}); start "
                        "one with `ray start --head` or fix --ray-address") from None


def _ray_job(job: dict[str, Any], threads: int) -> dict[str, Any]:
    _init_worker(threads)
    return run_job(job)
