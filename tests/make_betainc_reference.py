"""Build the high-precision reference set for ``ds3jax.special.betainc`` and its logs.

Run from the repository root (about two minutes on one core; the output is deterministic)::

    python tests/make_betainc_reference.py            # writes tests/data/betainc_reference.npz
    python tests/make_betainc_reference.py --check    # only the cross-checks, writes nothing

Everything here is computed with mpmath at ``DPS`` (50) significant digits; nothing comes from
ds3jax. The regularized incomplete beta

    I_x(a, b) = B(a, b)^-1  int_0^x t^(a-1) (1-t)^(b-1) dt,      Q = 1 - I,

is evaluated by the classical continued fraction (DLMF §8.17(v)) on the side where it converges
fast: directly for x < (a+1)/(a+b+2), otherwise for Q = I_{1-x}(b, a). Each side yields the
*small* one of I and Q without cancellation, so tails far below the float64 range (log I = -1e5)
are exact to working precision (mpmath has an unbounded exponent).
``mpmath.betainc`` itself is not used as the primary route: it does not finish for b ~ 1e7.

The primary route is cross-checked (``--check``, also run before every build) against

* the all-positive hypergeometric series I = x^a (1-x)^b / (a B(a,b)) 2F1(a+b, 1; a+1; x)
  (DLMF §8.17(ii)), summed directly, on both sides (where it needs < 4e5 terms);
* the finite binomial sum for integer a, valid for real b:
  Q = sum_{j<a} C(a+b-1, j) x^j (1-x)^(a+b-1-j)  (all terms positive), at raised precision so
  that I = 1 - Q keeps its digits in the lower tail;
* ``mpmath.betainc`` where it is fast (b <= 1e3);
* direct quadrature of the beta density (``mpmath.quad``, tanh-sinh with a geometric ladder
  of break points) on the small side, for non-integer a with b up to 1e7;
* for derivatives: dI/dx = beta density (closed form); dI/da and dI/db by numerical
  differentiation (``mpmath.diff``) of the continued fraction, compared with differentiation
  under the integral sign evaluated by ``mpmath.quad``
  (dI/da = B^-1 int_0^x t^(a-1)(1-t)^(b-1) [log t - psi(a) + psi(a+b)] dt, same for b with
  log(1-t) and psi(b)) and with ``mpmath.diff`` of the binomial sum (integer a, d/db).

Saved arrays (all float64; the inputs are exactly the stored doubles):

``v_*``  value set: a, b, x, I (may underflow to 0), logI, logQ, region code, condition
         numbers kappa_I / kappa_Q = |a d_a log F| + |b d_b log F| + |s d_x log F| (F = I, Q;
         s = min(x, 1 - x)): the relative change of F per unit relative perturbation of a, b
         and of min(x, 1 - x), i.e. what rounding of those inputs alone would cost.
``g_*``  gradient set: a, b, x, I, logI, logQ, dI (N, 3), dlogI (N, 3), dlogQ (N, 3),
         derivatives in the order (a, b, x); keep_I marks the points whose dI components are
         all normal doubles (the others lie beyond underflow and serve the log gradients).
``h_*``  second-derivative set: a, b, x, I, logI, dI, H (N, 3, 3) of I, Hlog (N, 3, 3) of log I.
``f32_*`` float32 set: a, b, x exactly representable in float32 and the float64 reference I.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import mpmath as mp
import numpy as np

DPS = 50
OUT = pathlib.Path(__file__).resolve().parent / "data" / "betainc_reference.npz"

# Region codes stored in v_region (the test reports its errors per region).
REGIONS = ("bulk", "lower", "upper", "deep_lower", "deep_upper", "special")


# --------------------------------------------------------------------------------------------
# Primary route: continued fraction on the fast side
# --------------------------------------------------------------------------------------------
def _cf(a, b, x):
    """1 / (1 + d1 / (1 + d2 / (1 + ...))) by the modified Lentz method, at mp precision."""
    eps = mp.mpf(2) ** (-mp.mp.prec - 8)
    tiny = mp.mpf(2) ** (-20 * mp.mp.prec)
    f = tiny
    c = f
    d = mp.mpf(0)
    num = mp.mpf(1)
    k = 1
    while True:
        d = 1 + num * d
        if d == 0:
            d = tiny
        c = 1 + num / c
        if c == 0:
            c = tiny
        d = 1 / d
        delta = c * d
        f *= delta
        if k > 3 and abs(delta - 1) < eps:
            return f
        if k % 2 == 1:
            m = (k - 1) // 2
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            m = k // 2
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        k += 1
        if k > 2_000_000:
            raise RuntimeError(f"continued fraction did not converge at {(a, b, x)}")


def _log_front(a, b, x, y):
    """log of x^a y^b / (a B(a, b)) with y = 1 - x given separately (no rounding of 1 - x)."""
    return a * mp.log(x) + b * mp.log(y) - mp.log(a) - mp.log(mp.beta(a, b))


def _log1m_exp(s):
    """log(1 - e^s) for s < 0, accurate at both ends."""
    return mp.log1p(-mp.exp(s)) if s < -mp.log(2) else mp.log(-mp.expm1(s))


def log_iq(a, b, x):
    """(log I, log Q) of the regularized incomplete beta, exact to working precision."""
    a, b, x = mp.mpf(a), mp.mpf(b), mp.mpf(x)
    y = 1 - x  # exact: mp precision exceeds that of any double-derived 1 - x we need
    if x < (a + 1) / (a + b + 2):
        log_small = _log_front(a, b, x, y) + mp.log(_cf(a, b, x))
        return log_small, _log1m_exp(log_small)
    log_small = _log_front(b, a, y, x) + mp.log(_cf(b, a, y))
    return _log1m_exp(log_small), log_small


def small_side(a, b, x):
    """(sign, F) with F the smaller of I and Q, and dI = sign * dF."""
    li, lq = log_iq(a, b, x)
    return (1, mp.exp(li)) if li <= lq else (-1, mp.exp(lq))


def log_density(a, b, x):
    a, b, x = mp.mpf(a), mp.mpf(b), mp.mpf(x)
    return (a - 1) * mp.log(x) + (b - 1) * mp.log(1 - x) - mp.log(mp.beta(a, b))


# --------------------------------------------------------------------------------------------
# Derivatives of the primary route
# --------------------------------------------------------------------------------------------
def grad_i(a, b, x):
    """(dI/da, dI/db, dI/dx) at working precision."""
    a, b, x = mp.mpf(a), mp.mpf(b), mp.mpf(x)
    sign, _ = small_side(a, b, x)
    # Differentiate whichever of I, Q is small, so that tails keep all their digits.
    if sign > 0:
        fa = lambda t: mp.exp(log_iq(t, b, x)[0])
        fb = lambda t: mp.exp(log_iq(a, t, x)[0])
    else:
        fa = lambda t: -mp.exp(log_iq(t, b, x)[1])
        fb = lambda t: -mp.exp(log_iq(a, t, x)[1])
    return mp.diff(fa, a), mp.diff(fb, b), mp.exp(log_density(a, b, x))


def hess_i(a, b, x):
    """3x3 Hessian of I in (a, b, x); x-rows from the closed-form density."""
    a, b, x = mp.mpf(a), mp.mpf(b), mp.mpf(x)
    sign, _ = small_side(a, b, x)
    k = 0 if sign > 0 else 1

    def f(s, t):
        v = mp.exp(log_iq(s, t, x)[k])
        return v if sign > 0 else -v

    haa = mp.diff(f, (a, b), (2, 0))
    hab = mp.diff(f, (a, b), (1, 1))
    hbb = mp.diff(f, (a, b), (0, 2))
    dens = mp.exp(log_density(a, b, x))
    psab = mp.digamma(a + b)
    hax = dens * (mp.log(x) - mp.digamma(a) + psab)
    hbx = dens * (mp.log1p(-x) - mp.digamma(b) + psab)
    hxx = dens * ((a - 1) / x - (b - 1) / (1 - x))
    return mp.matrix([[haa, hab, hax], [hab, hbb, hbx], [hax, hbx, hxx]])


# --------------------------------------------------------------------------------------------
# Independent routes used only for cross-checks
# --------------------------------------------------------------------------------------------
def series_small(a, b, x, max_terms=400_000):
    """Smaller of (I, Q) by the positive 2F1(a+b, 1; a+1; x) series on the fast side, or None."""
    a, b, x = mp.mpf(a), mp.mpf(b), mp.mpf(x)
    y = 1 - x
    li, lq = log_iq(a, b, x)  # only to pick the side, not the value
    if li <= lq:
        p, q, z, w = a, b, x, y
    else:
        p, q, z, w = b, a, y, x
    eps = mp.mpf(2) ** (-mp.mp.prec - 8)
    term = mp.mpf(1)
    s = mp.mpf(1)
    n = 0
    while True:
        term *= (p + q + n) / (p + 1 + n) * z
        s += term
        n += 1
        if term < eps * s and (p + q + n) * z < (p + 1 + n):
            break
        if n > max_terms:
            return None
    return mp.exp(_log_front(p, q, z, w)) * s


def quad_small(a, b, x):
    """Smaller of (I, Q) by direct quadrature of the beta density (mpmath.quad)."""
    a, b, x = mp.mpf(a), mp.mpf(b), mp.mpf(x)
    li, lq = log_iq(a, b, x)  # only to pick the side, not the value
    lb = mp.log(mp.beta(a, b))

    def dens(t):
        if t <= 0 or t >= 1:
            return mp.mpf(0)  # endpoints have measure zero; avoid log(0)
        return mp.exp((a - 1) * mp.log(t) + (b - 1) * mp.log1p(-t) - lb)

    # geometric ladder of break points away from x, where the integrand concentrates
    steps = [mp.mpf(2) ** k / (1 + a + b) for k in range(-30, 80, 2)]
    if li <= lq:
        pts = [mp.mpf(0)] + sorted(x - d for d in steps if d < x) + [x]
    else:
        pts = [x] + sorted(x + d for d in steps if x + d < 1) + [mp.mpf(1)]
    return mp.quad(dens, pts)


def binomial_q(a, b, x):
    """Q = 1 - I for integer a by the finite binomial sum (real b)."""
    a = int(a)
    b, x = mp.mpf(b), mp.mpf(x)
    n = a + b - 1
    return mp.fsum(mp.binomial(n, j) * x**j * (1 - x) ** (n - j) for j in range(a))


def quad_grad_ab(a, b, x):
    """(dI/da, dI/db) by differentiating under the integral sign, with mpmath.quad."""
    a, b, x = mp.mpf(a), mp.mpf(b), mp.mpf(x)
    lb = mp.log(mp.beta(a, b))
    psab = mp.digamma(a + b)
    pa, pb = mp.digamma(a), mp.digamma(b)

    def dens(t):
        return mp.exp((a - 1) * mp.log(t) + (b - 1) * mp.log1p(-t) - lb)

    # Break the range at the mode and at a geometric ladder so peaked integrands are resolved.
    mode = (a - 1) / (a + b - 2) if a > 1 and b > 1 else None
    pts = [mp.mpf(0)] + [x * mp.mpf(2) ** (-k) for k in range(40, 0, -4)]
    if mode is not None and mode < x:
        pts += [mode * (1 + mp.mpf(s) / mp.sqrt(a)) for s in (-6, -3, -1, 0, 1, 3, 6)]
    pts = sorted({p for p in pts if 0 <= p < x}) + [x]
    ga = mp.quad(lambda t: dens(t) * (mp.log(t) - pa + psab), pts)
    gb = mp.quad(lambda t: dens(t) * (mp.log1p(-t) - pb + psab), pts)
    return ga, gb


def _rel(u, v):
    return abs(u - v) / abs(v) if v != 0 else abs(u)


def cross_checks(verbose=True):
    """Assert the primary route against the independent routes; return the worst errors."""
    worst = {}

    def note(name, err, bound):
        worst[name] = max(worst.get(name, 0.0), float(err))
        if err > bound:
            raise AssertionError(f"cross-check {name} failed: rel err {mp.nstr(err, 5)}")

    with mp.workdps(DPS):
        # 1) positive series, both sides, including b = 1e7 and tails
        for a, b, x in [
            (0.3, 1e7, 1e-8),
            (0.3, 1e7, 3e-6),
            (2.7, 1e7, 1e-9),
            (7.0, 1e7, 2e-6),
            (137.25, 1e7, 1.0e-5),
            (1e4, 1e7, 8e-4),
            (1e4, 1e7, 1.2e-3),
            (0.5, 0.5, 0.999999),
            (12.5, 2.5, 0.3),
            (50.0, 1e5, 1e-4),
            (1e4, 0.5, 0.9995),
            (1e4, 1e3, 0.92),
        ]:
            s = series_small(a, b, x)
            if s is None:
                continue
            f = small_side(a, b, x)[1]
            note("series", _rel(f, s), mp.mpf(10) ** (-DPS + 8))
        # 1b) direct quadrature on the small side, non-integer a, both tails, b up to 1e7
        for a, b, x in [
            (0.3, 1e7, 3e-6),
            (2.7, 1e7, 1e-9),
            (2.7, 1e7, 4e-6),
            (1.5, 1e5, 2e-4),
            (12.5, 2.5, 0.3),
            (0.5, 0.5, 0.999999),
        ]:
            f = small_side(a, b, x)[1]
            # (tanh-sinh is the weak link here: it is not reliable for a ~ 1e2+ with b ~ 1e7)
            note("quad", _rel(f, quad_small(a, b, x)), mp.mpf(10) ** -25)
        # 2) integer a: finite binomial sum, lower tail at raised precision
        for a, b, x in [
            (1, 1e7, 1e-12),
            (2, 1e7, 3e-7),
            (3, 0.5, 0.2),
            (7, 1e7, 1e-8),
            (7, 1e7, 2e-6),
            (50, 1e7, 1e-7),
            (50, 1e7, 9e-6),
            (50, 2.5, 0.99),
            (1000, 1e5, 1e-2),
        ]:
            li, lq = log_iq(a, b, x)
            with mp.workdps(DPS + 20 + int(-li / mp.log(10))):
                q = binomial_q(a, b, x)
                i = 1 - q
            note("binomial_Q", _rel(mp.exp(lq), q), mp.mpf(10) ** (-DPS + 8))
            note("binomial_I", _rel(mp.exp(li), i), mp.mpf(10) ** (-DPS + 8))
        # 3) mpmath.betainc for moderate b
        for a, b, x in [(0.3, 0.5, 0.1), (2.7, 77.7, 0.02), (12.5, 1e3, 0.03), (1.5, 10, 0.9)]:
            ref = mp.betainc(a, b, 0, x, regularized=True)
            note("mpmath.betainc", _rel(mp.exp(log_iq(a, b, x)[0]), ref), mp.mpf(10) ** (-DPS + 8))
        # 4) derivatives: diff of the continued fraction vs quad under the integral sign
        for a, b, x in [
            (0.3, 0.5, 0.2),
            (1.0, 2.5, 0.3),
            (2.0, 10.0, 0.05),
            (3.0, 77.7, 0.01),
            (7.0, 1e3, 0.02),
            (2.7, 1e5, 1e-5),
            (7.0, 1e7, 5e-7),
            (50.0, 1e7, 3e-6),
        ]:
            ga, gb, _ = grad_i(a, b, x)
            qa, qb = quad_grad_ab(a, b, x)
            note("d/da diff-vs-quad", _rel(ga, qa), mp.mpf(10) ** -15)
            note("d/db diff-vs-quad", _rel(gb, qb), mp.mpf(10) ** -15)
        # 5) integer a: d/db of the binomial sum (an independent function of b)
        for a, b, x in [(1, 1e7, 1e-7), (2, 3.5, 0.7), (7, 1e7, 7e-7), (50, 1e7, 6e-6)]:
            _, gb, _ = grad_i(a, b, x)
            gq = -mp.diff(lambda t: binomial_q(a, t, x), mp.mpf(b))
            note("d/db binomial", _rel(gb, gq), mp.mpf(10) ** -30)
        # 6) second derivatives: mixed diff vs diff of the first derivative by quad
        for a, b, x in [(2.0, 10.0, 0.05), (7.0, 1e3, 0.02)]:
            h = hess_i(a, b, x)
            haa = mp.diff(lambda t: quad_grad_ab(t, b, x)[0], mp.mpf(a))
            hbb = mp.diff(lambda t: quad_grad_ab(a, t, x)[1], mp.mpf(b))
            note("d2/da2 diff-vs-quad", _rel(h[0, 0], haa), mp.mpf(10) ** -15)
            note("d2/db2 diff-vs-quad", _rel(h[1, 1], hbb), mp.mpf(10) ** -15)
    if verbose:
        for k, v in worst.items():
            print(f"  cross-check {k:22s} worst rel err {v:.2e}")
    return worst


# --------------------------------------------------------------------------------------------
# Choosing x: solve log I (or log Q) = target in u = logit(x), then round x to a double
# --------------------------------------------------------------------------------------------
U_LO = mp.log(mp.mpf("1e-300"))  # x ~ 1e-300 (keep away from subnormals)
U_HI = mp.log(mp.mpf(2) ** 52)  # 1 - x ~ 2^-52


def _x_of_u(u):
    return 1 / (1 + mp.exp(-u))


def solve_x(a, b, log_target, side, dtype=np.float64):
    """Double x with log I(x) (side='I') or log Q(x) (side='Q') ~ log_target, or None."""
    with mp.workdps(25):

        def g(u):
            li, lq = log_iq(a, b, _x_of_u(u))
            return (li if side == "I" else lq) - log_target

        lo, hi = U_LO, U_HI
        glo, ghi = g(lo), g(hi)
        if side == "I" and not (glo < 0 < ghi):
            return None
        if side == "Q" and not (glo > 0 > ghi):
            return None
        # coarse bisection, then a bracketing solver
        for _ in range(12):
            mid = (lo + hi) / 2
            gm = g(mid)
            if (gm < 0) == (glo < 0):
                lo, glo = mid, gm
            else:
                hi, ghi = mid, gm
        try:
            u = mp.findroot(g, (lo, hi), solver="anderson", tol=mp.mpf(10) ** -22)
        except (ValueError, ZeroDivisionError):
            u = (lo + hi) / 2
        x = dtype(float(_x_of_u(u)))
    if not (0 < x < 1):
        return None
    return float(x)


# --------------------------------------------------------------------------------------------
# The sets
# --------------------------------------------------------------------------------------------
A_LIST = [0.3, 0.5, 1.0, 1.5, 2.0, 2.7, 3.0, 7.0, 12.5, 50.0, 137.25, 1000.0, 3333.3, 1e4]
B_LIST = [0.5, 1.0, 2.5, 10.0, 77.7, 1e3, 1e5, 3.7e6, 1e7]
LOG10 = mp.log(10)
BULK = [0.05, 0.5, 0.95]
TAILS = [1e-5, 1e-20, 1e-100, 1e-300]
DEEP = [-1e3, -1e4, -1e5]


def value_targets():
    """(a, b, side, log_target, region) tuples."""
    pairs = set()
    for i, a in enumerate(A_LIST):
        for j in (0, 3, 6):
            pairs.add((a, B_LIST[(i + j) % len(B_LIST)]))
        pairs.add((a, 1e7))
    out = []
    for a, b in sorted(pairs):
        for p in BULK:
            out.append((a, b, "I", mp.log(p), "bulk"))
        for t in TAILS:
            out.append((a, b, "I", mp.log(t), "lower"))
            out.append((a, b, "Q", mp.log(t), "upper"))
    for a in (137.25, 1000.0, 1e4):
        for b in (2.5, 1e7):
            for lt in DEEP:
                out.append((a, b, "I", mp.mpf(lt), "deep_lower"))
    for b in (1e5, 3.7e6, 1e7):
        for a in (0.3, 7.0, 1e4):
            for lt in DEEP:
                out.append((a, b, "Q", mp.mpf(lt), "deep_upper"))
    return sorted(set(out), key=lambda r: (r[0], r[1], r[2], float(r[3])))


SPECIAL = [
    (0.5, 0.5, 0.25),
    (0.5, 0.5, 1e-10),
    (0.5, 0.5, 0.9999999),
    (1.0, 1.0, 0.3),
    (1.0, 1e7, 0.5),  # I = 1 - 2^-1e7: Q far below the double range
    (1e4, 1e4, 0.5),
    (2.0, 2.0, 1e-300),
    (0.3, 0.3, 0.5),
    (1e4, 1e7, 1e-300),
    (50.0, 1e7, 1e-200),
]


def point_row(a, b, x, region):
    with mp.workdps(DPS):
        li, lq = log_iq(a, b, x)
        ga, gb, gx = grad_i(a, b, x)
        i, q = mp.exp(li), mp.exp(lq)
        a_, b_, x_ = mp.mpf(a), mp.mpf(b), mp.mpf(x)
        # input-representation condition numbers: relative perturbations of a, b and of
        # min(x, 1 - x) (1 - x is exact in float64 for x >= 1/2)
        xs = x_ if x_ < mp.mpf(1) / 2 else 1 - x_
        kap_i = abs(a_ * ga / i) + abs(b_ * gb / i) + abs(xs * gx / i)
        kap_q = abs(a_ * ga / q) + abs(b_ * gb / q) + abs(xs * gx / q)
        return dict(
            a=a,
            b=b,
            x=x,
            I=float(i),
            logI=float(li),
            logQ=float(lq),
            region=REGIONS.index(region),
            kappa_I=float(kap_i),
            kappa_Q=float(kap_q),
            dI=[float(ga), float(gb), float(gx)],
            dlogI=[float(ga / i), float(gb / i), float(gx / i)],
            dlogQ=[float(-ga / q), float(-gb / q), float(-gx / q)],
        )


def build(log=print):
    t0 = time.time()
    rows = []
    targets = value_targets()
    log(f"solving for x at {len(targets)} targets ...")
    for n, (a, b, side, lt, region) in enumerate(targets):
        x = solve_x(a, b, lt, side)
        if x is None:
            continue
        rows.append(point_row(a, b, x, region))
        if n % 50 == 0:
            log(f"  {n}/{len(targets)}  {time.time() - t0:.0f}s")
    for a, b, x in SPECIAL:
        rows.append(point_row(a, b, x, "special"))
    # de-duplicate (different targets can round to the same double x)
    seen, uniq = set(), []
    for r in rows:
        key = (r["a"], r["b"], r["x"])
        if key not in seen:
            seen.add(key)
            uniq.append(r)
    rows = uniq
    log(f"{len(rows)} value points ({time.time() - t0:.0f}s)")

    data = {}
    for k in ("a", "b", "x", "I", "logI", "logQ", "region", "kappa_I", "kappa_Q"):
        data["v_" + k] = np.array([r[k] for r in rows])
    data["v_region"] = data["v_region"].astype(np.int8)

    # Gradient set: every deep-tail point (log-gradients where I underflows), every second
    # integer-a point (the known failure mode of continued-fraction stop tests) and every
    # eighth remaining point.
    ints = {1.0, 2.0, 3.0, 7.0, 50.0}
    grows = []
    n_int = n_other = 0
    for r in rows:
        region = REGIONS[r["region"]]
        if region == "special":
            continue
        if region.startswith("deep"):
            grows.append(r)
        elif r["a"] in ints:
            n_int += 1
            if n_int % 2 == 0:
                grows.append(r)
        else:
            n_other += 1
            if n_other % 8 == 0:
                grows.append(r)
    data["g_keep_I"] = np.array([min(abs(v) for v in r["dI"]) > 1e-290 for r in grows])
    for k in ("a", "b", "x", "I", "logI", "logQ"):
        data["g_" + k] = np.array([r[k] for r in grows])
    for k in ("dI", "dlogI", "dlogQ"):
        data["g_" + k] = np.array([r[k] for r in grows])
    log(f"{len(grows)} gradient points")

    # Second-derivative set
    hpts = []
    for a, b, p in [
        (1.0, 2.5, 0.5),
        (2.0, 10.0, 0.05),
        (2.0, 1e7, 1e-5),
        (3.0, 1e3, 0.95),
        (7.0, 1e7, 0.5),
        (7.0, 1e7, 1e-20),
        (50.0, 1e5, 0.5),
        (50.0, 1e7, 1e-5),
        (0.3, 0.5, 0.5),
        (0.5, 1e5, 0.05),
        (1.5, 77.7, 1e-20),
        (2.7, 1e7, 0.95),
        (12.5, 2.5, 0.5),
        (137.25, 1e3, 1e-5),
        (1000.0, 1e7, 0.5),
        (1e4, 1e5, 0.05),
        (0.3, 1e7, 1e-5),
        (3333.3, 10.0, 0.5),
    ]:
        x = solve_x(a, b, mp.log(p), "I")
        if x is not None:
            hpts.append((a, b, x))
    for a, b, q in [(2.0, 10.0, 1e-5), (7.0, 1e7, 1e-5), (0.5, 2.5, 0.05)]:
        x = solve_x(a, b, mp.log(q), "Q")
        if x is not None:
            hpts.append((a, b, x))
    hs = {k: [] for k in ("a", "b", "x", "I", "logI", "dI", "H", "Hlog")}
    with mp.workdps(DPS):
        for a, b, x in hpts:
            li, _ = log_iq(a, b, x)
            i = mp.exp(li)
            g = mp.matrix(grad_i(a, b, x))
            h = hess_i(a, b, x)
            hl = h / i - (g * g.T) / i**2
            hs["a"].append(a)
            hs["b"].append(b)
            hs["x"].append(x)
            hs["I"].append(float(i))
            hs["logI"].append(float(li))
            hs["dI"].append([float(v) for v in g])
            hs["H"].append([[float(h[r, c]) for c in range(3)] for r in range(3)])
            hs["Hlog"].append([[float(hl[r, c]) for c in range(3)] for r in range(3)])
    for k, v in hs.items():
        data["h_" + k] = np.array(v)
    log(f"{len(hpts)} second-derivative points ({time.time() - t0:.0f}s)")

    # float32 set: inputs representable in float32, reference at exactly those inputs
    f32 = {k: [] for k in ("a", "b", "x", "I", "logI")}
    for a in (0.3, 1.0, 2.7, 7.0, 50.0, 1000.0, 1e4):
        for b in (0.5, 10.0, 1e3, 1e7):
            a32, b32 = float(np.float32(a)), float(np.float32(b))
            for side, p in [("I", 1e-20), ("I", 1e-5), ("I", 0.05), ("I", 0.5), ("Q", 0.05)]:
                x = solve_x(a32, b32, mp.log(p), side, dtype=np.float32)
                if x is None:
                    continue
                with mp.workdps(DPS):
                    li, _ = log_iq(a32, b32, x)
                f32["a"].append(a32)
                f32["b"].append(b32)
                f32["x"].append(x)
                f32["I"].append(float(mp.exp(li)))
                f32["logI"].append(float(li))
    for k, v in f32.items():
        data["f32_" + k] = np.array(v)
    log(f"{len(f32['a'])} float32 points ({time.time() - t0:.0f}s)")
    data["meta_dps"] = np.array(DPS)
    data["meta_mpmath_version"] = np.array(mp.__version__)
    return data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run the cross-checks only")
    parser.add_argument("--out", type=pathlib.Path, default=OUT)
    args = parser.parse_args(argv)
    mp.mp.dps = DPS
    print("cross-checking the reference route ...")
    cross_checks()
    if args.check:
        return 0
    data = build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
