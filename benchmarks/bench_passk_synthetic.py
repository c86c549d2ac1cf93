"""pass@k forecasts on synthetic benchmarks from known populations: the check off the Pythia file.

    python -m benchmarks.bench_passk_synthetic [--m 100] [--sets 30] [--n-boot 400]
        [--routes ensemble,auto,power_law] [--problems 128] [--curves] [--weaker DELTA]
        [--measured N] [--only TEXT] [--seed0 S]

Each set draws ``--problems`` success rates from a known population, then m samples per
problem (binomial); every route predicts pass@1e3 and pass@1e4 of those problems, compared
with their exact pass@k, (1/P) sum_i (1 - (1 - psi_i)^k).  The populations include shapes
that none of the default's families has (two Beta clusters, log-uniform success rates, a
Kumaraswamy), so the table says how the routes extrapolate where their assumptions are off.
Prints mean |error|, mean signed error, 90%-interval coverage and width per population and
route, and the mean over populations.  Sets with no correct sample are skipped, as are sets a
route cannot fit (the power law needs two k with 0 < pass@k < 1).

``--curves`` replaces the hand-made populations by ones read off real measurements: the
paper's pass@k curves that run to k = 1e4 (``../shared/data/ds3_passk``: Pythia-2.8B,
Gemma-2B, Llama-3-8B on MATH, Llama-3-8B/70B-Instruct with an oracle verifier), each fitted
by the two-Beta + zero-mass curve family (within 0.007 of every point).  The distribution of
m <= 100 counts depends on the population only through pass@1 ... pass@m, and the truth at
k <= 1e4 only through pass@k there, so any population that follows the curve gives the same
benchmark: this is "128 problems of that model, m samples each", up to the fit's error.
A row "population known" gives the error of a predictor that knows the population exactly
(each problem's posterior pass@k with the true population as prior): the floor that the
problems' own randomness leaves.

``--weaker DELTA`` lowers every drawn success rate's log-odds by DELTA before the samples are
drawn, logit(psi') = logit(psi) - DELTA: the same kind of problems for a weaker model (rare
successes e^DELTA times rarer, sure ones still likely).  With ``--curves`` it turns the
measured curves into populations with few problems solved in m samples, the regime the
measured curves themselves do not cover (no "population known" row: the shifted population
is not one of the families).

``--seed0 S`` draws set s from seed S + s (default 7000): a second S gives sets independent
of the first, for checking a result measured on the default's sets out of sample.

``--measured N`` scores against pass@k as a benchmark measures it: N samples per problem, of
which the m the routes see are a part (as when a data set is thinned), and the unbiased
estimator 1 - C(N - c, k) / C(N, k) of all N (k <= N).  At k = N this is the share of problems
solved at least once, which differs from the exact pass@k by the problems' own Bernoulli
noise; the rows' errors and coverage are against it, and a line per route gives the coverage
against the exact pass@k of the same sets for comparison.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

POPULATIONS = {
    "Beta(0.3, 30)": lambda r, P: r.beta(0.3, 30.0, P),
    "Beta(0.4, 20), 40% unsolvable": lambda r, P: np.where(
        r.random(P) < 0.6, r.beta(0.4, 20.0, P), 0.0
    ),
    "logit-normal(-4, 2)": lambda r, P: 1 / (1 + np.exp(4.0 - 2.0 * r.standard_normal(P))),
    "30% Beta(2, 5) + 70% Beta(0.5, 2000)": lambda r, P: np.where(
        r.random(P) < 0.3, r.beta(2.0, 5.0, P), r.beta(0.5, 2000.0, P)
    ),
    "log-uniform on [1e-5, 1]": lambda r, P: 10 ** (-5 * r.random(P)),
    "Kumaraswamy(0.35, 8)": lambda r, P: (1 - (1 - r.random(P)) ** (1 / 8.0)) ** (1 / 0.35),
    "Beta(0.25, 5), 10% unsolvable": lambda r, P: np.where(
        r.random(P) < 0.9, r.beta(0.25, 5.0, P), 0.0
    ),
}


CURVE_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ds3_passk"
CURVES = (
    "pythia28B",
    "gemma2B",
    "llama8BpassN",
    "llama38Binstruct_oracle",
    "llama370Binstruct_oracle",
)


def _mixture_draw(pop):
    # component j with probability weights[j]; a Beta or a point mass
    w = np.asarray(pop.weights, float)

    def draw(r, P):
        j = r.choice(len(w), size=P, p=w / w.sum())
        psi = np.empty(P)
        for i, comp in enumerate(pop.components):
            sel = j == i
            if hasattr(comp, "alpha"):
                psi[sel] = r.beta(float(comp.alpha), float(comp.beta), sel.sum())
            else:
                psi[sel] = float(comp.psi)
        return psi

    draw.population = pop
    return draw


def oracle_passk(pop, c, m, ks):
    """pass@k of the problems at hand by a predictor that knows the population: each
    problem's posterior given its counts with the true population as prior (the best any
    route can do on average)."""
    import ds3jax.population as P

    c = np.asarray(c, float)[:, None]
    return np.asarray(P.posterior_passk(pop, c, m, ks[None, :])).mean(axis=0)


def curve_population(name, folder=None):
    """(curve, fit, draw): the paper's curve ``name``, its two-Beta + zero-mass fit and a
    sampler ``draw(rng, P)`` of P success rates from the fitted population."""
    import ds3jax.population as P

    folder = Path(folder) if folder else CURVE_DIR
    curve = P.load_curve(folder / f"{name}.csv")
    fit = P.fit_passk_curve(curve, family="beta-mixture+zero")
    return curve, fit, _mixture_draw(fit.population)


def curve_populations(folder=None):
    """{label: draw(rng, P)}: populations whose pass@k follows the paper's measured curves."""
    out = {}
    for name in CURVES:
        _, fit, draw = curve_population(name, folder)
        out[f"{name} (curve fit within {fit.max_abs_error:.3f})"] = draw
    return out


