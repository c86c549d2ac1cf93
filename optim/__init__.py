"""optim: total-compute-optimal allocation of model size N, training tokens D and inference
tokens Omega for DS3 problems (paper Sec. III-B, Eq. 53, App. C).

* :func:`solve` maximises task-averaged accuracy on the iso-compute surface
  6 N D + 2 N I Omega = C ("global"; Table I attention costs with a :class:`FlopModel`),
  on the Chinchilla plane D = kappa N ("chinchilla"), at a fixed token budget
  ("fixed_tokens", accuracy or loss) or with unbounded data ("inference_only").
* :mod:`optim.presets` builds the paper's problems (``paper_fig8()``).
* :mod:`optim.frontier` compares frontiers (power-law fits, compute penalty).
* :func:`optimum` is the optimum as a differentiable function of the problem (implicit
  function theorem); :func:`optimum_bands` / :func:`delta_method_bands` give its
  uncertainty over fitted loss laws (bootstrap percentiles, delta method);
  :mod:`optim.sweep` runs the Fig. 9 task-type sweep (sharded,
  resumable).

``optim`` depends on ``ds3jax``; ``ds3jax`` never imports ``optim``.
"""

from . import frontier as frontier
from . import presets as presets
from . import sweep as sweep
from ._bands import OptimumBands as OptimumBands
from ._bands import delta_method_bands as delta_method_bands
from ._bands import law_from_theta as law_from_theta
from ._bands import optimum_bands as optimum_bands
from ._bands import solve_laws as solve_laws
from ._implicit import optimum as optimum
from ._problem import FlopModel as FlopModel
from ._problem import Problem as Problem
from ._problem import accuracy as accuracy
from ._problem import inference_tokens as inference_tokens
from ._problem import log_accuracy as log_accuracy
from ._problem import make_problem as make_problem
from ._problem import task_flops as task_flops
from ._problem import total_compute as total_compute
from ._solve import Solution as Solution
from ._solve import min_budget as min_budget
from ._solve import solve as solve
from .frontier import FrontierComparison as FrontierComparison
from .frontier import PowerLaw as PowerLaw
from .frontier import allocation_fits as allocation_fits
from .frontier import compare_frontiers as compare_frontiers
from .frontier import compute_to_match as compute_to_match
from .frontier import power_law_fit as power_law_fit

__all__ = [
    "presets",
    "frontier",
    "FlopModel",
    "Problem",
    "make_problem",
    "accuracy",
    "log_accuracy",
    "total_compute",
    "inference_tokens",
    "task_flops",
    "Solution",
    "solve",
    "optimum",
    "sweep",
    "min_budget",
    "PowerLaw",
    "power_law_fit",
    "allocation_fits",
    "FrontierComparison",
    "compare_frontiers",
    "compute_to_match",
    "OptimumBands",
    "solve_laws",
    "optimum_bands",
    "delta_method_bands",
    "law_from_theta",
]
