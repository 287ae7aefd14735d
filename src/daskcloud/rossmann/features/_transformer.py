"""RossmannFeatures: the joined train/test frame in, a float32 design matrix out."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from daskcloud.exceptions import ConfigError, DataError
from daskcloud.rossmann.features._calendar import date_parts, event_distances, event_flags
from daskcloud.rossmann.features._rows import open_mask, training_mask
from daskcloud.rossmann.features._store import (
    StoreAggregates,
    competition_features,
    promo2_features,
)

__all__ = ["RossmannFeatures"]

_BASE_COLUMNS = ("Store", "DayOfWeek", "Date", "Promo", "StateHoliday", "SchoolHoliday")
_COMPETITION_COLUMNS = (
    "CompetitionDistance",
    "CompetitionOpenSinceMonth",
    "CompetitionOpenSinceYear",
)
_PROMO2_COLUMNS = ("Promo2", "Promo2SinceWeek", "Promo2SinceYear", "PromoInterval")
_CATEGORIES: dict[str, tuple[object, ...]] = {
    "DayOfWeek": (1, 2, 3, 4, 5, 6, 7),
    "Month": tuple(range(1, 13)),
    "StateHoliday": ("0", "a", "b", "c"),
    "StoreType": ("a", "b", "c", "d"),
    "Assortment": ("a", "b", "c"),
}
_PROMO_INTERVALS = ("Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec")
_STORE_ENCODINGS = ("onehot", "none")


def _one_hot(
    name: str, values: np.ndarray, categories: tuple[object, ...]
) -> dict[str, np.ndarray]:
    return {f"{name}_{c}": (values == c).astype(np.float64) for c in categories}


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


class RossmannFeatures(TransformerMixin, BaseEstimator):
    """Turn the joined Rossmann frame (train.csv or test.csv joined with store.csv) into features.

    The output is a float32 matrix whose **first column is ``Open``** (1 open,
    0 closed, missing counts as open), so the model downstream can predict 0
    for closed days; the other columns are, depending on the options:

    * date parts — year, ISO week, day of month/year, yearly and monthly sine/cosine,
      elapsed days, month start/end, signed days to Christmas; one-hot day of week and month;
    * ``Promo``, ``SchoolHoliday``, one-hot ``StateHoliday``, ``StoreType``, ``Assortment``;
    * ``events`` — days after the last and before the next promo, school holiday and
      state holiday of the same store, capped at ``event_window``, and how many such
      days fall in the ``event_window`` days before and after;
    * ``competition`` — log distance, open flag, months open (capped at
      ``max_competition_months``; opening years before 1990 clipped);
    * ``promo2`` — taking part, started, Promo2 month and the month after ("Sept"
      included), weeks since start (capped at ``max_promo2_weeks``), one-hot PromoInterval;
    * ``store_aggregates`` — per-store mean log sales, weekday and promo effects,
      log sales per customer and a linear trend, all learned in ``fit`` from open rows
      with Sales > 0;
    * ``store_encoding="onehot"`` — one column per store seen in ``fit`` (``"none"``
      keeps the matrix narrow for the full 1,115-store data).

    ``fit`` learns only from the rows passed to it, so in cross-validation nothing
    leaks from validation folds. Event distances are computed from the rows passed
    to ``transform`` plus the last ``event_window`` days seen in ``fit``, per store and
    by date (never by row position). Pass all rows, closed ones included: state
    holidays mostly fall on closed days. ``Sales`` and ``Customers`` are never read by
    ``transform``.

    Example:
        >>> from daskcloud.rossmann import load_rossmann, split_xy  # doctest: +SKIP
        >>> X, y = split_xy(load_rossmann("data/small").train)       # doctest: +SKIP
        >>> Xt = RossmannFeatures(event_window=14).fit_transform(X, y)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        date_parts: bool = True,
        events: bool = True,
        event_window: int = 7,
        competition: bool = True,
        max_competition_months: int = 24,
        promo2: bool = True,
        max_promo2_weeks: int = 25,
        store_aggregates: bool = True,
        store_encoding: str = "onehot",
    ) -> None:
        self.date_parts = date_parts
        self.events = events
        self.event_window = event_window
        self.competition = competition
        self.max_competition_months = max_competition_months
        self.promo2 = promo2
        self.max_promo2_weeks = max_promo2_weeks
        self.store_aggregates = store_aggregates
        self.store_encoding = store_encoding

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        # the joined frame: category codes and strings, missing competition and Promo2 fields
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        tags.target_tags.required = bool(self.store_aggregates)  # learned from y
        return tags

    # --- validation -------------------------------------------------------------------------
    def _check_params(self) -> None:
        _check_int("event_window", self.event_window, 1)
        _check_int("max_competition_months", self.max_competition_months, 1)
        _check_int("max_promo2_weeks", self.max_promo2_weeks, 1)
        if self.store_encoding not in _STORE_ENCODINGS:
            raise ConfigError(
                f"store_encoding must be one of {_STORE_ENCODINGS}, got {self.store_encoding!r}"
            )

    def _required(self) -> list[str]:
        cols = [*_BASE_COLUMNS, "StoreType", "Assortment"]
        if self.competition:
            cols += _COMPETITION_COLUMNS
        if self.promo2:
            cols += _PROMO2_COLUMNS
        return cols

    def _check_frame(self, X: object) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise DataError(
                f"RossmannFeatures needs a pandas DataFrame (the joined train/test frame), "
                f"got {type(X).__name__}"
            )
        missing = [c for c in self._required() if c not in X.columns]
        if missing:
            raise DataError(
                f"RossmannFeatures: columns {missing} are missing; join store.csv onto "
                "train.csv (daskcloud.rossmann.load_rossmann does)"
            )
        if not pd.api.types.is_datetime64_any_dtype(X["Date"]):
            X = X.assign(Date=pd.to_datetime(X["Date"]))
        return X

    # --- fit / transform --------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: object = None) -> RossmannFeatures:
        """Learn the store list, store aggregates and the event calendar's tail from ``X``."""
        self._check_params()
        X = self._check_frame(X)
        if self.store_aggregates and y is None:
            raise ConfigError(
                "store_aggregates=True needs the target in fit(X, y); pass y=Sales "
                "or set store_aggregates=False"
            )
        self.stores_ = np.sort(pd.unique(X["Store"].to_numpy()))
        self.aggregates_ = None
        if self.store_aggregates:
            mask = training_mask(X, y)
            log_sales = np.log(np.asarray(y, dtype=np.float64).ravel()[mask])
            self.aggregates_ = StoreAggregates().learn(X.loc[mask], log_sales)
        self.calendar_ = None
        if self.events:
            # Keep the last event_window days: events just before a later transform window.
            tail = X["Date"] > X["Date"].max() - pd.Timedelta(days=int(self.event_window))
            part = X.loc[tail]
            # Plain arrays (days as int64 since 1970), not a frame, so skops can save it.
            self.calendar_ = {
                "Store": part["Store"].to_numpy(),
                "Day": part["Date"].to_numpy(dtype="datetime64[D]").astype(np.int64),
            } | {name: flag.to_numpy() for name, flag in event_flags(part).items()}
        self.n_features_in_ = X.shape[1]
        self.feature_names_out_ = np.asarray(list(self._columns(X.iloc[:1])), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The float32 feature matrix; column 0 is ``Open``."""
        check_is_fitted(self, "stores_")
        X = self._check_frame(X)
        columns = self._columns(X)
        out = np.empty((len(X), len(columns)), dtype=np.float32)
        for j, values in enumerate(columns.values()):
            out[:, j] = values
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Names of the output columns, ``Open`` first."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    # --- the columns ------------------------------------------------------------------------
    def _columns(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        cols: dict[str, np.ndarray] = {"Open": open_mask(X).astype(np.float64)}
        dates = X["Date"]
        cols["Promo"] = X["Promo"].fillna(0).to_numpy(dtype=np.float64)
        cols["SchoolHoliday"] = pd.to_numeric(X["SchoolHoliday"]).fillna(0).to_numpy(np.float64)
        cols |= _one_hot("DayOfWeek", X["DayOfWeek"].to_numpy(), _CATEGORIES["DayOfWeek"])
        state = X["StateHoliday"].astype(str).to_numpy()
        cols |= _one_hot("StateHoliday", state, _CATEGORIES["StateHoliday"])
        for name in ("StoreType", "Assortment"):
            cols |= _one_hot(name, X[name].astype(str).to_numpy(), _CATEGORIES[name])
        if self.date_parts:
            cols |= date_parts(dates)
            cols |= _one_hot("Month", dates.dt.month.to_numpy(), _CATEGORIES["Month"])
        if self.events:
            cols |= self._event_columns(X)
        if self.competition:
            cols |= competition_features(X, int(self.max_competition_months))
        if self.promo2:
            cols |= promo2_features(X, int(self.max_promo2_weeks))
            interval = X["PromoInterval"].astype(object).to_numpy()
            cols |= _one_hot("PromoInterval", interval, _PROMO_INTERVALS)
        if self.aggregates_ is not None:
            cols |= self.aggregates_.apply(X)
        if self.store_encoding == "onehot":
            store = X["Store"].to_numpy()
            cols |= {f"Store_{s}": (store == s).astype(np.float64) for s in self.stores_}
        return cols

    def _event_columns(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        stores = X["Store"].to_numpy()
        dates = X["Date"].to_numpy(dtype="datetime64[D]")
        flags = event_flags(X).reset_index(drop=True)
        calendar = self.calendar_
        if calendar is not None and len(calendar["Store"]):
            # Only store-days missing from X: a duplicate would count an event twice.
            seen = pd.MultiIndex.from_arrays([stores, dates])
            cal_days = calendar["Day"].astype("datetime64[D]")
            known = pd.MultiIndex.from_arrays([calendar["Store"], cal_days])
            new = ~known.isin(seen)
            stores = np.concatenate([stores, calendar["Store"][new]])
            dates = np.concatenate([dates, cal_days[new]])
            cal_flags = pd.DataFrame({name: calendar[name][new] for name in flags.columns})
            flags = pd.concat([flags, cal_flags], ignore_index=True)
        distances = event_distances(stores, dates, flags, int(self.event_window))
        return {name: values[: len(X)] for name, values in distances.items()}
