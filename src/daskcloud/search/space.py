"""One search-space definition for every strategy: grid, random and Optuna.

A space maps a parameter name (``"mlp__alpha"``) to either

* a **list** of values — the grid's values; random and Optuna strategies pick
  among them uniformly (categorical), or
* a **distribution**, written as a string in a spec file or built in Python:

  ==========================  =====================================================
  ``uniform(low, high)``      float, uniform on [low, high]  (NOT scipy's loc/scale)
  ``loguniform(low, high)``   float, log-uniform on [low, high], 0 < low < high
  ``randint(low, high)``      integer, uniform on low..high, **both ends included**
  ``choice([a, b, ...])``     one of the listed values — the same as the list itself
  ==========================  =====================================================

Strings are parsed by a small parser (``ast.literal_eval`` on the arguments,
never ``eval``), so a spec file cannot run code. A distribution object has
``rvs`` (scikit-learn's ``ParameterSampler`` samples it), a stable ``repr``
(journal keys hash it) and converts to an Optuna distribution with
:func:`to_optuna_distributions`.

>>> space = resolve_space({"alpha": "loguniform(1e-5, 1e-1)", "fit_intercept": [True, False]})
>>> space["alpha"]
loguniform(1e-05, 0.1)
>>> space["fit_intercept"]
[True, False]
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daskcloud.exceptions import ConfigError

__all__ = [
    "ACCEPTED_FORMS",
    "Distribution",
    "from_optuna_params",
    "grid_size",
    "has_distributions",
    "parse_distribution",
    "resolve_space",
    "to_optuna_distributions",
]

#: One line listing what a space value may be, used in every error message.
ACCEPTED_FORMS = (
    "a list of values, or one of uniform(low, high), loguniform(low, high), "
    "randint(low, high), choice([a, b, ...])"
)

_CALL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$", re.DOTALL)
_KINDS = ("uniform", "loguniform", "randint")


@dataclass(frozen=True)
class Distribution:
    """A continuous or integer distribution over [low, high] (both ends included).

    Attributes:
        kind: ``"uniform"``, ``"loguniform"`` or ``"randint"``.
        low, high: the bounds; ``randint`` includes ``high``.

    ``rvs(size=None, random_state=None)`` draws from the equivalent
    ``scipy.stats`` frozen distribution (:meth:`to_scipy`), which is what
    scikit-learn's ``ParameterSampler`` calls.
    """

    kind: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(f"unknown distribution {self.kind!r}; use {ACCEPTED_FORMS}")
        if not self.low < self.high:
            raise ConfigError(f"{self!r}: low must be below high")
        if self.kind == "loguniform" and self.low <= 0:
            raise ConfigError(f"{self!r}: loguniform needs 0 < low")
        if self.kind == "randint" and not (_is_int(self.low) and _is_int(self.high)):
            raise ConfigError(f"{self!r}: randint needs integer bounds")

    def __repr__(self) -> str:
        return f"{self.kind}({self.low!r}, {self.high!r})"

    def to_scipy(self) -> Any:
        """The ``scipy.stats`` frozen distribution with the same support."""
        from scipy import stats

        if self.kind == "uniform":
            return stats.uniform(loc=self.low, scale=self.high - self.low)
        if self.kind == "loguniform":
            return stats.loguniform(self.low, self.high)
        return stats.randint(int(self.low), int(self.high) + 1)  # scipy's high is exclusive

    def rvs(self, size: Any = None, random_state: Any = None) -> Any:
        """Draw like a scipy frozen distribution; integers come back as Python/NumPy ints."""
        return self.to_scipy().rvs(size=size, random_state=random_state)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def parse_distribution(text: str, *, key: str = "value") -> Distribution | list[Any]:
    """Parse ``"loguniform(1e-5, 1e-1)"`` and friends; ``choice([...])`` returns the list.

    Raises:
        ConfigError: naming ``key``, the text and the accepted forms.
    """

    def bad(why: str) -> ConfigError:
        return ConfigError(f"space.{key}: {why} in {text!r}; accepted: {ACCEPTED_FORMS}")

    match = _CALL.match(text)
    if match is None:
        raise bad("not a distribution")
    name, arg_text = match.group(1), match.group(2)
    try:
        args = ast.literal_eval(f"({arg_text},)") if arg_text.strip() else ()
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise bad("arguments are not plain numbers or a list") from None
    if name == "choice":
        if len(args) != 1 or not isinstance(args[0], list | tuple) or not args[0]:
            raise bad("choice takes one non-empty list")
        return list(args[0])
    if name not in _KINDS:
        raise bad(f"unknown distribution {name!r}")
    if len(args) != 2 or not all(_is_number(a) for a in args):
        raise bad(f"{name} takes two numbers (low, high)")
    try:
        return Distribution(name, *args)
    except ConfigError as exc:
        raise bad(str(exc).split(": ", 1)[-1]) from None


def _resolve_value(key: str, value: Any) -> Any:
    if isinstance(value, Distribution) or hasattr(value, "rvs"):
        return value  # our distributions, or any scipy-like object with rvs
    if isinstance(value, str):
        return parse_distribution(value, key=key)
    if isinstance(value, list | tuple | range) or getattr(value, "ndim", None) == 1:
        if not len(value):  # lists, tuples, ranges, 1-D arrays (np.logspace) as scikit-learn takes
            raise ConfigError(f"space.{key}: the list of values is empty; give at least one value")
        return list(value)
    raise ConfigError(
        f"space.{key}: got {value!r}; expected {ACCEPTED_FORMS} "
        f"(write [{value!r}] for a fixed value)"
    )


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    # TOML dotted keys (mlp.alpha = ...) arrive as nested tables; scikit-learn wants mlp__alpha.
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"space: parameter names must be non-empty strings, got {key!r}")
        name = f"{prefix}__{key}" if prefix else key
        if isinstance(value, Mapping):
            out.update(_flatten(value, name))
        else:
            out[name] = value
    return out


def resolve_space(
    space: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> dict[str, Any] | list[dict[str, Any]]:
    """Normalise a space once: parse distribution strings, turn tuples into lists.

    A list of mappings is a union of sub-spaces, as scikit-learn's ``param_grid`` allows.

    Raises:
        ConfigError: for an empty space or a value of none of the accepted forms.
    """
    if isinstance(space, Mapping):
        flat = _flatten(space)
        if not flat:
            raise ConfigError("space is empty; name at least one parameter to search")
        return {key: _resolve_value(key, value) for key, value in flat.items()}
    if isinstance(space, Sequence) and not isinstance(space, str) and space:
        return [resolve_space(sub) for sub in space]  # type: ignore[misc]
    raise ConfigError(f"space must be a table of parameters, got {type(space).__name__}")


def _subspaces(space: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [space] if isinstance(space, Mapping) else list(space)


def has_distributions(space: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of the parameters given as distributions (a grid cannot enumerate those)."""
    return [k for sub in _subspaces(space) for k, v in sub.items() if not isinstance(v, list)]


