"""Hierarchical skill-text tripartite framework (Sec. III-A, Eq. 42-52, App. B).

Text pieces -> concepts -> skills (L levels) -> tasks:

1. Concepts R = N / zeta are learned from T = D / tau text pieces by iterative peeling on a
   random bipartite text-concept graph, analysed as BP decoding of an LDPC code on the binary
   erasure channel with erasure probability eps = 1/2. Density evolution gives the threshold
   eps_BP; the finite-length scaling law of Amraoui, Montanari, Richardson and Urbanke (IEEE
   Trans. IT 55(2), 2009) gives the fraction of concepts left unlearned (Eq. 44).
2. A skill at level l is acquired when >= eta of its ~ xi_l R / S concepts are learned
   (Chernoff bounds, Eq. 45-48).
3. Acquired skills compose inside a level through an Erdos-Renyi graph; its giant component
   (Lambert W_0, Eq. 49-50) is what inference can use.
4. A task (l, m) can be solved at any level l' with m_l' equivalent skills (Eq. 42-43) and the
   best level is used (Eq. 51); averaging over tasks gives Eq. 52.

Every function is vectorised over model sizes N, training tokens D and budgets (any broadcast
shape); threshold searches and root finding are fixed-step (grid + bisection) and jit-able.
"""

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from ._checks import check_fields, check_values, is_concrete, is_placeholder
from ._pytree import parameter_pytree
from ._tasks import TaskGrid, resolve_success, task_average
from .special._lambertw import lambertw0

__all__ = [
    "RegularEnsemble",
    "BinomialEnsemble",
    "BPThreshold",
    "bp_threshold",
    "scaling_alpha",
    "finite_length_erasure",
    "SkillTextModel",
    "concept_ensemble",
    "concept_erasure_probability",
    "concept_learning_probability",
    "skill_degree",
    "skill_acquisition_probability",
    "giant_component_fraction",
    "SkillHierarchy",
    "skill_hierarchy",
    "skill_competence",
    "prerequisites",
    "equivalent_skill_count",
    "relevant_set_size",
    "tripartite_task_success",
    "tripartite_expected_accuracy",
]


# ----------------------------------------------------------------------------------------------
# LDPC ensembles on the binary erasure channel
# ----------------------------------------------------------------------------------------------


@parameter_pytree
@dataclasses.dataclass(frozen=True)
class RegularEnsemble:
    """(l, r)-regular LDPC ensemble: lambda(x) = x^(l-1), rho(x) = x^(r-1), Lambda(x) = x^l.

    Degrees l, r >= 2 (checked for Python and NumPy values).
    """

    l: jax.Array | float
    r: jax.Array | float

    def __post_init__(self):
        degree = (lambda a: (a >= 2) & (a < np.inf), ">= 2 and finite (a node degree)")
        check_fields(self, {"l": degree, "r": degree})

    def lam(self, x):
        return x ** (self.l - 1)

    def log_lam(self, x):
        return (self.l - 1) * jnp.log(x)

    def dlam(self, x):
        return (self.l - 1) * x ** (self.l - 2)

    def rho(self, x):
        return x ** (self.r - 1)

    def drho(self, x):
        return (self.r - 1) * x ** (self.r - 2)

    def one_minus_rho_of_one_minus(self, x):
        """1 - rho(1 - x) without cancellation at small x."""
        return -jnp.expm1((self.r - 1) * jnp.log1p(-x))

    def node_lambda(self, x):
        return x**self.l

    def mean_variable_degree(self):
        return jnp.asarray(self.l, dtype=float)

    def has_floor(self):
        # lambda(0) = 0: every variable node has degree >= 2 edges to learn from.
        return jnp.zeros(jnp.shape(self.l), bool)


def _pow1m(p, count, x):
    # (1 - p (1 - x))^count in log form: count is O(1e9) text pieces, p O(1e-8).
    return jnp.exp(count * jnp.log1p(-p * (1.0 - x)))