def exact_passk(psi, k):
    k = np.asarray(k, float)
    return np.mean(-np.expm1(k[:, None] * np.log1p(-psi)[None, :]), axis=1)


def weaker(psi, delta):
    """Success rates with their log-odds lowered by ``delta`` (0 and 1 stay put)."""
    if not delta:
        return psi
    from scipy.special import expit, logit

    with np.errstate(divide="ignore"):
        return expit(logit(np.asarray(psi, float)) - delta)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, default=100, help="samples per problem")
    ap.add_argument("--sets", type=int, default=30, help="synthetic benchmarks per population")
    ap.add_argument("--n-boot", type=int, default=400)
    ap.add_argument("--routes", default="ensemble,auto,power_law")
    ap.add_argument("--problems", type=int, default=128)
    ap.add_argument(
        "--curves", action="store_true", help="populations that follow the paper's pass@k curves"
    )
    ap.add_argument(
        "--weaker",
        type=float,
        default=0.0,
        help="lower every success rate's log-odds by this much (a weaker model)",
    )
    ap.add_argument(
        "--measured",
        type=int,
        default=0,
        help="score against the estimate from this many samples per problem (a superset of "
        "the m seen) instead of the exact pass@k",
    )
    ap.add_argument("--only", default="", help="run only the populations whose name holds this")
    ap.add_argument(
        "--seed0",
        type=int,
        default=7000,
        help="set s draws from seed seed0 + s (another seed0: sets independent of the default's)",
    )
    args = ap.parse_args(argv)
    if args.measured and args.measured < max(args.m, 10_000):
        ap.error("--measured must be at least m and 10,000 (the largest k scored)")
    import jax

    jax.config.update("jax_enable_x64", True)
    import ds3jax.population as P

    routes = args.routes.split(",")
    populations = curve_populations() if args.curves else POPULATIONS
    populations = {k: v for k, v in populations.items() if args.only in k}
    if not populations:
        ap.error(f"no population's name holds {args.only!r}")
    ks = np.array([1e3, 1e4])
    print(
        f"{args.problems} problems x {args.m} samples, {args.sets} sets per population, "
        f"n_boot = {args.n_boot}; mean |error| and 90% coverage at k = 1e3 / 1e4"
        + (f"; log-odds lowered by {args.weaker:g}" if args.weaker else "")
        + (
            f"; truth: the estimate from {args.measured:,} samples per problem"
            if args.measured
            else ""
        )
    )
    print(
        "| population | route | mean abs err 1e3 / 1e4 | mean signed err 1e4 "
        "| coverage 1e3 / 1e4 | width 1e3 / 1e4 |"
    )
    print("|---|---|---|---|---|---|")
    summary = {r: [] for r in routes}
    exact_cover = {r: [] for r in routes}
    floor = []
    for name, draw in populations.items():
        res = {r: [] for r in routes}
        oracle = []
        for s in range(args.sets):
            rng = np.random.default_rng(args.seed0 + s)
            psi = weaker(draw(rng, args.problems), args.weaker)
            c = rng.binomial(args.m, psi)
            if not c.any():
                continue
            exact = truth = exact_passk(psi, ks)
            if args.measured:
                full = c + rng.binomial(args.measured - args.m, psi)
                truth = np.asarray(P.passk_from_counts(full, args.measured, ks))
            if hasattr(draw, "population") and not args.weaker:
                oracle.append(oracle_passk(draw.population, c, args.m, ks) - truth)
            for r in routes:
                try:
                    fit = P.fit_passk_counts(c, args.m, method=r, n_boot=args.n_boot, seed=s)
                    lo, hi = fit.passk_interval(ks)
                except ValueError:  # no power law (< 2 usable k), or no finite replicates
                    continue
                res[r].append((fit.passk(ks) - truth, (lo <= truth) & (truth <= hi), hi - lo))
                exact_cover[r].append((lo <= exact) & (exact <= hi))
        for r in routes:
            e, cv, wd = (np.array([x[i] for x in res[r]]) for i in range(3))
            mae, cov = np.abs(e).mean(0), cv.mean(0)
            summary[r].append((mae, cov))
            print(
                f"| {name} | `{r}` | {mae[0]:.3f} / {mae[1]:.3f} | {e[:, 1].mean():+.3f} | "
                f"{cov[0]:.0%} / {cov[1]:.0%} | {wd.mean(0)[0]:.2f} / {wd.mean(0)[1]:.2f} |",
                flush=True,
            )
        if oracle:
            e = np.array(oracle)
            mae = np.abs(e).mean(0)
            floor.append(mae)
            print(
                f"| {name} | population known | {mae[0]:.3f} / {mae[1]:.3f} | "
                f"{e[:, 1].mean():+.3f} | | |",
                flush=True,
            )
    for r in routes:
        mae = np.mean([x[0] for x in summary[r]], axis=0)
        cov = np.mean([x[1] for x in summary[r]], axis=0)
        print(
            f"mean over populations, `{r}`: mean |error| {mae[0]:.3f} / {mae[1]:.3f}, "
            f"coverage {cov[0]:.0%} / {cov[1]:.0%}"
        )
        if args.measured:
            cov = np.mean(exact_cover[r], axis=0)
            print(f"  `{r}` against the exact pass@k: coverage {cov[0]:.0%} / {cov[1]:.0%}")
    if floor:
        mae = np.mean(floor, axis=0)
        print(f"mean over populations, population known: mean |error| {mae[0]:.3f} / {mae[1]:.3f}")


if __name__ == "__main__":
    main()
