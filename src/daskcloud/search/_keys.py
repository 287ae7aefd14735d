"""Content hashes: the journal keys of fits and the tokens of pipeline prefixes (pure).

A fit's key hashes everything that determines its result -- the search
(estimator class and parameters, data fingerprint, CV split indices, scoring)
plus the candidate, the fold and the resource -- so a rerun of the same search
finds its own fits and a changed search finds none.

A candidate has one key (:func:`candidate_key`), the same for the runner, the
strategies and the journal, and the same before and after a journal round trip
(:func:`encode` is also how the journal writes non-JSON values).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import joblib
import numpy as np

__all__ = [
    "candidate_key",
    "data_fingerprint",
    "encode",
    "params_token",
    "search_key",
    "splits_fingerprint",
    "to_json",
    "token",
    "unit_key",
]


def token(value: Any) -> str:
    """A stable content hash of any picklable value (joblib.hash, md5)."""
    return joblib.hash(value)


_PLAIN = (str, int, float, bool, type(None))


def params_token(params: Mapping[str, Any]) -> str:
    """Token of a parameter dict, independent of key order."""
    items = sorted(params.items())
    if all(type(v) in _PLAIN for _, v in items):  # fast path: repr is exact for these
        return hashlib.md5(repr(items).encode(), usedforsecurity=False).hexdigest()
    return token(items)


def encode(value: Any) -> Any:
    """``json.dumps(default=encode)``: NumPy values as numbers and lists, others by repr and hash.

    The form is stable through the journal: a value encoded, stored as JSON and read
    back encodes to the same JSON text, so :func:`candidate_key` is the same before
    and after a resume.
    """
    if isinstance(value, np.generic | np.ndarray):
        with contextlib.suppress(TypeError, ValueError):
            return value.tolist()  # a scalar for a NumPy scalar
    try:
        digest = token(value)
    except Exception:  # unpicklable (a lambda): its repr is the best we have
        digest = None
    return {"__repr__": repr(value), "__token__": digest}


def to_json(value: Any) -> str:
    """Canonical JSON text of ``value`` (sorted keys; non-JSON values by :func:`encode`)."""
    return json.dumps(value, default=encode, sort_keys=True)


def candidate_key(params: Mapping[str, Any]) -> str:
    """The key of a candidate: equal for equal parameters, before and after the journal.

    Tuples equal lists and NumPy scalars equal Python numbers (as after a JSON round
    trip); estimators and other non-JSON values count by class, repr and content hash,
    so a grid of estimators resumes with nothing refitted. The runner, the strategies
    and the journal's fit keys all use it.
    """
    return hashlib.md5(to_json(dict(params)).encode(), usedforsecurity=False).hexdigest()


def data_fingerprint(X: Any, y: Any, fit_params: Mapping[str, Any] | None = None) -> str:
    """Hash of the training data (X, y and fit parameters such as sample_weight)."""
    import pandas as pd

    def one(v: Any) -> Any:
        if isinstance(v, pd.DataFrame | pd.Series):
            # hashing the values plus names/dtypes is much faster than pickling the frame
            values = pd.util.hash_pandas_object(v, index=True).to_numpy()
            names = list(v.columns) if isinstance(v, pd.DataFrame) else [v.name]
            dtypes = [str(d) for d in np.atleast_1d(v.dtypes)]
            return (type(v).__name__, names, dtypes, token(values))
        return token(v)

    return token((one(X), one(y), sorted((k, one(v)) for k, v in (fit_params or {}).items())))


def splits_fingerprint(splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[str]:
    """One hash per fold of its (train, test) indices: the CV definition."""
    return [token((np.asarray(tr), np.asarray(te))) for tr, te in splits]


def search_key(estimator: Any, data: str, scoring: Any, return_train_score: bool) -> str:
    """Hash of what all fits of a search share: estimator, data, scoring."""
    est = (type(estimator).__module__, type(estimator).__qualname__, token(estimator))
    return token(("daskcloud-search-v1", est, data, _scoring_token(scoring), return_train_score))


def unit_key(search: str, params: Mapping[str, Any], fold_token: str, resource: int | None) -> str:
    """The journal key of one fit: search, candidate (:func:`candidate_key`), fold, resource."""
    raw = f"{search}|{candidate_key(params)}|{fold_token}|{resource}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _scoring_token(scoring: Any) -> Any:
    if scoring is None or isinstance(scoring, str):
        return scoring
    if isinstance(scoring, Mapping):
        return sorted((k, _scoring_token(v)) for k, v in scoring.items())
    if isinstance(scoring, list | tuple | set):
        return sorted(map(str, scoring))
    try:
        return token(scoring)
    except Exception:  # an unpicklable callable: its qualified name is the best we have
        return f"{getattr(scoring, '__module__', '')}.{getattr(scoring, '__qualname__', scoring)}"
