"""The Rossmann Store Sales example: schema, loading, validation, synthetic data, models."""

from daskcloud.rossmann.baseline import MedianBaseline
from daskcloud.rossmann.features import RossmannFeatures, split_xy
from daskcloud.rossmann.generate import NOISE_SIGMA, PRESETS, SyntheticData, build, generate
from daskcloud.rossmann.io import RossmannData, load_rossmann
from daskcloud.rossmann.job import baseline_report
from daskcloud.rossmann.metric import rmspe, rmspe_scorer
from daskcloud.rossmann.model import LogTargetMLP, default_search_space, make_pipeline
from daskcloud.rossmann.splits import TimeSeriesFolds, holdout_split
from daskcloud.rossmann.validate import Problem, ValidationReport, validate_dir

__all__ = [
    "NOISE_SIGMA",
    "PRESETS",
    "LogTargetMLP",
    "MedianBaseline",
    "Problem",
    "RossmannData",
    "RossmannFeatures",
    "SyntheticData",
    "TimeSeriesFolds",
    "ValidationReport",
    "baseline_report",
    "build",
    "default_search_space",
    "generate",
    "holdout_split",
    "load_rossmann",
    "make_pipeline",
    "rmspe",
    "rmspe_scorer",
    "split_xy",
    "validate_dir",
]
