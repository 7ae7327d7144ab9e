"""Kill-and-resume harness: SIGKILL a search N times (right after journal writes and at random moments), resume
after each kill, and count completed trials lost, changed or evaluated twice (all must be 0).

    python benchmarks/kill_resume_harness.py --kills 20 [--trials 24] [--seed 0]

Uses the `surrogate` accuracy task with a per-evaluation delay (no model download, seconds per trial), and the
surrogate's evaluation log (CATRANSFORMERS_SURROGATE_LOG) as the independent record of what was evaluated.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from catransformers.search.surrogate import LOG_ENV

CLI = [sys.executable, "-c", "from catransformers.cli import main; main()"]
CONFIG = """
[model]
id = "minilm-l6"
[search]
trials = {trials}
sobol_trials = 4
batch_size = 2
seed = {seed}
acqf_restarts = 2
acqf_raw_samples = 64
[accuracy]
task = "surrogate"
surrogate_delay_s = 0.15
"""


def _completed(run: Path) -> dict[int, dict]:
    try:
        trials = json.loads((run / "state" / "trials.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    records = trials["trials"] if isinstance(trials, dict) else trials
    return {t["trial"]: t for t in records if t.get("status") == "completed"}


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, LOG_ENV: str(log), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tmp = Path(tempfile.mkdtemp(prefix="killharness-"))
    cfg, run, log = tmp / "exp.toml", tmp / "run", tmp / "evals.log"
    cfg.write_text(CONFIG.format(trials=a.trials, seed=a.seed))
    seen: dict[int, dict] = {}
    lost = changed = kills = 0
    proc = _spawn(["search", "--config", str(cfg), "--out", str(run)], log)
    t0 = time.time()
    while kills < a.kills:
        after_write = kills % 2 == 0
        target = len(_completed(run)) + 1
        while proc.poll() is None and len(_completed(run)) < target:
            time.sleep(0.005)
        if proc.poll() is not None:  # finished before this kill: start over in a fresh run folder
            break
        if not after_write:
            time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        now = _completed(run)
        lost += sum(1 for i in seen if i not in now)
        changed += sum(1 for i, r in seen.items() if i in now and (now[i]["params"] != r["params"]
                                                                 or now[i]["accuracy"] != r["accuracy"]))
        seen.update(now)
        proc = _spawn(["search", "--resume", str(run)], log)
    rc = proc.wait(timeout=600)
    final = _completed(run)
    lost += sum(1 for i in seen if i not in final)
    changed += sum(1 for i, r in seen.items() if i in final and final[i]["accuracy"] != r["accuracy"])
    evaluated = log.read_text().splitlines() if log.exists() else []
    repeated = len(evaluated) - len(set(evaluated))
    print(f"kills {kills} (half right after a journal write, half at random moments), final exit {rc}, "
          f"{len(final)}/{a.trials} trials completed, wall {time.time() - t0:.0f} s")
    print(f"completed trials lost {lost}, changed {changed}, evaluations repeated {repeated} "
          f"({len(set(evaluated))} distinct pruned models evaluated)")
    if rc != 0:
        print(proc.stderr.read()[-2000:])
    sys.exit(0 if (lost, changed, repeated, rc) == (0, 0, 0, 0) else 1)


if __name__ == "__main__":
    main()
