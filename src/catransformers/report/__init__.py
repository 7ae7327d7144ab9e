"""Reports of a search run: Pareto sets, exact hypervolume, plots, the HTML report and the CLI table.

The names below load their module on first use (PEP 562), so `catransformers.report.tables` or `.pareto` can be
imported by the CLI and the search without pulling in matplotlib and the HTML report.
"""

from importlib import import_module
from typing import Any

_HOME = {
    "RunData": "html", "build_report": "html", "load_run": "html", "run_hypervolume": "html", "run_summary": "html",
    "feasible_rows": "pareto", "hypervolume": "pareto", "objective_specs": "pareto", "pareto_front": "pareto",
    "pareto_mask": "pareto", "write_plots": "plots", "format_pareto_table": "tables", "pareto_display_rows": "tables",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'catransformers.report' has no attribute '{name}'")
    return getattr(import_module(f"catransformers.report.{_HOME[name]}"), name)
