"""ds3jax: Directed Stochastic Skill Search (DS3) inference-compute scaling theory in JAX.

The public API is re-exported here from small private modules, one idea each:

* ``ds3jax.special``: the regularized incomplete beta (values, logs, gradients in a, b, x),
  Lambert W_0.
* strategies and their success / token usage (Table I, Eq. 20-39): ``CoT``, ``ToT``,
  ``BestOfN``, ``MajorityVote``, ``success``, ``log_success``, ``expected_tokens``;
  exact majority voting ``mv_success``; FLOP model ``inference_flops``; the theory results.
* training side (Eq. 1-2, 40-41, 64-65): ``LossLaw``, ``training_optimal``, ``chinchilla_rule``,
  ``SigmoidTransfer``, ``TaskGrid``, ``expected_accuracy``; fits to training runs
  ``fit_loss_law`` (multi-start Huber, bootstrap) and ``fit_sigmoid_transfer``.
* the skill-text tripartite framework (Eq. 42-52).
* ``ds3jax.population``: pass@k and majority vote over task populations, fits to data.
* ``ds3jax.forecast``: one DS3 fit for a grid of checkpoints (N, D), forecasts beyond it.
* ``ds3jax.simulate``: a Monte Carlo simulator of the DS3 walk.

* ``execution(...)`` / ``execution_settings()``: the kernels' layout on the hardware (block
  sizes, straggler phases), chosen per backend and overridable.

Float64 is the accuracy reference; the library never changes ``jax_enable_x64``.
"""

from . import forecast as forecast
from . import population as population
from . import simulate as simulate
from . import special as special
from ._execution import Execution as Execution
from ._execution import execution as execution
from ._execution import execution_settings as execution_settings
from ._flops import *  # noqa: F403
from ._flops import __all__ as _flops_all
from ._loss import *  # noqa: F403
from ._loss import __all__ as _loss_all
from ._loss_fit import *  # noqa: F403
from ._loss_fit import __all__ as _loss_fit_all
from ._majority import *  # noqa: F403
from ._majority import __all__ as _majority_all
from ._strategies import *  # noqa: F403
from ._strategies import __all__ as _strategies_all
from ._tasks import *  # noqa: F403
from ._tasks import __all__ as _tasks_all
from ._theory import *  # noqa: F403
from ._theory import __all__ as _theory_all
from ._transfer import *  # noqa: F403
from ._transfer import __all__ as _transfer_all
from ._tripartite import *  # noqa: F403
from ._tripartite import __all__ as _tripartite_all

__version__ = "0.1.0"

__all__ = [
    "forecast",
    "population",
    "simulate",
    "special",
    "Execution",
    "execution",
    "execution_settings",
    *_flops_all,
    *_loss_all,
    *_loss_fit_all,
    *_majority_all,
    *_strategies_all,
    *_tasks_all,
    *_theory_all,
    *_transfer_all,
    *_tripartite_all,
]
