"""Split plans: which rows each backtest fold fits on and which it predicts, and in which role.

A plan is data (its parameters go into the manifest) and a function of the frame it is laid on
(`folds(frame)`). Two kinds cover every service:

- `RollingOrigin`: origins (cutoffs) on the sorted distinct values of a time column, as in
  statsforecast's `cross_validation(h, n_windows, step_size)`. A fold fits on the rows whose time
  is at or before its origin and predicts the rows in the next `horizon` time values. The last
  `n_test` origins are test folds; the `n_validation` origins before them are laid so that every
  validation row lies at or before the first test origin, so every test row is later than every
  validation row and no test row is fitted by a validation fold. Explicit origins per role are
  accepted too (`cutoffs=`), e.g. one per matchday inside chosen tournaments.
- `GroupedSplit`: whole groups held out (tournaments, days, regimes); each validation group is
  held out in turn and fitted on every group that is neither it nor a test group; each test
  group is fitted on every non-test group. With `time=`, a fold also fits only on rows earlier
  than its held-out group, and test groups must start after every validation group ends.

A fold never predicts a row it fits on; the tests in tests/common check that for both kinds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

VALIDATION, TEST = "validation", "test"
ROLES = (VALIDATION, TEST)


@dataclass(frozen=True)
class Fold:
    """One backtest fold: boolean masks over the frame's rows, a role, and where it starts."""

    index: int
    role: str
    origin: Any                      # the cutoff time value (rolling) or the held-out group (grouped)
    fit: np.ndarray = field(repr=False)
    predict: np.ndarray = field(repr=False)
    horizon: np.ndarray | None = field(default=None, repr=False)   # steps after the origin, per predicted row


