"""Forecast across scale: one DS3 model for a whole grid of checkpoints (N, D).

Per-problem counts (correct out of samples) of models of several sizes N at several training
checkpoints D are fitted by maximum likelihood with the DS3 chain (Eq. 1 loss law -> Eq. 2
sigmoid transfer -> q = iota_hat p -> CoT success Eq. 20 -> pass@k Eq. 56-59), every problem
with its own difficulty L0 and skill count m; the fit then forecasts pass@k for any (N, D, k),
including models larger or longer-trained than any in the data.

* ``fit_checkpoints(table, ...)`` -> :class:`ForecastFit` with ``problems``,
  ``problem_passk(N, D, k)``, ``passk(N, D, k)``, ``problem_passk_interval``,
  ``passk_interval`` (bootstrap over problems, vmapped) and ``parameters()`` (with which
  shared parameters the data pins).
* ``fit_baseline(table, ...)``: a per-problem logistic model in log N, log D, same API.
* ``forecast_holdout(table, train=..., test=...)``: fit on some checkpoints, score pass@k on
  the others against the unbiased estimator (DS3, baseline and "reuse the nearest trained
  checkpoint").
* ``extrapolation_errors(table, along="N")``: forward-chained forecast errors (fit the sizes
  up to one, forecast the next); ``fit.passk_interval(..., errors=...)`` widens the bootstrap
  band with them into a band for the measurement at a new checkpoint.
* ``load_table``, ``CheckpointTable``, ``empirical_problem_passk``: data.
"""

from ._api import PINNED_SE as PINNED_SE
from ._api import fit_baseline as fit_baseline
from ._api import fit_checkpoints as fit_checkpoints
from ._calibrate import ExtrapolationErrors as ExtrapolationErrors
from ._calibrate import extrapolation_errors as extrapolation_errors
from ._fit import ForecastFit as ForecastFit
from ._holdout import DEFAULT_K as DEFAULT_K
from ._holdout import HoldoutResult as HoldoutResult
from ._holdout import empirical_problem_passk as empirical_problem_passk
from ._holdout import forecast_holdout as forecast_holdout
from ._models import DS3Model as DS3Model
from ._models import LogisticModel as LogisticModel
from ._table import REQUIRED_COLUMNS as REQUIRED_COLUMNS
from ._table import CheckpointTable as CheckpointTable
from ._table import load_table as load_table

__all__ = [
    "fit_checkpoints",
    "fit_baseline",
    "forecast_holdout",
    "extrapolation_errors",
    "ExtrapolationErrors",
    "ForecastFit",
    "HoldoutResult",
    "DS3Model",
    "LogisticModel",
    "CheckpointTable",
    "load_table",
    "empirical_problem_passk",
    "REQUIRED_COLUMNS",
    "DEFAULT_K",
    "PINNED_SE",
]
