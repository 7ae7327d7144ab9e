"""Reports of a search run: Pareto sets, exact hypervolume, plots, the HTML report and the CLI table."""

from catransformers.report.html import RunData, build_report, load_run, run_hypervolume, run_summary
from catransformers.report.pareto import feasible_rows, hypervolume, objective_specs, pareto_front, pareto_mask
from catransformers.report.plots import write_plots
from catransformers.report.tables import format_pareto_table, pareto_display_rows

__all__ = [
    "RunData",
    "build_report",
    "feasible_rows",
    "format_pareto_table",
    "hypervolume",
    "load_run",
    "objective_specs",
    "pareto_display_rows",
    "pareto_front",
    "pareto_mask",
    "run_hypervolume",
    "run_summary",
    "write_plots",
]
