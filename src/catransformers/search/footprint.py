"""The search's own carbon footprint, measured with codecarbon (optional; `search.footprint = true`).

codecarbon 3.3.2 logs "Multiple instances of codecarbon are allowed to run at the same time." and INFO
lines on every tracker it builds; unless `verbose`, only its errors are shown. Multiple instances stay allowed
on purpose: otherwise codecarbon takes a lock file of its own that a killed search would leave behind.
"""

from __future__ import annotations

import logging
from typing import Any

MULTI_RUN_NOTICE = "Multiple instances of codecarbon are allowed"
# codecarbon samples power every `measure_power_secs` (its default is 15 s; codecarbon 3.3.2 docs).
MEASURE_POWER_S = 15


class _DropNotice(logging.Filter):
    """Quiet codecarbon: only its errors pass (it logs INFO lines such as "offline tracker init" before it
    applies its own `log_level`), and never the multi-instance notice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR and MULTI_RUN_NOTICE not in record.getMessage()


class Footprint:
    """Start / stop one codecarbon offline tracker; a failure is recorded, never raised."""

    def __init__(self, country: str, verbose: bool = False) -> None:
        self.country = country
        self.verbose = verbose
        self.tracker: Any = None
        self.error: str | None = None

    def start(self) -> Footprint:
        try:
            logger = logging.getLogger("codecarbon")
            if not self.verbose and not any(isinstance(f, _DropNotice) for f in logger.filters):
                logger.addFilter(_DropNotice())
            from codecarbon import OfflineEmissionsTracker

            self.tracker = OfflineEmissionsTracker(
                country_iso_code=self.country, save_to_file=False, log_level="info" if self.verbose else "error",
                measure_power_secs=MEASURE_POWER_S, tracking_mode="process", allow_multiple_runs=True)
            self.tracker.start()
        except Exception as err:  # optional measurement: never fails the search
            self.tracker = None
            self.error = f"codecarbon unavailable: {type(err).__name__}: {err}"[:200]
        return self

    def stop(self, previous: dict[str, Any] | None) -> dict[str, Any] | None:
        """This session's emissions added to `previous` (earlier sessions'), or the error; None if not measured."""
        if self.tracker is None:
            return {"error": self.error} if self.error else None
        prev = previous if previous and "emissions_kg" in previous else {}
        try:
            kg = float(self.tracker.stop() or 0.0)
            data = self.tracker.final_emissions_data
            return {
                "emissions_kg": kg + float(prev.get("emissions_kg", 0.0)),
                "energy_kwh": float(getattr(data, "energy_consumed", 0.0)) + float(prev.get("energy_kwh", 0.0)),
                "country": self.country, "tool": "codecarbon (offline)",
            }
        except Exception as err:
            return {"error": f"codecarbon: {type(err).__name__}: {err}"[:200]}
