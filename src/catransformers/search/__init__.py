"""Search: experiment config, modes, the Ax/BoTorch engine (nested / joint / random), persistence and resume."""

from catransformers.search.config import ExperimentConfig, config_from_dict, config_to_toml, load_config, preset_names
from catransformers.search.engine import Engine, SearchInterrupted, SearchOutcome
from catransformers.search.modes import MODES, Mode, Objective, get_mode
from catransformers.search.records import Status, TrialRecord
from catransformers.search.surrogate import surrogate_score
from catransformers.search.table import trials_table


def run_search(cfg: ExperimentConfig, run_dir=None, resume: bool = False, reporter=None) -> SearchOutcome:
    """Run (or, with `resume=True`, continue) the experiment `cfg` in `run_dir`; returns its outcome."""
    engine = Engine.resume(run_dir, cfg, reporter) if resume else Engine.start(cfg, run_dir, reporter)
    return engine.run()


__all__ = [
    "MODES", "Engine", "ExperimentConfig", "Mode", "Objective", "SearchInterrupted", "SearchOutcome", "Status",
    "TrialRecord",
    "config_from_dict", "config_to_toml", "get_mode", "load_config", "preset_names", "run_search",
    "surrogate_score", "trials_table",
]