@parameter_pytree
@dataclasses.dataclass(frozen=True)
class BinomialEnsemble:
    """Ensemble with binomial degrees: variable degree ~ Bin(t, p_v), check degree ~ Bin(n, p_c).

    Edge-perspective generating functions lambda(x) = (p_v x + 1 - p_v)^(t-1),
    rho(x) = (p_c x + 1 - p_c)^(n-1); node perspective (degree >= 1)
    Lambda(x) = ((p_v x + 1 - p_v)^t - (1 - p_v)^t) / (1 - (1 - p_v)^t).
    """

    t: jax.Array | float
    p_v: jax.Array | float
    n: jax.Array | float
    p_c: jax.Array | float

    def __post_init__(self):
        count = (lambda a: a > 1, "above 1 (nodes on the other side)")
        prob = (lambda a: (a > 0) & (a <= 1), "in (0, 1] (an edge probability)")
        check_fields(self, {"t": count, "p_v": prob, "n": count, "p_c": prob})

    def lam(self, x):
        return jnp.exp(self.log_lam(x))

    def log_lam(self, x):
        # log lambda without underflow: lambda itself is 0 off x = 1 once t p_v >> 1e3
        return (self.t - 1.0) * jnp.log1p(-self.p_v * (1.0 - x))

    def dlam(self, x):
        return (self.t - 1.0) * self.p_v * _pow1m(self.p_v, self.t - 2.0, x)

    def rho(self, x):
        return _pow1m(self.p_c, self.n - 1.0, x)

    def drho(self, x):
        return (self.n - 1.0) * self.p_c * _pow1m(self.p_c, self.n - 2.0, x)

    def one_minus_rho_of_one_minus(self, x):
        """1 - rho(1 - x) without cancellation at small x."""
        return -jnp.expm1((self.n - 1.0) * jnp.log1p(-self.p_c * x))

    def node_lambda(self, x):
        zero = _pow1m(self.p_v, self.t, 0.0)
        return (_pow1m(self.p_v, self.t, x) - zero) / (-jnp.expm1(self.t * jnp.log1p(-self.p_v)))

    def mean_variable_degree(self):
        # L'(1) of the degree >= 1 node distribution.
        return self.t * self.p_v / (-jnp.expm1(self.t * jnp.log1p(-self.p_v)))

    def has_floor(self):
        # lambda(0) = (1 - p_v)^(t-1) > 0: isolated variable nodes put a floor under the DE.
        return self.p_v < 1.0


class BPThreshold(NamedTuple):
    """BP threshold of an ensemble on the BEC.

    Attributes:
      eps: eps_BP, the largest channel erasure probability BP decoding survives.
      x: x_BP, the density-evolution fixed point at eps_BP (where f(x) = x / lambda(1 -
        rho(1 - x)) attains its minimum).
      found: False where density evolution has no jump (f increasing on the whole interval
        after its floor branch), i.e. no threshold exists.
    """

    eps: jax.Array
    x: jax.Array
    found: jax.Array


def _log_f(ens, x):
    # f(x) = x / lambda(1 - rho(1 - x)); eps_BP = min f on the relevant range.
    y = ens.one_minus_rho_of_one_minus(x)
    log_lam = getattr(ens, "log_lam", None)
    return jnp.log(x) - (log_lam(y) if log_lam is not None else jnp.log(ens.lam(y)))


def _dlog_f(ens, x):
    return jax.jvp(lambda z: _log_f(ens, z), (x,), (jnp.ones_like(x),))[1]


def _d2log_f(ens, x):
    return jax.jvp(lambda z: _dlog_f(ens, z), (x,), (jnp.ones_like(x),))[1]


