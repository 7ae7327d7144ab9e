"""Uncertainty: a cited table of distributions of the uncertain figures, seeded joint sampling, statistics."""

from catransformers.uncertainty.apply import SampleSettings, settings_for_sample
from catransformers.uncertainty.sampler import (
    DEFAULT_QUANTILES,
    draw,
    inverse_cdf,
    prob_min,
    quantile_columns,
    quantiles,
    rank_stability,
)
from catransformers.uncertainty.table import Distribution, DistributionTable, load_table, parse_table

__all__ = [
    "DEFAULT_QUANTILES",
    "Distribution",
    "DistributionTable",
    "SampleSettings",
    "draw",
    "inverse_cdf",
    "load_table",
    "parse_table",
    "prob_min",
    "quantile_columns",
    "quantiles",
    "rank_stability",
    "settings_for_sample",
]
