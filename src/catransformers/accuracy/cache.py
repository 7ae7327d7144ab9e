"""Persistent, process-safe cache of accuracy results (and of importance scores) on disk.

One JSON file per key under ``<cache>/results/``; the key hashes the base model (id + weight fingerprint), the
canonical pruned spec (`format_prune`), every recipe field and the dataset fingerprint. Entries are written
atomically (temporary file + ``os.replace``); a per-key `filelock` makes a second process wait for the first one's
fine-tune instead of repeating it. An unreadable or inconsistent entry is ignored with a warning and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

CACHE_FORMAT = 1  # bump when the stored fields or the meaning of a key change
_HASH_CHUNK_BYTES = 1 << 22
_memo: dict[tuple[str, int, int], str] = {}


def default_cache_dir() -> Path:
    """$CATRANSFORMERS_CACHE, else ~/.cache/catransformers."""
    env = os.environ.get("CATRANSFORMERS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "catransformers"


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_fingerprint(path: Path, cache_dir: Path | None = None) -> str:
    """sha256 of a weight file, memoised per (path, mtime, size) in memory and in ``<cache>/fingerprints.json``."""
    path = Path(path).resolve()
    stat = path.stat()
    memo_key = (str(path), stat.st_mtime_ns, stat.st_size)
    if memo_key in _memo:
        return _memo[memo_key]
    table_path = Path(cache_dir) / "fingerprints.json" if cache_dir else None
    table: dict[str, Any] = {}
    if table_path and table_path.exists():
        try:
            table = json.loads(table_path.read_text())
        except (OSError, ValueError):
            table = {}
    entry = table.get(str(path))
    if isinstance(entry, dict) and entry.get("mtime_ns") == stat.st_mtime_ns and entry.get("size") == stat.st_size:
        digest = str(entry["sha256"])
    else:
        sha = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK_BYTES):
                sha.update(chunk)
        digest = sha.hexdigest()
        if table_path:
            with FileLock(str(table_path) + ".lock"):
                try:
                    table = json.loads(table_path.read_text()) if table_path.exists() else {}
                except (OSError, ValueError):
                    table = {}
                table[str(path)] = {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size, "sha256": digest}
                atomic_write_text(table_path, json.dumps(table, indent=1))
    _memo[memo_key] = digest
    return digest


def state_dict_fingerprint(model: torch.nn.Module) -> str:
    """sha256 over parameter names, shapes and bytes (for models not backed by a weight file)."""
    sha = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        sha.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        sha.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return sha.hexdigest()


def weights_fingerprint(files: tuple[Path, ...], model: torch.nn.Module, cache_dir: Path | None) -> str:
    if files:
        return hashlib.sha256("".join(file_fingerprint(f, cache_dir) for f in files).encode()).hexdigest()[:20]
    return state_dict_fingerprint(model)[:20]


def make_key(**parts: Any) -> str:
    """Stable hash of the key parts (JSON with sorted keys)."""
    text = json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class ResultCache:
    """Accuracy results by key: ``get``, ``put`` and a per-key ``lock`` (cross-process)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else default_cache_dir()

    def _path(self, kind: str, key: str, suffix: str = ".json") -> Path:
        return self.root / kind / f"{key}{suffix}"

    @contextmanager
    def lock(self, key: str, kind: str = "results") -> Iterator[None]:
        path = self._path(kind, key, ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path)):
            yield

    def get(self, key: str, required: tuple[str, ...] = ()) -> dict | None:
        """The stored entry, or None if absent; a corrupt entry warns and reads as absent."""
        path = self._path("results", key)
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_text())
            if not isinstance(entry, dict) or entry.get("key") != key or entry.get("format") != CACHE_FORMAT:
                raise ValueError("key or format mismatch")
            result = entry["result"]
            missing = [f for f in required if f not in result]
            if missing:
                raise ValueError(f"missing fields {missing}")
            return result
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(f"ignoring corrupted accuracy cache entry {path} ({err}); recomputing", stacklevel=2)
            return None

    def put(self, key: str, result: dict, meta: dict | None = None) -> Path:
        path = self._path("results", key)
        entry = {"format": CACHE_FORMAT, "key": key, "meta": meta or {}, "result": result}
        atomic_write_text(path, json.dumps(entry, indent=1, sort_keys=True, default=str))
        return path

    def blob_path(self, kind: str, key: str, suffix: str = ".pt") -> Path:
        """Where a binary artefact (importance scores, teacher targets) for `key` lives."""
        return self._path(kind, key, suffix)