@functools.partial(jax.jit, static_argnames=("grid_size", "bisection_steps", "x_min"))
def bp_threshold(ens, *, grid_size=256, bisection_steps=64, x_min=1e-9) -> BPThreshold:
    """Density-evolution (BP) threshold of an LDPC ensemble on the binary erasure channel.

    Density evolution x_{k+1} = eps lambda(1 - rho(1 - x_k)) has the fixed points
    f(x) = eps with f(x) = x / lambda(1 - rho(1 - x)); eps_BP is the largest eps without a
    fixed point in (0, 1], i.e. eps_BP = min f over (0, 1] (the classical definition).
    Ensembles whose variable degree can be 0 (binomial degrees) have lambda(0) > 0: a floor
    fixed point x ~ eps lambda(0) always exists and f -> 0 at x -> 0; there the threshold is
    the jump of the DE fixed point, the minimum of f to the right of its floor branch.

    Method (fixed work, jit/vmap-safe): f on a ``grid_size`` log-spaced grid over
    [x_min, 1]; the lowest grid point that lies below some point to its left (or the left end
    when there is no floor) brackets the minimum; ``bisection_steps`` bisections on f'
    refine it. Gradients: eps_BP by the envelope theorem (f' = 0 at x_BP) and x_BP by
    implicit differentiation of f'(x_BP) = 0.

    Args:
      ens: :class:`RegularEnsemble`, :class:`BinomialEnsemble` or any registered pytree with
        ``lam``, ``one_minus_rho_of_one_minus`` (x -> 1 - rho(1 - x), edge perspective) and
        ``has_floor`` methods; leaves broadcast.
      grid_size, bisection_steps, x_min: static search resolution. x_min bounds how close to 0
        a boundary minimum can be located (the (2, r) ensembles, eps_BP = 1/(r - 1), come out
        with relative error ~x_min).

    Returns:
      :class:`BPThreshold` ``(eps, x, found)`` with the broadcast shape of the leaves.
    """
    leaves = jax.tree_util.tree_leaves(ens)
    dtype = jnp.result_type(*leaves, float)
    batch_shape = jnp.broadcast_shapes(*(jnp.shape(v) for v in leaves))
    ens_s = jax.lax.stop_gradient(ens)

    grid = jnp.logspace(np.log10(x_min), 0.0, grid_size, dtype=dtype)
    xg = jnp.broadcast_to(grid, batch_shape + (grid_size,))
    ens_g = jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype)[..., None], ens_s)
    logf = _log_f(ens_g, xg)
    logf = jnp.where(jnp.isnan(logf), jnp.inf, logf)
    prev_max = jnp.concatenate(
        [
            jnp.full(batch_shape + (1,), -jnp.inf, dtype),
            jax.lax.cummax(logf, axis=logf.ndim - 1)[..., :-1],
        ],
        axis=-1,
    )
    no_floor = ~jnp.broadcast_to(ens_s.has_floor(), batch_shape)
    first = jnp.arange(grid_size) == 0
    candidate = (prev_max > logf) | (first & no_floor[..., None])
    masked = jnp.where(candidate, logf, jnp.inf)
    idx = jnp.argmin(masked, axis=-1)
    found = jnp.any(candidate, axis=-1)

    lo = grid[jnp.maximum(idx - 1, 0)]
    hi = grid[jnp.minimum(idx + 1, grid_size - 1)]
    ens_b = jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), ens_s)

    def body(_, bracket):
        a, b = bracket
        mid = 0.5 * (a + b)
        go_right = _dlog_f(ens_b, mid) < 0
        return jnp.where(go_right, mid, a), jnp.where(go_right, b, mid)

    lo, hi = jax.lax.fori_loop(0, bisection_steps, body, (lo, hi))
    x_s = jnp.clip(0.5 * (lo + hi), x_min, 1.0)

    # One implicit-function step: same value, derivative -(d_theta f')/(d_x f').
    ens_d = jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), ens)
    g = _dlog_f(ens_d, x_s)
    gx = jax.lax.stop_gradient(_d2log_f(ens_b, x_s))
    interior = (idx > 0) & (idx < grid_size - 1) & (gx > 0)
    x_bp = jnp.where(
        interior, x_s - (g - jax.lax.stop_gradient(g)) / jnp.where(interior, gx, 1.0), x_s
    )
    log_eps = _log_f(ens_d, x_bp)
    # eps_BP overflows where the data make every node's degree huge: inf, with a zero
    # gradient rather than inf * 0
    big = log_eps > np.log(jnp.finfo(dtype).max)
    eps_bp = jnp.where(big, jnp.inf, jnp.exp(jnp.where(big, 0.0, log_eps)))
    nan = jnp.asarray(jnp.nan, dtype)
    return BPThreshold(
        eps=jnp.where(found, eps_bp, nan), x=jnp.where(found, x_bp, nan), found=found
    )


def scaling_alpha(ens, eps_bp, x_bp):
    """Finite-length scaling parameter alpha of an ensemble on the BEC (Amraoui et al. 2009).

    With x = x_BP, xb = 1 - x, y = 1 - rho(xb), eps = eps_BP and L'(1) the mean variable
    degree,

        alpha^2 = [rho(xb)^2 - rho(xb^2) + rho'(xb)(1 - 2 x rho(xb)) - xb^2 rho'(xb^2)]
                  / [L'(1) lambda(y)^2 rho'(xb)^2]
                + [eps^2 lambda(y)^2 - eps^2 lambda(y^2) - y^2 eps^2 lambda'(y^2)]
                  / [L'(1) lambda(y)^2].

    For the (3,6)-regular ensemble this gives alpha = 0.56036.
    """
    x = x_bp
    xb = 1.0 - x
    y = 1.0 - ens.rho(xb)
    lam_y = ens.lam(y)
    lp1 = ens.mean_variable_degree()
    t1 = (
        ens.rho(xb) ** 2
        - ens.rho(xb**2)
        + ens.drho(xb) * (1.0 - 2.0 * x * ens.rho(xb))
        - xb**2 * ens.drho(xb**2)
    ) / (lp1 * lam_y**2 * ens.drho(xb) ** 2)
    e2 = eps_bp**2
    t2 = (e2 * lam_y**2 - e2 * ens.lam(y**2) - y**2 * e2 * ens.dlam(y**2)) / (lp1 * lam_y**2)
    var = t1 + t2
    tiny = jnp.finfo(jnp.result_type(var)).tiny
    return jnp.sqrt(jnp.maximum(var, tiny))


