"""The messages between the driver and the workers: one type per message.

The runner (driver) sends each task a list of :class:`Unit` -- one fit each --
and, for a shared pipeline prefix, the prefix's key and steps; a worker answers
a batch with one :class:`BatchResult` holding a :class:`UnitResult` per unit and
the :class:`PrefixFit` timings of the prefix chain it continued from. Results
are plain frozen dataclasses, pickled by Dask; nothing in them is a future.

::

    driver                                    worker
    ------                                    ------
    Unit(id=(trial, fold), params, ...) ─────▶ run_units(data, prefix, units)
                                        ◀───── BatchResult(units=[UnitResult, ...],
                                                            prefix_chain=[PrefixFit, ...])

With warm start (a parameter resource the final estimator continues), each
unit's fitted estimator stays on its worker (:func:`~._fit.model_at`) and only
the scores travel (:func:`~._fit.without_models`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from daskcloud.search._continue import Resume

__all__ = ["BatchResult", "PrefixFit", "Unit", "UnitId", "UnitResult"]

#: (trial id, fold): unique within a search run
UnitId = tuple[int, int]
Scores = float | Mapping[str, float] | None


@dataclass(frozen=True)
class Unit:
    """One fit: a candidate's params (resource parameter merged in) on one fold.

    ``n_samples`` subsamples the fold's training rows (the ``"n_samples"``
    resource); ``resume`` continues the estimator held from a lower rung.
    """

    id: UnitId
    fold: int
    params: Mapping[str, Any]
    n_samples: int | None = None
    resume: Resume | None = None


@dataclass(frozen=True)
class PrefixFit:
    """Timing of one shared prefix fit (journaled once as a ``prefix`` task)."""

    key: str
    start: float
    end: float
    worker: str | None
    cpu_s: float


@dataclass(frozen=True)
class UnitResult:
    """The outcome of one :class:`Unit`: scores, or the traceback of its failure."""

    id: UnitId
    status: Literal["ok", "error"]
    test_scores: Scores = None
    train_scores: Scores = None
    error: str | None = None
    fit_time: float = 0.0
    score_time: float = 0.0
    fit_cpu_s: float = 0.0
    start: float | None = None
    end: float | None = None
    worker: str | None = None
    n_test_samples: int | None = None
    continued: bool = False  # warm-started from a lower rung's fit

    @classmethod
    def failed(cls, uid: UnitId, error: str) -> UnitResult:
        """A unit whose task failed as a whole (the driver fills these in)."""
        return cls(id=uid, status="error", error=error)


@dataclass(frozen=True)
class BatchResult:
    """What one task returns: its units' results and the prefix chain it ran on."""

    units: Sequence[UnitResult]
    start: float | None = None
    end: float | None = None
    worker: str | None = None
    prefix_chain: Sequence[PrefixFit] = ()
    #: fitted estimators (kept on the worker; the driver receives None)
    models: Sequence[Any] | None = field(default=None, repr=False)
