"""Two-step transfer from pretraining loss to per-skill success (Eq. 2, Eq. 64-66).

Step 1 is the loss law (Eq. 1, :mod:`ds3jax._loss`); step 2 maps the loss to the probability
p that a visited skill is applied successfully,

    p = a * sigmoid(b (L0 - L)) + d                      (Eq. 2 / Eq. 65)

where L0 is the task's skill difficulty (the loss at which p is half way). DS3 then uses the
per-step success probability q = iota_hat * p (Eq. 66), with the directionality
iota_hat = delta + (1 - delta) / M (Eq. 16).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from ._checks import check_probability, check_values, is_host_value, is_placeholder
from ._loss import LossLaw, loss
from ._pytree import parameter_pytree

__all__ = [
    "SigmoidTransfer",
    "skill_probability",
    "log_skill_probability",
    "two_step_probability",
    "iota_hat",
]


@parameter_pytree
@dataclasses.dataclass(frozen=True)
class SigmoidTransfer:
    """Sigmoid map from loss to per-skill success, p = a sigmoid(b (L0 - L)) + d (Eq. 2, 65).

    Attributes:
      a: amplitude (default 1).
      b: slope [1/nats] (default 5, as in App. C and App. E-D).
      d: floor (default 0).

    All three are differentiable leaves. For p to be a probability the range [d, a + d] must
    lie in [0, 1]; this is checked for Python and NumPy values (ValueError otherwise), not
    for jax arrays (the library's fits build transfers from them), nor when JAX rebuilds
    the pytree for gradients and tangents.

    App. C-A prints the map as 1/(1 + exp[-a(L0 - L) + d]) with "a = 1, b = 20"; that text is
    inconsistent with Eq. 2 and Eq. 65, which this class follows (slope b, amplitude a).
    """

    a: jax.Array | float = 1.0
    b: jax.Array | float = 5.0
    d: jax.Array | float = 0.0

    def __post_init__(self):
        if is_host_value(self.b) and not is_placeholder(self):
            if not np.all(np.isfinite(np.asarray(self.b, float))):
                raise ValueError(f"SigmoidTransfer.b (the slope) must be finite, got {self.b!r}")
        if is_host_value(self.a) and is_host_value(self.d) and not is_placeholder(self):
            a, d = np.asarray(self.a), np.asarray(self.d)
            if not np.all((d >= 0) & (a >= 0) & (a + d <= 1)):  # NaN fails too
                raise ValueError(
                    "SigmoidTransfer needs 0 <= d and 0 <= a with a + d <= 1 so that p is a "
                    f"probability; got a={self.a!r}, d={self.d!r}"
                )


def skill_probability(transfer: SigmoidTransfer, L, L0):
    """Per-skill success probability p = a sigmoid(b (L0 - L)) + d (Eq. 2 / Eq. 65).

    Args:
      transfer: :class:`SigmoidTransfer`.
      L: pretraining loss [nats/token], array_like.
      L0: task skill difficulty [nats/token], array_like; broadcasts with ``L``.

    Returns:
      p in [d, a + d], broadcast shape.
    """
    z = transfer.b * (jnp.asarray(L0) - jnp.asarray(L))
    return transfer.a * jax.nn.sigmoid(z) + transfer.d


def log_skill_probability(transfer: SigmoidTransfer, L, L0):
    """log p for :func:`skill_probability`, accurate when p underflows (L far above L0).

    Uses log a + log_sigmoid(z) and adds the floor d with ``logaddexp``.
    """
    z = transfer.b * (jnp.asarray(L0) - jnp.asarray(L))
    lsig = jax.nn.log_sigmoid(z)
    a, d = jnp.asarray(transfer.a), jnp.asarray(transfer.d)
    # the larger term factored out, each branch fed only values it is right for: then the
    # derivatives are 1/p in d at d = 0 and sigmoid/p in a at a = 0 (log a or log d of a
    # zero would give 0 * inf there)
    log_a = jnp.log(jnp.where(a > 0, a, 1.0))
    log_d = jnp.log(jnp.where(d > 0, d, 1.0))
    core_wins = (d <= 0) | ((a > 0) & (log_a + lsig >= log_d))
    a1, d1 = jnp.where(core_wins, a, 1.0), jnp.where(core_wins, d, 0.0)
    log_core = jnp.log(a1) + lsig
    # 1/core, kept finite where core underflows (then d = 0 here, and d/core is 0)
    scale = jnp.exp(jnp.minimum(-jnp.where(jnp.isfinite(log_core), log_core, 0.0), 700.0))
    via_core = log_core + jnp.log1p(d1 * scale)
    a2, d2 = jnp.where(core_wins, 0.0, a), jnp.where(core_wins, 1.0, d)
    via_floor = jnp.log(d2) + jnp.log1p(a2 * jnp.exp(lsig - jnp.log(d2)))
    return jnp.where(core_wins, via_core, via_floor)


def two_step_probability(law: LossLaw, transfer: SigmoidTransfer, N, D, L0):
    """p(L(N, D), L0): the two-step forecast from (N, D) to per-skill success (Eq. 1 + Eq. 2).

    Args:
      law: :class:`ds3jax.LossLaw` (step 1).
      transfer: :class:`SigmoidTransfer` (step 2).
      N: non-embedding parameters; D: training tokens; L0: skill difficulty [nats/token].
        All broadcast together.
    """
    return skill_probability(transfer, loss(law, N, D), L0)


def iota_hat(delta, M):
    """Directionality iota_hat = delta + (1 - delta) / M (Eq. 16), in [1/M, 1].

    The probability that a step of the skill walk lands on the next required skill when the
    walk is directed with weight ``delta`` in [0, 1] over ``M`` >= 1 relevant skills.
    """
    check_probability("delta", delta, "the walk's directionality")
    check_values("M (number of relevant skills)", M, lambda a: a >= 1, ">= 1")
    delta = jnp.asarray(delta)
    return delta + (1.0 - delta) / jnp.asarray(M)
