"""The run folder: resolved config, the trials journal (source of truth), outputs, written atomically.

Layout of ``runs/<name>/``::

    config.toml          the resolved experiment config (resume reads it back)
    state/trials.json    every Ax trial: parameters, status, designs, accuracy, timings, error
    state/finetunes.log  one line per finished fine-tune (append-only, fsync'd): proves none is repeated
    trials.csv|parquet   one row per evaluated (model, hardware) design, for the report
    run.json             mode, objectives, reference point, strategy, seed, wall time, fine-tunes, hypervolume

Every file except the append-only log is written to a temporary file in the same folder and moved into place
with `os.replace`, so a kill at any moment leaves either the old or the new version, never a torn one.
A lock file keeps two processes out of one run folder (the OS drops the lock if the process dies).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from catransformers.errors import UserError

STATUSES = ("pending", "completed", "failed", "infeasible")


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` via a unique temp file in the same folder and `os.replace`."""
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunStore:
    """One run folder. Create with `create` (refuses an existing run) or `open` (for --resume)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self._lock = FileLock(str(root / ".lock"))

    @classmethod
    def create(cls, root: Path, config_toml: str) -> RunStore:
        root = Path(root)
        if (root / "config.toml").exists() or (root / "state").exists():
            raise UserError(f"{root} already holds a run; continue it with `catransformers search --resume {root}` "
                            "or choose another --out")
        if root.exists() and any(root.iterdir()):
            raise UserError(f"{root} exists and is not empty; choose another --out")
        root.mkdir(parents=True, exist_ok=True)
        store = cls(root)
        store.acquire()
        store.state.mkdir(exist_ok=True)
        atomic_write(root / "config.toml", config_toml)
        store.save_trials([])
        return store

    @classmethod
    def open(cls, root: Path) -> RunStore:
        root = Path(root)
        if not (root / "config.toml").is_file():
            raise UserError(f"{root} holds no run (no config.toml); start one with `catransformers search --out "
                            f"{root}`")
        store = cls(root)
        store.acquire()
        store.state.mkdir(exist_ok=True)
        return store

    def acquire(self) -> None:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise UserError(f"{self.root} is in use by another search process") from None

    def release(self) -> None:
        self._lock.release()

    # -------------------------------------------------------------- journal

    @property
    def trials_path(self) -> Path:
        return self.state / "trials.json"

    def load_trials(self) -> list[dict[str, Any]]:
        if not self.trials_path.exists():
            return []
        return json.loads(self.trials_path.read_text())

    def save_trials(self, trials: list[dict[str, Any]]) -> None:
        atomic_write(self.trials_path, json.dumps(trials, indent=1, default=_json_default))

    def log_finetune(self, key: str, trial: int, wall_s: float) -> None:
        """Append one finished fine-tune to the append-only log (fsync'd before returning)."""
        with open(self.state / "finetunes.log", "a") as fh:
            fh.write(json.dumps({"prune": key, "trial": trial, "wall_s": round(wall_s, 3)}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def finetunes(self) -> list[dict[str, Any]]:
        path = self.state / "finetunes.log"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn last line from a kill mid-write
        return out

    # -------------------------------------------------------------- outputs

    def write_table(self, df: pd.DataFrame) -> None:
        atomic_write(self.root / "trials.csv", df.to_csv(index=False))
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".trials.parquet.", suffix=".tmp")
        os.close(fd)
        try:
            df.to_parquet(tmp, index=False)
            os.replace(tmp, self.root / "trials.parquet")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def write_run_json(self, info: dict[str, Any]) -> None:
        atomic_write(self.root / "run.json", json.dumps(info, indent=2, default=_json_default))

    def read_run_json(self) -> dict[str, Any]:
        path = self.root / "run.json"
        return json.loads(path.read_text()) if path.exists() else {}


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
