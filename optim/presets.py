"""Ready-made allocation problems from the paper."""

from __future__ import annotations

import jax.numpy as jnp

from ds3jax._loss import LossLaw
from ds3jax._strategies import CoT
from ds3jax._tasks import TaskGrid
from ds3jax._transfer import SigmoidTransfer

from ._problem import Problem, make_problem

__all__ = ["paper_fig8"]


def paper_fig8(charge: str = "budget") -> Problem:
    """The App. C problem behind Fig. 8 (and Fig. 15).

    - loss: Hoffmann et al. rounded, L = 1.69 + 406.4 N^-0.34 + 410.7 D^-0.28 (Eq. 1);
    - transfer: p = sigmoid(5 (L0 - L)) (a = 1, b = 5, d = 0; Eq. 2);
    - tasks: L0 in linspace(0.1, 4.0, 8) x m in 1..50, uniform (400 tasks, plain average);
    - CoT with q = p (iota_hat = 1): psi = I_p(m, Omega/omega - m + 1), 0 where
      Omega/omega - m + 1 <= 0 (Eq. 20);
    - omega = 25 tokens per skill step, I = 1e9 tasks;
    - compute C = 6 N D + 2 N I Omega with Omega the per-task token budget (Eq. 11, 53).

    Args:
      charge: "budget" (the paper) or "expected" (charge E[Omega' | Omega] tokens).
    """
    tasks = TaskGrid.product(jnp.linspace(0.1, 4.0, 8), jnp.arange(1, 51))
    return make_problem(
        LossLaw.hoffmann_rounded(),
        SigmoidTransfer(a=1.0, b=5.0, d=0.0),
        tasks,
        strategy=CoT(),
        omega=25.0,
        n_queries=1e9,
        iota_hat=1.0,
        charge=charge,
    )