def _de_fixed_point(ens, eps, lo, steps):
    """Largest root of f(x) = eps on [lo, 1] (f increasing there), bisection in log x."""
    dtype = jnp.result_type(lo, eps)
    ens_s = jax.lax.stop_gradient(ens)
    log_eps = jnp.log(jax.lax.stop_gradient(eps))

    def body(_, bracket):
        a, b = bracket
        mid = jnp.sqrt(a * b)
        below = _log_f(ens_s, mid) < log_eps
        return jnp.where(below, mid, a), jnp.where(below, b, mid)

    a, b = jax.lax.fori_loop(0, steps, body, (lo.astype(dtype), jnp.ones_like(lo, dtype)))
    x_s = jnp.sqrt(a * b)
    # Implicit-function step: value x_s, derivative of the root of log f(x) = log eps.
    h = _log_f(ens, x_s) - jnp.log(eps)
    hx = jax.lax.stop_gradient(_dlog_f(ens_s, x_s))
    ok = hx > 0
    return jnp.where(ok, x_s - (h - jax.lax.stop_gradient(h)) / jnp.where(ok, hx, 1.0), x_s)


def finite_length_erasure(
    ens,
    n,
    eps,
    threshold: BPThreshold | None = None,
    beyond_threshold="density_evolution",
    bisection_steps=64,
    **threshold_kw,
):
    """Bit erasure probability after BP at block length n (finite-length scaling, Eq. 44).

        P_b = gamma Q(sqrt(n) (eps_BP - eps) / alpha) / eps,
        gamma = gamma_BP = eps_BP Lambda(1 - rho(1 - x_BP)),

    the fraction of the *erased* variable nodes that stay erased (the division by eps). With
    eps = 1/2 and n = 2R this is Eq. 44's 2 nu* Q(sqrt(2R)(eps* - 1/2)/alpha).

    The scaling law describes the transition around eps_BP. Above the threshold
    (eps > eps_BP, not enough data) ``beyond_threshold="density_evolution"`` (default) uses
    the asymptotic erasure of the actual density-evolution fixed point,
    gamma = eps Lambda(1 - rho(1 - x(eps))), which equals gamma_BP at eps = eps_BP and grows
    as the ensemble worsens; ``"scaling_law"`` keeps gamma_BP as printed, which makes P_b
    *fall* again far above the threshold (because eps_BP and gamma_BP shrink). Where density
    evolution has no jump (``found`` False) the density-evolution erasure eps-fixed point is
    used with the first option and 1 with the second.

    Args:
      ens: ensemble; n: number of variable nodes; eps: channel erasure probability.
      threshold: precomputed :func:`bp_threshold` result (else computed with ``threshold_kw``).
      beyond_threshold: "density_evolution" or "scaling_law" (static).
    """
    if beyond_threshold not in ("density_evolution", "scaling_law"):
        raise ValueError(
            "beyond_threshold must be 'density_evolution' or 'scaling_law', "
            f"got {beyond_threshold!r}"
        )
    thr = bp_threshold(ens, **threshold_kw) if threshold is None else threshold
    eps = jnp.asarray(eps)
    # lambda underflows to 0 off x = 1 when every node has huge degree (D -> inf): f = inf,
    # no erasure probability reaches the threshold and nothing stays erased
    unlimited = thr.found & jnp.isinf(thr.eps)
    found = thr.found & ~unlimited
    eps_bp = jnp.where(found, thr.eps, 0.5)
    x_bp = jnp.where(found, thr.x, 0.5)
    alpha = scaling_alpha(ens, eps_bp, x_bp)
    gamma_bp = eps_bp * ens.node_lambda(1.0 - ens.rho(1.0 - x_bp))
    z = jnp.sqrt(jnp.asarray(n)) * (eps_bp - eps) / alpha
    q = ndtr(-z)
    if beyond_threshold == "scaling_law":
        pb = jnp.where(found, gamma_bp * q / eps, 1.0)
        return jnp.where(unlimited, 0.0, jnp.clip(pb, 0.0, 1.0))
    dtype = jnp.result_type(eps_bp, eps)
    above = found & (eps > eps_bp)
    lo = jnp.where(found, jax.lax.stop_gradient(x_bp), jnp.asarray(1e-12, dtype))
    x_de = _de_fixed_point(ens, eps, lo, bisection_steps)
    gamma_de = eps * ens.node_lambda(1.0 - ens.rho(1.0 - x_de))
    pb = jnp.where(found, jnp.where(above, gamma_de, gamma_bp) * q, gamma_de) / eps
    return jnp.where(unlimited, 0.0, jnp.clip(pb, 0.0, 1.0))


# ----------------------------------------------------------------------------------------------
# The skill-text model
# ----------------------------------------------------------------------------------------------


