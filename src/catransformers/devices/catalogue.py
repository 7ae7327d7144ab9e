"""Load the device catalogue: the package's TOMLs plus a user's folder (argument or $CATRANSFORMERS_DEVICES).

A user file with the id of a packaged device replaces it (to correct or update a figure); two user files with one
id are an error. Every problem is a one-line `UserError` naming the file and the key.
"""

from __future__ import annotations

import difflib
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

from catransformers.devices.schema import DeviceFile
from catransformers.errors import UserError
from catransformers.strict import parse_toml_model

ENV_VAR = "CATRANSFORMERS_DEVICES"


def parse_device(text: str, origin: str) -> DeviceFile:
    """Validate one device TOML (text); `origin` names it in errors."""
    return parse_toml_model(text, DeviceFile, f"device file {origin}")


def _packaged() -> dict[str, DeviceFile]:
    out: dict[str, DeviceFile] = {}
    root = resources.files("catransformers.devices") / "catalogue"
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".toml"):
            dev = parse_device(entry.read_text(encoding="utf-8"), f"catalogue/{entry.name}")
            out[dev.id] = dev
    return out


def _user(folder: Path) -> dict[str, DeviceFile]:
    if not folder.is_dir():
        raise UserError(f"device folder {folder} not found (set by argument or ${ENV_VAR})")
    out: dict[str, DeviceFile] = {}
    for path in sorted(folder.glob("*.toml")):
        dev = parse_device(path.read_text(encoding="utf-8"), str(path))
        if dev.id in out:
            raise UserError(f"device id '{dev.id}' is defined twice in {folder}; give each file its own id")
        out[dev.id] = dev
    return out


@lru_cache(maxsize=1)
def _packaged_cached() -> dict[str, DeviceFile]:
    return _packaged()


def load_catalogue(folder: str | Path | None = None) -> dict[str, DeviceFile]:
    """All devices by id: packaged ones, then the user's folder (`folder`, else $CATRANSFORMERS_DEVICES)."""
    devices = dict(_packaged_cached())
    extra = folder if folder is not None else os.environ.get(ENV_VAR)
    if extra:
        devices |= _user(Path(extra))
    return devices


def resolve_devices(names: str | list[str] | tuple[str, ...], folder: str | Path | None = None) -> list[DeviceFile]:
    """Devices for 'all', a comma-separated string or a list of ids; unknown ids suggest close names."""
    catalogue = load_catalogue(folder)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names:
        raise UserError("no device given; name one or more ids, or 'all' (see `catransformers devices`)")
    if list(names) == ["all"]:
        return list(catalogue.values())
    out = []
    for name in names:
        if name not in catalogue:
            close = [d for d in catalogue if name.lower() in d][:3]
            close += [d for d in difflib.get_close_matches(name, list(catalogue), n=3, cutoff=0.4) if d not in close]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UserError(f"unknown device '{name}'{hint}; run `catransformers devices` for the list")
        out.append(catalogue[name])
    return out