def _label(value: Any) -> Any:
    """A JSON-safe, stable rendering of a time or group value."""
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _span(frame: pd.DataFrame, mask: np.ndarray, time: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": int(mask.sum())}
    if time is not None and mask.any():
        values = frame.loc[mask, time]
        out["first"], out["last"] = _label(values.min()), _label(values.max())
    return out


def describe_folds(frame: pd.DataFrame, folds: list[Fold], time: str | None) -> list[dict[str, Any]]:
    return [{"fold": f.index, "role": f.role, "origin": _label(f.origin),
             "fit": _span(frame, f.fit, time), "predict": _span(frame, f.predict, time)} for f in folds]


@dataclass(frozen=True)
class RollingOrigin:
    """Rolling origins on the distinct values of `time` (see the module docstring).

    `origin`: for stacked frames (one row per origin x horizon, as direct multi-horizon models
    need), the column holding the time each row's features were computed at; a fold then
    predicts only the rows computed at its own origin. `max_fit`: keep only the last `max_fit`
    time values for fitting (a sliding instead of an expanding window).
    """

    time: str
    horizon: int
    n_validation: int = 1
    n_test: int = 1
    step: int | None = None
    origin: str | None = None
    min_fit: int = 1
    max_fit: int | None = None
    cutoffs: dict[str, tuple] | None = None

    kind = "rolling_origin"

    def __post_init__(self):
        if self.horizon < 1 or self.min_fit < 1 or (self.step is not None and self.step < 1):
            raise ValueError("horizon, step and min_fit must be >= 1")
        # n_validation=0 is for calibration plans (Conformal), which choose nothing; choose() still
        # refuses a table without validation rows.
        if self.cutoffs is None and (self.n_validation < 0 or self.n_test < 1):
            raise ValueError("a plan needs at least one test window and no negative count of validation windows")
        if self.cutoffs is not None and set(self.cutoffs) != set(ROLES):
            raise ValueError(f"cutoffs must name both roles {ROLES}")

    @classmethod
    def at(cls, time: str, horizon: int, *, validation: Sequence, test: Sequence, **kwargs) -> "RollingOrigin":
        """Explicit origins per role (time values present in the frame)."""
        return cls(time=time, horizon=horizon, n_validation=len(validation), n_test=len(test),
                   cutoffs={VALIDATION: tuple(validation), TEST: tuple(test)}, **kwargs)

    def _positions(self, grid: pd.Index) -> list[tuple[str, int]]:
        if self.cutoffs is not None:
            out = []
            for role in ROLES:
                for value in self.cutoffs[role]:
                    where = grid.get_indexer([value])[0]
                    if where < 0:
                        raise ValueError(f"origin {value!r} is not a {self.time} value of the frame")
                    out.append((role, int(where)))
            return out
        step = self.step or self.horizon
        last = len(grid) - 1 - self.horizon          # the latest origin whose window fits in the data
        test = [last - (self.n_test - 1 - j) * step for j in range(self.n_test)]
        first_test = test[0]
        validation = [first_test - self.horizon - (self.n_validation - 1 - i) * step for i in range(self.n_validation)]
        return [(VALIDATION, p) for p in validation] + [(TEST, p) for p in test]

    def folds(self, frame: pd.DataFrame) -> list[Fold]:
        times = frame[self.time]
        grid = pd.Index(np.sort(times.unique()))
        positions = self._positions(grid)
        rank = grid.get_indexer(times)
        folds = []
        for index, (role, p) in enumerate(sorted(positions, key=lambda rp: (rp[1], ROLES.index(rp[0])))):
            if p < self.min_fit - 1 or p + 1 >= len(grid):
                raise ValueError(f"{role} origin at position {p} of {len(grid)} {self.time} values leaves no room "
                                 f"for {self.min_fit} fitting value(s) and a forecast window")
            fit = rank <= p
            if self.max_fit is not None:
                fit &= rank > p - self.max_fit
            predict = (rank > p) & (rank <= p + self.horizon)
            if self.origin is not None:
                predict &= (frame[self.origin] == grid[p]).to_numpy()
            if not predict.any():
                raise ValueError(f"{role} origin {_label(grid[p])!r} has no rows to predict")
            folds.append(Fold(index, role, grid[p], fit, predict, (rank - p)[predict].astype(int)))
        check_roles(folds, rank)
        return folds

    def describe(self, frame: pd.DataFrame) -> dict[str, Any]:
        folds = self.folds(frame)
        return {"kind": self.kind, "time": self.time, "horizon": self.horizon, "step": self.step or self.horizon,
                "n_validation": sum(f.role == VALIDATION for f in folds), "n_test": sum(f.role == TEST for f in folds),
                "origin_column": self.origin, "min_fit": self.min_fit, "max_fit": self.max_fit,
                "explicit_cutoffs": self.cutoffs is not None, "folds": describe_folds(frame, folds, self.time)}


@dataclass(frozen=True)
class GroupedSplit:
    """Whole groups held out in turn (see the module docstring)."""

    group: str
    validation: tuple
    test: tuple
    time: str | None = None

    kind = "grouped"

    def __post_init__(self):
        object.__setattr__(self, "validation", tuple(self.validation))
        object.__setattr__(self, "test", tuple(self.test))
        if not self.validation or not self.test:
            raise ValueError("a plan needs at least one validation and one test group")
        if set(self.validation) & set(self.test):
            raise ValueError(f"groups both validation and test: {sorted(set(self.validation) & set(self.test))}")

    def folds(self, frame: pd.DataFrame) -> list[Fold]:
        groups = frame[self.group]
        missing = [g for g in (*self.validation, *self.test) if not (groups == g).any()]
        if missing:
            raise ValueError(f"groups not in the frame's {self.group!r} column: {missing}")
        in_test = groups.isin(self.test).to_numpy()
        if self.time is not None:
            val_end = frame.loc[groups.isin(self.validation), self.time].max()
            test_start = frame.loc[in_test, self.time].min()
            if not test_start > val_end:
                raise ValueError(f"test groups start at {_label(test_start)}, not after the validation groups end "
                                 f"({_label(val_end)})")
        folds = []
        for index, (role, g) in enumerate([(VALIDATION, g) for g in self.validation] + [(TEST, g) for g in self.test]):
            predict = (groups == g).to_numpy()
            fit = ~in_test & ~predict
            if self.time is not None:
                fit &= (frame[self.time] < frame.loc[predict, self.time].min()).to_numpy()
            if not fit.any():
                raise ValueError(f"{role} group {g!r} leaves no rows to fit on")
            folds.append(Fold(index, role, g, fit, predict))
        check_roles(folds, None if self.time is None else frame[self.time].to_numpy())
        return folds

    def describe(self, frame: pd.DataFrame) -> dict[str, Any]:
        return {"kind": self.kind, "group": self.group, "time": self.time,
                "validation": [_label(g) for g in self.validation], "test": [_label(g) for g in self.test],
                "folds": describe_folds(frame, self.folds(frame), self.time)}


def check_roles(folds: list[Fold], order: np.ndarray | None) -> None:
    """The guarantees every plan gives, checked on the masks themselves (not trusted from the layout)."""
    test_rows = np.zeros_like(folds[0].predict)
    for f in folds:
        if f.role not in ROLES:
            raise ValueError(f"unknown role {f.role!r}")
        if (f.fit & f.predict).any():
            raise ValueError(f"fold {f.index} predicts rows it fits on")
        if f.role == TEST:
            test_rows |= f.predict
    for f in folds:
        if f.role == VALIDATION and ((f.fit | f.predict) & test_rows).any():
            raise ValueError(f"validation fold {f.index} touches test rows")
        if order is not None and f.fit.any() and f.predict.any() and not order[f.fit].max() < order[f.predict].min():
            raise ValueError(f"fold {f.index} fits on rows later than rows it predicts")
    if order is not None:
        val = np.zeros_like(test_rows)
        for f in folds:
            if f.role == VALIDATION:
                val |= f.predict
        if val.any() and test_rows.any() and not order[val].max() < order[test_rows].min():
            raise ValueError("every test row must be later than every validation row")