@parameter_pytree(meta_fields=("n_levels", "grid_size", "bisection_steps", "beyond_threshold"))
@dataclasses.dataclass(frozen=True)
class SkillTextModel:
    """Parameters of the hierarchical skill-text tripartite framework (Sec. III-A, App. B).

    Defaults are the App. B values (Claude 3.7 Sonnet fit) where the paper gives them.

    Attributes:
      zeta: parameters per concept, R = N / zeta (2.5e3).
      tau: tokens per text piece, T = D / tau (1e4).
      text_degree: mean number of concepts per text piece, d_t (6).
      channel_eps: erasure probability of the concept channel, eps (1/2).
      skills_per_level: S^(l), skills per level (1e4).
      level_decay: the constant c (b in App. B) of xi_l = exp(-c l / L) (10).
      eta: learned concepts a skill needs (eta; not stated in the paper, default 3).
      chernoff_rho: failure probability rho of the degree bound Eq. 46 (not stated; 0.05).
      degree_margin: d_rho = margin * d_rho,UB (0.99, Sec. III-A).
      relevant_factor: beta of Eq. 43, M = ceil(m (1 + beta)) (5).
      delta: directionality coefficient (0.5); iota_hat = delta + (1 - delta)/M (Eq. 16).
      omega: tokens per skill step (25).
      n_levels: L, number of skill levels (100; static).
      grid_size, bisection_steps: resolution of the BP-threshold search (static).
      beyond_threshold: concept erasure when the data do not reach the BP threshold (static):
        "density_evolution" (default) or "scaling_law" (Eq. 44 as printed); see
        :func:`finite_length_erasure`. The paper calls this under-trained regime out of scope.
    """

    zeta: float = 2.5e3
    tau: float = 1e4
    text_degree: float = 6.0
    channel_eps: float = 0.5
    skills_per_level: float = 1e4
    level_decay: float = 10.0
    eta: float = 3.0
    chernoff_rho: float = 0.05
    degree_margin: float = 0.99
    relevant_factor: float = 5.0
    delta: float = 0.5
    omega: float = 25.0
    n_levels: int = 100
    grid_size: int = 256
    bisection_steps: int = 64
    beyond_threshold: str = "density_evolution"

    def __post_init__(self):
        checks = {
            "zeta": lambda v: v > 0,
            "tau": lambda v: v > 0,
            "text_degree": lambda v: v > 0,
            "channel_eps": lambda v: 0 < v < 1,
            "skills_per_level": lambda v: v >= 1,
            "level_decay": lambda v: v >= 0,
            "eta": lambda v: v > 0,
            "chernoff_rho": lambda v: 0 < v < 1,
            "degree_margin": lambda v: 0 < v <= 1,
            "relevant_factor": lambda v: v >= 0,
            "delta": lambda v: 0 <= v <= 1,
            "omega": lambda v: v > 0,
        }
        for name, ok in checks.items():
            v = getattr(self, name)
            if isinstance(v, (int, float)) and not ok(v) and not is_placeholder(self):
                raise ValueError(f"SkillTextModel.{name} has invalid value {v!r}")
        if not isinstance(self.n_levels, int) or self.n_levels < 1:
            raise ValueError(
                f"SkillTextModel.n_levels must be a positive int, got {self.n_levels!r}"
            )
        if self.beyond_threshold not in ("density_evolution", "scaling_law"):
            raise ValueError(
                "SkillTextModel.beyond_threshold must be 'density_evolution' or 'scaling_law', "
                f"got {self.beyond_threshold!r}"
            )

    def levels(self):
        """Skill levels 1..L as a float array."""
        return jnp.arange(1, self.n_levels + 1, dtype=jnp.result_type(float))


def concept_ensemble(model: SkillTextModel, N, D) -> BinomialEnsemble:
    """The text-concept graph of a model with N parameters trained on D tokens.

    R = N / zeta concepts, T = D / tau text pieces, n = R / eps variable nodes, mean concept
    degree d_s = d_t T / R, p_v = p_c = min(d_s / T, 1) (= d_t / R): variable degrees
    Bin(T, p_v), check degrees Bin(n, p_c).

    The graph needs more than one concept and more than one text piece: N > zeta (finite)
    and D > tau (D = inf allowed: unlimited data), checked for concrete values. Below
    either, the degree distributions have negative exponents and every quantity is NaN.
    """
    if is_concrete((N, D, model.zeta, model.tau)):
        zeta, tau = float(model.zeta), float(model.tau)
        check_values(
            "N",
            N,
            lambda a: (a > zeta) & (a < np.inf),
            f"finite and above zeta = {zeta:g} (R = N / zeta > 1 concept)",
        )
        check_values("D", D, lambda a: a > tau, f"above tau = {tau:g} (T = D / tau > 1 text piece)")
    N, D = jnp.asarray(N), jnp.asarray(D)
    R = N / model.zeta
    T = D / model.tau
    n = R / model.channel_eps
    p = jnp.minimum(model.text_degree / R, 1.0)  # d_s / T with d_s = d_t T / R, finite at T = inf
    return BinomialEnsemble(t=T, p_v=p, n=n, p_c=p)


