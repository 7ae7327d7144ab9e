"""The typed trial record: one Ax trial, its status, designs, accuracy and timings, with a JSON round trip.

The trials journal (`state/trials.json`) holds one `TrialRecord.to_dict()` per trial plus a checksum of that
dict (see `record_checksum`), so a record edited or damaged on disk is recognised instead of trusted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from enum import Enum, StrEnum
from pathlib import PurePath
from typing import Any

CHECKSUM_KEY = "sha256"
# Fields of an accuracy result that a trial keeps (the rest of `AccuracyResult` stays in the accuracy cache).
ACCURACY_FIELDS = ("score", "metric", "higher_is_better", "params", "flops", "steps", "wall_s", "cached",
                   "score_before_heal", "score_ci_low", "score_ci_high", "n_items")


class Status(StrEnum):
    """Where a trial stands; the values are what the journal and trials.csv hold."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    INFEASIBLE = "infeasible"


@dataclass
class TrialRecord:
    """One Ax trial. `prune` is the canonical pruned spec; `designs` the feasible hardware front (best first)."""

    trial: int
    params: dict[str, Any]
    hw: dict[str, Any] | None = None
    prune: str | None = None
    status: Status = Status.PENDING
    designs: list[dict[str, Any]] = field(default_factory=list)
    accuracy: dict[str, Any] | None = None
    objectives: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    cached: bool = False
    finetune_error: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status is not Status.PENDING

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialRecord:
        """Inverse of `to_dict`; raises ValueError / KeyError / TypeError on a malformed record."""
        if not isinstance(data, dict):
            raise TypeError(f"a trial record is a JSON object, got {type(data).__name__}")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        rec = cls(**known)
        rec.status = Status(rec.status)
        if not isinstance(rec.trial, int) or isinstance(rec.trial, bool) or not isinstance(rec.params, dict):
            raise TypeError("trial must be an integer and params an object")
        return rec


def canonical_json(data: Any) -> str:
    """The one JSON text a checksum is taken over (sorted keys, no spaces; NaN as the token NaN)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=_plain)


def record_checksum(data: dict[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON, without its own checksum field."""
    body = {k: v for k, v in data.items() if k != CHECKSUM_KEY}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def with_checksum(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, CHECKSUM_KEY: record_checksum(data)}


def checksum_ok(data: Any) -> bool:
    return isinstance(data, dict) and data.get(CHECKSUM_KEY) == record_checksum(data)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Enum):
        return obj.value
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, PurePath):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def plain(data: Any) -> Any:
    """`data` with numpy scalars and enums turned into plain JSON values (so checksums survive a round trip)."""
    return json.loads(canonical_json(data))