def grid_size(space: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> int:
    """Number of grid candidates; ConfigError naming a distribution if there is one."""
    names = has_distributions(space)
    if names:
        raise ConfigError(
            f"space.{names[0]} is a distribution, which a grid cannot enumerate; "
            "give a list of values or use strategy 'random'"
        )
    return sum(math.prod(len(v) for v in sub.values()) for sub in _subspaces(space))


def _optuna_choice(value: Any) -> Any:
    # Optuna stores only None/bool/int/float/str; other values (tuples of layer sizes) go as JSON.
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value)


def to_optuna_distributions(space: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a resolved space to ``optuna.distributions`` objects.

    Lists become ``CategoricalDistribution`` (values other than None/bool/int/float/str are
    encoded as JSON strings; :func:`from_optuna_params` decodes them), ``uniform`` and
    ``loguniform`` become ``FloatDistribution`` (``log=True`` for loguniform) and
    ``randint`` an ``IntDistribution`` with both ends included.

    Raises:
        ConfigError: for a union of sub-spaces or a distribution Optuna has no equivalent for.
    """
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if not isinstance(space, Mapping):
        raise ConfigError("Optuna strategies need a single table of parameters, not a list of them")
    out: dict[str, Any] = {}
    for key, value in resolve_space(space).items():  # type: ignore[union-attr]
        if isinstance(value, list):
            out[key] = CategoricalDistribution([_optuna_choice(v) for v in value])
        elif isinstance(value, Distribution) and value.kind == "randint":
            out[key] = IntDistribution(int(value.low), int(value.high))
        elif isinstance(value, Distribution):
            out[key] = FloatDistribution(
                float(value.low), float(value.high), log=value.kind == "loguniform"
            )
        else:
            raise ConfigError(
                f"space.{key}: {value!r} has no Optuna equivalent; use {ACCEPTED_FORMS}"
            )
    return out


def from_optuna_params(space: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Turn an Optuna trial's params back into estimator parameters (decoding JSON choices)."""
    resolved = resolve_space(space)
    out = dict(params)
    for key, value in params.items():
        choices = resolved.get(key) if isinstance(resolved, Mapping) else None
        if isinstance(choices, list):
            for choice in choices:
                encoded = _optuna_choice(choice)
                if type(encoded) is type(value) and encoded == value:
                    out[key] = choice
                    break
    return out