def concept_erasure_probability(model: SkillTextModel, N, D):
    """Fraction of concepts left unlearned, P_b = 2 nu* Q(sqrt(2R)(eps* - 1/2)/alpha) (Eq. 44).

    Computed for general eps as gamma_BP Q(sqrt(n)(eps_BP - eps)/alpha)/eps with n = R/eps
    (:func:`finite_length_erasure`). Small when the data suffice (eps_BP > 1/2 by more than
    ~alpha/sqrt(2R)), ~2 nu* or more when they do not (``model.beyond_threshold``).
    """
    ens = concept_ensemble(model, N, D)
    thr = bp_threshold(ens, grid_size=model.grid_size, bisection_steps=model.bisection_steps)
    # Where eps_BP overflows (mean concept degree ~1e6 and up) nothing stays erased. The
    # scaling law's terms are inf or 0 / 0 there, and their derivatives would turn a zero
    # gradient into NaN, so they are evaluated on a stand-in ensemble (T = 2) and discarded.
    unlimited = jax.lax.stop_gradient(thr.found & jnp.isinf(thr.eps))
    stand_in = BinomialEnsemble(
        t=jnp.where(unlimited, 2.0, ens.t), p_v=ens.p_v, n=ens.n, p_c=ens.p_c
    )
    thr = BPThreshold(
        eps=jnp.where(unlimited, 0.5, thr.eps),
        x=jnp.where(unlimited, 0.5, thr.x),
        found=thr.found & ~unlimited,
    )
    pb = finite_length_erasure(
        stand_in,
        ens.n,
        model.channel_eps,
        threshold=thr,
        beyond_threshold=model.beyond_threshold,
        bisection_steps=model.bisection_steps,
    )
    return jnp.where(unlimited, 0.0, pb)


def concept_learning_probability(model: SkillTextModel, N, D):
    """Probability that a concept is learned, 1 - P_b (the P-bar of Eq. 47-48).

    Sec. III-A calls Eq. 44 itself "the probability that a concept is successfully learned",
    but Eq. 44 is the finite-length *erasure* (unlearned) probability of the peeling decoder —
    it is small exactly when decoding succeeds — and the prior work counts R (1 - P_b) learned
    concepts. We use 1 - P_b; this is what makes competence peak at the training-optimal kappa
    and fall beyond it (Fig. 14).
    """
    return 1.0 - concept_erasure_probability(model, N, D)


def skill_degree(model: SkillTextModel, N, level):
    """Guaranteed number of concepts of a level-l skill, d_rho = margin * d_rho,UB (Eq. 46).

    d_rho,UB = (xi_l R / S) (1 - sqrt(2 S ln(S / rho) / (R xi_l))), xi_l = exp(-c l / L),
    clipped at 0.
    """
    R = jnp.asarray(N) / model.zeta
    S = model.skills_per_level
    xi = jnp.exp(-model.level_decay * jnp.asarray(level) / model.n_levels)
    mean = xi * R / S
    ratio = 2.0 * S * jnp.log(S / model.chernoff_rho) / (R * xi)
    d_ub = mean * (1.0 - jnp.sqrt(ratio))
    return model.degree_margin * jnp.maximum(d_ub, 0.0)


def _bernoulli_kl(a, log_p, log_1mp):
    # KL(a || p) with log p and log(1 - p) given separately (1 - p may underflow as 1 - p).
    xlogx = lambda v: jnp.where(v > 0, v * jnp.log(jnp.where(v > 0, v, 1.0)), 0.0)
    return xlogx(a) + xlogx(1.0 - a) - a * log_p - (1.0 - a) * log_1mp


def _skill_acquisition(d, eta, p_learn, p_erase):
    """Eq. 48 given concept degree d, threshold eta and learn / erase probabilities."""
    dtype = jnp.result_type(d, p_learn)
    tiny = jnp.finfo(dtype).tiny
    d_safe = jnp.where(d > eta, d, eta + 1.0)
    a = eta / d_safe
    log_p = jnp.log(jnp.maximum(p_learn, tiny))
    log_1mp = jnp.log(jnp.maximum(p_erase, tiny))
    exponent = -d_safe * _bernoulli_kl(a, log_p, log_1mp)
    lower_tail = -jnp.expm1(exponent)
    upper_tail = jnp.exp(exponent) / jnp.sqrt(2.0 * d_safe)
    ps = jnp.where(eta <= d_safe * p_learn, lower_tail, upper_tail)
    # Paper prints 1 for eta >= d; with fewer than eta concepts the skill cannot be acquired.
    return jnp.where(d > eta, ps, 0.0)


def skill_acquisition_probability(model: SkillTextModel, N, D, level):
    """Lower bound p_s(l) on the probability that a level-l skill is acquired (Eq. 45-48).

    With d = d_rho^(l) (:func:`skill_degree`), P = concept learning probability and
    a = eta / d:

        p_s = 1 - exp(-d KL(a || P))            if eta <= d P,
        p_s = exp(-d KL(a || P)) / sqrt(2 d)    if d P < eta < d,
        p_s = 0                                 if eta >= d.

    The paper prints 1 in the last case; a skill needing eta concepts cannot be acquired from
    fewer than eta, and 1 would make competence *rise* as models shrink, contradicting Fig. 14,
    so 0 is used. Shapes: N, D broadcast with ``level``.
    """
    p_erase = concept_erasure_probability(model, N, D)
    d = skill_degree(model, N, level)
    return _skill_acquisition(d, model.eta, 1.0 - p_erase, p_erase)


