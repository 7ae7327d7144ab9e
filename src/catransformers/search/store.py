"""The run folder: resolved config, the trials journal (source of truth), outputs, all written crash-safe.

Layout of ``runs/<name>/``::

    config.toml                 the config in force (the original plus accepted additive changes)
    state/config.original.toml  the config that produced the first trials (resume compares against it)
    state/trials.json           every Ax trial (`TrialRecord`), each with a SHA-256 of its content
    state/finetunes.log         one framed, checksummed line per fine-tune start / finish (append-only, fsync'd)
    trials.csv|parquet          one row per evaluated (model, hardware) design, for the report
    run.json                    mode, objectives, reference point, sessions, fine-tunes, hypervolume, table checksums

A new run folder is built under a temporary name and renamed into place (`fileio.atomic_write_dir`), so it
either holds a whole empty run or does not exist. Every other file except the append-only log is replaced
atomically (`fileio.atomic_write`). Nothing read back is trusted: a missing, truncated, edited or out-of-order
journal is refused with the file named. A lock file keeps two processes out of one folder (the OS drops the
lock when its process dies, so a killed search never leaves a lock that blocks the next one).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from catransformers.errors import UserError
from catransformers.fileio import TEMP_SUFFIX, atomic_write, atomic_write_dir, atomic_write_with, clean_stale_temps
from catransformers.search.records import CHECKSUM_KEY, TrialRecord, canonical_json, checksum_ok, plain, with_checksum

JOURNAL = "trials.json"
FINETUNE_LOG = "finetunes.log"
ORIGINAL_CONFIG = "config.original.toml"


def _leftover_only(root: Path) -> bool:
    """True if `root` holds nothing but what a run creation killed by old code could leave (lock, empty state)."""
    for p in root.iterdir():
        if p.name == ".lock" or (p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX)):
            continue
        if p.name == "state" and p.is_dir() and not any(p.iterdir()):
            continue
        return False
    return True


class RunStore:
    """One run folder. Create with `create` (refuses an existing run) or `open` (for --resume)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / "state"
        self._lock = FileLock(str(root / ".lock"))

    @classmethod
    def create(cls, root: Path, config_toml: str) -> RunStore:
        """Build a new run folder atomically; an empty folder (or a creation leftover) counts as absent."""
        root = Path(root)
        if (root / "config.toml").exists() or (root / "state" / JOURNAL).exists():
            raise UserError(f"{root} already holds a run; continue it with `catransformers search --resume {root}` "
                            "or choose another --out")
        if root.is_dir() and any(root.iterdir()):
            if not _leftover_only(root):
                raise UserError(f"{root} exists and is not empty; choose another --out")
            leftover = cls(root)
            leftover.acquire()  # refuses a folder another live process is creating
            for p in root.iterdir():
                if p.name != ".lock":
                    p.rmdir() if p.is_dir() else p.unlink()
            leftover.release()
            (root / ".lock").unlink(missing_ok=True)

        def build(tmp: Path) -> None:
            (tmp / "state").mkdir()
            atomic_write(tmp / "config.toml", config_toml)
            atomic_write(tmp / "state" / ORIGINAL_CONFIG, config_toml)
            atomic_write(tmp / "state" / JOURNAL, "[]")

        atomic_write_dir(root, build)
        store = cls(root)
        store.acquire()
        return store

    @classmethod
    def open(cls, root: Path) -> RunStore:
        """Open an existing run for --resume; removes temp files a killed writer left (under the lock)."""
        root = Path(root)
        if not (root / "config.toml").is_file():
            raise UserError(f"{root} holds no run (no config.toml); start one with `catransformers search --out "
                            f"{root}`")
        store = cls(root)
        store.acquire()
        clean_stale_temps(root)
        clean_stale_temps(store.state)
        return store

    def acquire(self) -> None:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise UserError(f"{self.root} is in use by another search process") from None

    def release(self) -> None:
        self._lock.release()

    # -------------------------------------------------------------- config

    def original_config(self) -> str:
        """The config text that produced the first trials (config.toml for runs older than that file)."""
        path = self.state / ORIGINAL_CONFIG
        return (path if path.is_file() else self.root / "config.toml").read_text(encoding="utf-8")

    def write_config(self, config_toml: str) -> None:
        atomic_write(self.root / "config.toml", config_toml)

    # -------------------------------------------------------------- journal

    @property
    def trials_path(self) -> Path:
        return self.state / JOURNAL

    def load_trials(self) -> list[TrialRecord]:
        """The journal, verified: present, JSON, one checksummed record per trial, trial i at position i."""
        path = self.trials_path
        where = f"{path}"
        fix = "; it cannot be resumed safely: restore the file or start a new run with another --out"
        if not path.is_file():
            raise UserError(f"{where} is missing{fix}")
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UserError(f"{where} is unreadable (empty, truncated or not JSON){fix}") from None
        if not isinstance(data, list):
            raise UserError(f"{where} is not a list of trial records{fix}")
        out: list[TrialRecord] = []
        for i, raw in enumerate(data):
            if not checksum_ok(raw):
                raise UserError(f"{where}: record {i} fails its checksum (edited or damaged){fix}")
            try:
                rec = TrialRecord.from_dict(raw)
            except (KeyError, TypeError, ValueError) as err:
                raise UserError(f"{where}: record {i} is malformed ({err}){fix}") from None
            if rec.trial != i:
                raise UserError(f"{where}: record {i} is trial {rec.trial} (out of order){fix}")
            out.append(rec)
        return out

    def save_trials(self, trials: list[TrialRecord]) -> None:
        records = [with_checksum(plain(t.to_dict())) for t in trials]
        atomic_write(self.trials_path, "[\n" + ",\n".join(canonical_json(r) for r in records) + "\n]\n")

    # -------------------------------------------------------------- fine-tune log

    def log_finetune(self, record: dict[str, Any]) -> None:
        """Append one framed record: a newline first if a torn tail lacks one, then checksummed JSON; fsync'd.

        A kill mid-write leaves a torn last line that `finetunes()` drops; the next append starts on a fresh
        line, so it is never glued onto the torn one.
        """
        path = self.state / FINETUNE_LOG
        line = canonical_json(with_checksum(plain(record))) + "\n"
        with open(path, "ab+") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    line = "\n" + line
            fh.write(line.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())

    def finetunes(self) -> list[dict[str, Any]]:
        """The valid records of the fine-tune log (torn or edited lines are dropped)."""
        path = self.state / FINETUNE_LOG
        if not path.exists():
            return []
        out = []
        for line in path.read_bytes().split(b"\n"):
            try:
                rec = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
            if checksum_ok(rec):
                out.append({k: v for k, v in rec.items() if k != CHECKSUM_KEY})
        return out

    # -------------------------------------------------------------- outputs

    def write_table(self, df: pd.DataFrame) -> dict[str, Any]:
        """Write trials.csv and trials.parquet; returns their row count and SHA-256 for run.json."""
        csv = df.to_csv(index=False).encode("utf-8")
        atomic_write(self.root / "trials.csv", csv)
        digest: dict[str, str] = {}

        def parquet(tmp: Path) -> None:
            df.to_parquet(tmp, index=False)
            digest["parquet"] = hashlib.sha256(tmp.read_bytes()).hexdigest()

        atomic_write_with(self.root / "trials.parquet", parquet)
        return {"rows": len(df), "csv_sha256": hashlib.sha256(csv).hexdigest(), "parquet_sha256": digest["parquet"]}

    def write_run_json(self, info: dict[str, Any]) -> None:
        atomic_write(self.root / "run.json", json.dumps(plain(info), indent=2))

    def read_run_json(self) -> dict[str, Any]:
        path = self.root / "run.json"
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UserError(f"{path} is unreadable (truncated or not JSON); restore it or start a new run") from None
        return data if isinstance(data, dict) else {}
