"""Crash-safe file output shared by every stage: write beside the target, fsync, then `os.replace`.

A kill at any moment leaves either the old or the new version of a file, never a torn one; the temporary file
is named ``.<name>.<random>.tmp`` in the same folder so `clean_stale_temps` can remove what a kill left behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

TEMP_SUFFIX = ".tmp"
# Files are created readable by the group and others, like every other output (mkstemp alone gives 0600).
FILE_MODE = 0o644
DIR_MODE = 0o755


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    return Path(tmp)


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write `data` (text is UTF-8 encoded) to `path` atomically; returns `path`."""
    raw = data.encode("utf-8") if isinstance(data, str) else data

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write_with(path, write)


def atomic_write_with(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Let `writer(tmp)` produce the file (parquet, torch.save, ...) at a temp path, then move it onto `path`."""
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        writer(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_dir(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Let `writer(tmp_dir)` fill a fresh folder, then move it onto `path` (which must not exist or be empty)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX))
    try:
        os.chmod(tmp, DIR_MODE)  # mkdtemp makes it 0700; outputs are readable like every other folder
        writer(tmp)
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def clean_stale_temps(folder: str | Path) -> list[Path]:
    """Remove temporary files a killed writer left in `folder` (not recursive); returns what was removed.

    Call it only while holding the folder's lock: a live writer's temporary file would be removed too.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if p.name.startswith(".") and p.name.endswith(TEMP_SUFFIX):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def check_output_dir(path: str | Path, *, force: bool = False, files: tuple[str, ...] = (),
                     flag: str = "--out") -> Path:
    """Refuse an output folder that cannot take the outputs, before any work is done (one-line UserError).

    It must not be a file or lie below one, must be empty unless `force`, writable, its name not too long, and none
    of the `files` about to be written may exist as a folder.
    """
    from catransformers.errors import UserError

    path = Path(path)
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            where = "is" if part == path else f"lies below {part}, which is"
            raise UserError(f"{flag} {path} {where} a file; choose a folder path")
    if len(path.name.encode()) > 255 or len(str(path.absolute()).encode()) > 4000:
        raise UserError(f"{flag} {str(path)[:60]}...: the name is too long for the file system")
    if path.is_dir():
        if any(path.iterdir()) and not force:
            raise UserError(f"{flag} {path} exists and is not empty; choose another folder or pass --force")
        for name in files:
            if (path / name).is_dir():
                raise UserError(f"{flag} {path}: {name} exists there as a folder; remove it or choose another folder")
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {existing} is not writable; choose a folder you can write to")
    return path
