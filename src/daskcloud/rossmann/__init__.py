"""The Rossmann Store Sales example: schema, loading, validation, synthetic data, models."""

from daskcloud.rossmann.generate import NOISE_SIGMA, PRESETS, SyntheticData, build, generate
from daskcloud.rossmann.io import RossmannData, load_rossmann
from daskcloud.rossmann.validate import Problem, ValidationReport, validate_dir

__all__ = [
    "NOISE_SIGMA",
    "PRESETS",
    "Problem",
    "RossmannData",
    "SyntheticData",
    "ValidationReport",
    "build",
    "generate",
    "load_rossmann",
    "validate_dir",
]