def giant_component_fraction(c):
    """Fraction of nodes in the giant component of G(S, p) with mean degree c = p S (Eq. 50).

    gamma = 1 + W_0(-c exp(-c)) / c for c > 1, and 0 for c <= 1 (no giant component). The
    ``where`` keeps gradients finite on both sides (W_0' is infinite at the branch point c = 1).
    Near c = 1 the relative error grows like 1e-17 / (c - 1)^2 (rounding of -c exp(-c)).
    gamma(inf) = 1; a negative or NaN mean degree gives NaN.
    """
    c = jnp.asarray(c)
    above = (c > 1.0) & (c < jnp.inf)
    cs = jnp.where(above, c, 2.0)
    gamma = jnp.where(above, 1.0 + lambertw0(-cs * jnp.exp(-cs)) / cs, 0.0)
    gamma = jnp.where(c == jnp.inf, 1.0, gamma)
    return jnp.where((c >= 0) | (c == jnp.inf), gamma, jnp.nan)  # NaN fails c >= 0


class SkillHierarchy(NamedTuple):
    """Per-level quantities, trailing axis = level 1..L.

    Attributes:
      p_s: skill acquisition probability p_s(l) (Eq. 48).
      p: composability p_l = p_s(l)^2 gamma_{l-1}^(2 sigma_l) (Eq. 49).
      gamma: giant-component fraction gamma_l (Eq. 50).
    """

    p_s: jax.Array
    p: jax.Array
    gamma: jax.Array


def prerequisites(level):
    """Prerequisites per skill, sigma_l = ln(l) / 2 (so sigma_1 = 0) (Sec. III-A)."""
    return 0.5 * jnp.log(jnp.asarray(level))


@jax.jit
def skill_hierarchy(model: SkillTextModel, N, D) -> SkillHierarchy:
    """p_s(l), p_l and gamma_l for l = 1..L by the recursion of Eq. 49-50 (gamma_0 = 1).

    Vectorised over N, D (broadcast shape S); results have shape S + (L,).
    """
    N, D = jnp.asarray(N), jnp.asarray(D)
    levels = model.levels()
    p_erase = concept_erasure_probability(model, N, D)[..., None]
    d = skill_degree(model, N[..., None], levels)
    p_s = _skill_acquisition(d, model.eta, 1.0 - p_erase, p_erase)
    sigma = prerequisites(levels)
    S = model.skills_per_level
    tiny = jnp.finfo(p_s.dtype).tiny

    def step(gamma_prev, inputs):
        ps_l, sigma_l = inputs
        prereq = jnp.where(
            sigma_l > 0, jnp.exp(2.0 * sigma_l * jnp.log(jnp.maximum(gamma_prev, tiny))), 1.0
        )
        prereq = jnp.where(gamma_prev > 0, prereq, jnp.where(sigma_l > 0, 0.0, 1.0))
        p_l = ps_l**2 * prereq
        gamma_l = giant_component_fraction(p_l * S)
        return gamma_l, (p_l, gamma_l)

    ps_t = jnp.moveaxis(p_s, -1, 0)
    gamma0 = jnp.ones(ps_t.shape[1:], p_s.dtype)
    _, (p_l, gamma) = jax.lax.scan(step, gamma0, (ps_t, sigma))
    return SkillHierarchy(p_s=p_s, p=jnp.moveaxis(p_l, 0, -1), gamma=jnp.moveaxis(gamma, 0, -1))


def skill_competence(model: SkillTextModel, N, D):
    """Trained skill competence sum_l p_s(l) (Fig. 14), shape of broadcast(N, D)."""
    return jnp.sum(skill_hierarchy(model, N, D).p_s, axis=-1)


def _log_prereq_table(n_levels, dtype):
    # cum[j] = sum_{k=2}^{j} log sigma_k, cum[0] = cum[1] = 0 (sigma_1 = 0 never enters Eq. 42).
    k = np.arange(2, n_levels + 1)
    cum = np.concatenate([[0.0, 0.0], np.cumsum(np.log(0.5 * np.log(k)))])
    return jnp.asarray(cum, dtype)


def _check_tasks(model: SkillTextModel, m, **levels) -> None:
    """Levels in 1..L and skill counts m >= 1 (Eq. 42's domain), for concrete values."""
    top = model.n_levels
    for name, v in levels.items():
        check_values(name, v, lambda a: (a >= 1) & (a <= top), f"a skill level in 1..{top}")
    check_values("m", m, lambda a: (a >= 1) & (a < np.inf), ">= 1 and finite (skills)")


