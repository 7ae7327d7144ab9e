"""Persistent, process-safe cache of accuracy results (and of importance scores) on disk.

One JSON file per key under ``<cache>/results/``; the key hashes the base model (id + weight fingerprint), the
canonical pruned spec (`format_prune`), every recipe field and the dataset fingerprint. Entries are written
atomically (`catransformers.fileio`); a per-key `filelock` makes a second process wait for the first one's
fine-tune instead of repeating it.

Nothing stored is trusted: a result entry carries the sha256 of its canonical content, and a binary artefact
(importance scores, teacher targets) a ``.sha256`` file beside it. An entry that is unreadable, truncated, not
JSON, of another format or key, or whose checksum does not match its content (e.g. an edited score) is warned
about, ignored and recomputed; it is never served as cached.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from catransformers.fileio import atomic_write, atomic_write_with

# Bump when the stored fields or the meaning of a key change. 2: results carry score_ci_low / score_ci_high /
# n_items and a content checksum; blobs a .sha256 file.
CACHE_FORMAT = 2
_HASH_CHUNK_BYTES = 1 << 22
_memo: dict[tuple[str, int, int], str] = {}


def default_cache_dir() -> Path:
    """$CATRANSFORMERS_CACHE, else ~/.cache/catransformers."""
    env = os.environ.get("CATRANSFORMERS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "catransformers"


def content_checksum(payload: Any) -> str:
    """sha256 of `payload` as canonical JSON (sorted keys): what a result entry's checksum covers."""
    text = json.dumps(payload, sort_keys=True, default=str, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def bytes_checksum(path: Path) -> str:
    sha = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            sha.update(chunk)
    return sha.hexdigest()


def _warn_corrupt(path: Path, why: object) -> None:
    warnings.warn(f"ignoring corrupted accuracy cache entry {path} ({why}); recomputing", stacklevel=3)


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
        digest = bytes_checksum(path)
        if table_path:
            with FileLock(str(table_path) + ".lock"):
                try:
                    table = json.loads(table_path.read_text()) if table_path.exists() else {}
                except (OSError, ValueError):
                    table = {}
                table[str(path)] = {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size, "sha256": digest}
                atomic_write(table_path, json.dumps(table, indent=1))
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
        """The stored result, or None if absent; a corrupt or tampered entry warns and reads as absent."""
        path = self._path("results", key)
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_bytes().decode("utf-8"))
            if not isinstance(entry, dict) or entry.get("key") != key or entry.get("format") != CACHE_FORMAT:
                raise ValueError("key or format mismatch")
            result = entry["result"]
            if not isinstance(result, dict):
                raise ValueError("result is not an object")
            if entry.get("checksum") != content_checksum(self._covered(key, result, entry.get("meta"))):
                raise ValueError("checksum does not match the content")
            missing = [f for f in required if f not in result]
            if missing:
                raise ValueError(f"missing fields {missing}")
            return result
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
            _warn_corrupt(path, err)
            return None

    @staticmethod
    def _covered(key: str, result: dict, meta: Any) -> dict:
        return {"format": CACHE_FORMAT, "key": key, "meta": meta, "result": result}

    def put(self, key: str, result: dict, meta: dict | None = None) -> Path:
        path = self._path("results", key)
        # Round-trip through JSON first so the checksum covers exactly what a reader will parse.
        result, meta = json.loads(json.dumps(result, default=str)), json.loads(json.dumps(meta or {}, default=str))
        entry = {**self._covered(key, result, meta), "checksum": content_checksum(self._covered(key, result, meta))}
        return atomic_write(path, json.dumps(entry, indent=1, sort_keys=True))

    def blob_path(self, kind: str, key: str, suffix: str = ".pt") -> Path:
        """Where a binary artefact (importance scores, teacher targets) for `key` lives."""
        return self._path(kind, key, suffix)

    def get_blob(self, kind: str, key: str, suffix: str, reader: Callable[[Path], Any]) -> Any | None:
        """`reader(path)` of a stored artefact whose bytes match its checksum; None (with a warning) otherwise."""
        path = self.blob_path(kind, key, suffix)
        if not path.exists():
            return None
        digest = path.with_name(path.name + ".sha256")
        try:
            if not digest.exists():
                raise ValueError("no checksum file")
            if digest.read_text().strip() != bytes_checksum(path):
                raise ValueError("checksum does not match the content")
            return reader(path)
        except Exception as err:  # any failure to read a stored artefact means: recompute, never trust it
            _warn_corrupt(path, err)
            return None

    def put_blob(self, kind: str, key: str, suffix: str, writer: Callable[[Path], None]) -> Path:
        """Write an artefact atomically with `writer(tmp_path)`, then its checksum file."""
        path = atomic_write_with(self.blob_path(kind, key, suffix), writer)
        atomic_write(path.with_name(path.name + ".sha256"), bytes_checksum(path) + "\n")
        return path
