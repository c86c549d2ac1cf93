"""Task-population models (Sec. III-D, App. E): pass@k and majority voting over a distribution
of per-task success rates, their fits to curves and per-problem counts, and loaders.

* Populations: ``BetaPopulation(alpha, beta, solvable)`` (Eq. 58), ``LogitNormalPopulation``,
  ``PointMass``, ``MixturePopulation``, ``DiscretePopulation``; ``log_moment`` (the mixed
  moment E[psi^c (1 - psi)^f] that defines each), ``count_loglik``, ``posterior_passk``.
* pass@k: ``passk`` (Eq. 56-59), ``log_failure``, ``passk_asymptote`` (App. E-A),
  ``passk_unbiased`` / ``passk_from_counts`` (1 - C(n-c, k)/C(n, k) in log space).
* Majority vote: ``mv_accuracy`` (Eq. 60-61, exact), ``mv_vote_table``, ``mv_saturation``,
  ``max_error_weight_from_saturation`` (Eq. 62), ``geometric_error_weights`` /
  ``geometric_lambda`` (Eq. 63).
* Fits: ``fit_passk_curve`` (App. E-B; the Beta + zero mass or a two-Beta mixture),
  ``fit_passk_counts`` (per-problem counts: population families with exact posteriors on
  parameter grids, averaged by held-out likelihood, BayesBag intervals; a Beta mixture, a
  smooth nonparametric population, the beta-binomial MLE, or the power-law baseline),
  ``fit_majority_curve`` (App. E-C); ``passk_bounds`` (the range of pass@k that counts allow
  whatever the population: linear programs); ``backtest_passk`` (score the routes on the
  user's counts: forecast from a thinned fraction, compare with all samples);
  ``fit_passk_shared`` (several data sets on the same problems: shared problem difficulty,
  each problem's posterior pass@k given every data set's counts of it).  Fits carry a
  ``RESULTS`` code from the optimality conditions.
* Data: ``load_curve``, ``load_curves``, ``load_counts``, ``load_count_groups``,
  ``make_curve``, ``make_counts``, ``thin_counts`` (hypergeometric thinning of counts).
* Push-forward (App. E-D, Eq. 64-70): ``PushForward``, ``pushforward_passk``,
  ``pushforward_cdf``, ``fit_iota_hat`` (search directionality iota_hat from pass@k curves).
* Plots: ``plot_population_fits`` (Fig. 10 style).
"""

from ._backtest import Backtest as Backtest
from ._backtest import backtest_passk as backtest_passk
from ._bounds import passk_bounds as passk_bounds
from ._count_models import FAMILIES as FAMILIES
from ._counts import AUTO_FAMILIES as AUTO_FAMILIES
from ._counts import CountsFit as CountsFit
from ._counts import fit_passk_counts as fit_passk_counts
from ._data import Counts as Counts
from ._data import Curve as Curve
from ._data import load_count_groups as load_count_groups
from ._data import load_counts as load_counts
from ._data import load_curve as load_curve
from ._data import load_curves as load_curves
from ._data import make_counts as make_counts
from ._data import make_curve as make_curve
from ._data import thin_counts as thin_counts
from ._families import LogitNormalPopulation as LogitNormalPopulation
from ._families import MixturePopulation as MixturePopulation
from ._families import PointMass as PointMass
from ._families import count_loglik as count_loglik
from ._families import log_moment as log_moment
from ._families import posterior_passk as posterior_passk
from ._fit import PopulationFit as PopulationFit
from ._fit import fit_passk_curve as fit_passk_curve
from ._fit_counts import betabinom_zero_loglik as betabinom_zero_loglik
from ._fit_majority import MajorityFit as MajorityFit
from ._fit_majority import fit_majority_curve as fit_majority_curve
from ._fit_majority import plateau as plateau
from ._grid import grid_population as grid_population
from ._majority_population import geometric_error_weights as geometric_error_weights
from ._majority_population import geometric_lambda as geometric_lambda
from ._majority_population import (
    max_error_weight_from_saturation as max_error_weight_from_saturation,
)
from ._majority_population import mv_accuracy as mv_accuracy
from ._majority_population import mv_saturation as mv_saturation
from ._majority_population import mv_vote_table as mv_vote_table
from ._passk import BetaPopulation as BetaPopulation
from ._passk import DiscretePopulation as DiscretePopulation
from ._passk import log_failure as log_failure
from ._passk import log_gamma_ratio as log_gamma_ratio
from ._passk import passk as passk
from ._passk import passk_asymptote as passk_asymptote
from ._passk import passk_from_counts as passk_from_counts
from ._passk import passk_unbiased as passk_unbiased
from ._passk import population_cdf as population_cdf
from ._passk import population_pdf as population_pdf
from ._plot import plot_population_fits as plot_population_fits
from ._powerlaw import PowerLawCurve as PowerLawCurve
from ._pushforward import IotaFit as IotaFit
from ._pushforward import PushForward as PushForward
from ._pushforward import fit_iota_hat as fit_iota_hat
from ._pushforward import pushforward_cdf as pushforward_cdf
from ._pushforward import pushforward_passk as pushforward_passk
from ._result import RESULTS as RESULTS
from ._shared import SharedFit as SharedFit
from ._shared import align_count_groups as align_count_groups
from ._shared import fit_passk_shared as fit_passk_shared

__all__ = [
    "BetaPopulation",
    "LogitNormalPopulation",
    "PointMass",
    "MixturePopulation",
    "log_moment",
    "count_loglik",
    "posterior_passk",
    "CountsFit",
    "FAMILIES",
    "AUTO_FAMILIES",
    "PowerLawCurve",
    "RESULTS",
    "grid_population",
    "DiscretePopulation",
    "Curve",
    "Counts",
    "PopulationFit",
    "MajorityFit",
    "passk",
    "log_failure",
    "passk_asymptote",
    "passk_unbiased",
    "passk_from_counts",
    "log_gamma_ratio",
    "population_pdf",
    "population_cdf",
    "mv_accuracy",
    "mv_vote_table",
    "mv_saturation",
    "max_error_weight_from_saturation",
    "geometric_error_weights",
    "geometric_lambda",
    "fit_passk_curve",
    "fit_passk_counts",
    "passk_bounds",
    "backtest_passk",
    "Backtest",
    "fit_passk_shared",
    "SharedFit",
    "align_count_groups",
    "fit_majority_curve",
    "betabinom_zero_loglik",
    "plateau",
    "load_curve",
    "load_curves",
    "load_counts",
    "load_count_groups",
    "make_curve",
    "make_counts",
    "thin_counts",
    "plot_population_fits",
    "PushForward",
    "IotaFit",
    "pushforward_passk",
    "pushforward_cdf",
    "fit_iota_hat",
]