def equivalent_skill_count(model: SkillTextModel, level, m, level_prime):
    """Skills needed at level l' for a task needing m skills at level l (Eq. 42).

    m_l' = ceil(m / prod_{k=l+1}^{l'} sigma_k) for l' > l, m for l' = l, and
    ceil(m prod_{k=l'+1}^{l} sigma_k) for l' < l, with sigma_k = ln(k)/2. Levels are integers
    in 1..L (checked, with m >= 1, for concrete values); inputs broadcast.
    """
    _check_tasks(model, m, level=level, level_prime=level_prime)
    return _equivalent_skill_count(model, level, m, level_prime)


def _equivalent_skill_count(model, level, m, level_prime):
    # Eq. 42 without the checks: the task terms call it with checked tasks and levels 1..L
    level = jnp.asarray(level)
    level_prime = jnp.asarray(level_prime)
    m = jnp.asarray(m)
    dtype = jnp.result_type(m, float)
    cum = _log_prereq_table(model.n_levels, dtype)
    li = jnp.clip(jnp.round(level).astype(jnp.int32), 1, model.n_levels)
    lpi = jnp.clip(jnp.round(level_prime).astype(jnp.int32), 1, model.n_levels)
    scaled = m * jnp.exp(cum[li] - cum[lpi])
    return jnp.where(li == lpi, m.astype(dtype), jnp.ceil(scaled))


def relevant_set_size(model: SkillTextModel, m_level):
    """Relevant skill set at a level, M_l' = ceil(m_l' (1 + beta)) (Eq. 43)."""
    return jnp.ceil(jnp.asarray(m_level) * (1.0 + model.relevant_factor))


def _task_level_terms(model, hierarchy, level, m, budget, strategy):
    """log of gamma_l'^m_l' and psi at each l' for tasks (level, m); trailing axes (K, L)."""
    levels = model.levels()
    m_lp = _equivalent_skill_count(model, level[..., None], m[..., None], levels)  # (K, L)
    M = relevant_set_size(model, m_lp)
    iota = model.delta + (1.0 - model.delta) / M
    ps = hierarchy.p_s[..., None, :]  # S + (1, L)
    gamma = hierarchy.gamma[..., None, :]
    q = iota * ps
    f = resolve_success(strategy)
    psi = f(q, m_lp, jnp.asarray(budget)[..., None, None], model.omega)
    tiny = jnp.finfo(psi.dtype).tiny
    reach = jnp.where(gamma > 0, jnp.exp(m_lp * jnp.log(jnp.maximum(gamma, tiny))), 0.0)
    return reach * psi


def tripartite_task_success(model: SkillTextModel, strategy, N, D, budget, level, m):
    """Success of a task at level l needing m skills, best level l' (Eq. 51).

        psi_{l,m} = max_{l'} gamma_l'^(m_l') * success(strategy, iota_hat_l' p_s(l'), m_l',
                    budget, omega),

    iota_hat_l' = delta + (1 - delta) / M_l' (Eq. 16, 43) and m_l' from Eq. 42. For CoT the
    success term is I_{iota_hat p_s}(m_l', Omega/omega - m_l' + 1) as printed.

    Args:
      model: :class:`SkillTextModel`.
      strategy: DS3 strategy (e.g. ``CoT()``) or callable ``f(q, m, budget, omega)``.
      N, D, budget: parameters, training tokens, token budget per task [tokens]; broadcast to S.
      level, m: task level(s) in 1..L and skill count(s) >= 1, broadcast to (K,) (1-D).

    Returns:
      Shape S + (K,).
    """
    _check_tasks(model, m, level=level)
    level = jnp.atleast_1d(jnp.asarray(level))
    m = jnp.atleast_1d(jnp.asarray(m))
    level, m = jnp.broadcast_arrays(level, m)
    # The hierarchy depends on (N, D) only; budgets broadcast against it afterwards.
    N, D = jnp.broadcast_arrays(jnp.asarray(N), jnp.asarray(D))
    hierarchy = skill_hierarchy(model, N, D)
    terms = _task_level_terms(model, hierarchy, level, m, budget, strategy)
    return jnp.max(terms, axis=-1)


def tripartite_expected_accuracy(model: SkillTextModel, tasks: TaskGrid, strategy, N, D, budget):
    """Expected accuracy over a task distribution of (level, m) pairs (Eq. 52).

    Psi = sum_{l,m} phi(l, m) psi_{l,m} with psi from :func:`tripartite_task_success`;
    ``tasks.difficulty`` holds the levels. N, D and budget broadcast to S; result shape S.
    """
    psi = tripartite_task_success(model, strategy, N, D, budget, tasks.difficulty, tasks.m)
    return task_average(tasks, psi)
