"""TOML problem files for ``ds3jax frontier --config FILE`` (schema: configs/paper_fig8.toml).

Every section and key is optional and defaults to the paper's App. C problem; unknown
sections or keys, wrong types and bad values raise :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import math
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["ConfigError", "load_config", "DEFAULT_FRONTIER"]

DEFAULT_FRONTIER = dict(
    budgets=60,
    cmin=1e19,
    cmax=3e24,
    plane="chinchilla",
    kappa=20.0,
    tokens=None,
    method="gradient",
)

_SCHEMA = {
    "loss": {"preset", "E", "A", "B", "alpha", "beta"},
    "transfer": {"a", "b", "d"},
    "tasks": {"difficulty", "m"},
    "strategy": {"kind", "branching", "k", "base"},
    "inference": {"omega", "n_queries", "iota_hat", "charge"},
    "flops": {"n_layer", "d_attn", "prompt_tokens", "include_eval"},
    "frontier": set(DEFAULT_FRONTIER),
}


class ConfigError(ValueError):
    """A problem file that cannot be used; the message names the file and the key."""


def _num(where, value, positive=False, minimum=None):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (positive and v <= 0) or (minimum is not None and v < minimum):
        need = "positive" if positive else f">= {minimum}"
        raise ConfigError(f"{where} must be finite and {need}, got {value!r}")
    return v


def _values(where, spec, integer=False):
    import numpy as np

    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where} is an empty list")
        vals = np.array([_num(f"{where}[{i}]", v) for i, v in enumerate(spec)])
    elif isinstance(spec, dict):
        extra = set(spec) - {"start", "stop", "num"}
        if extra:
            raise ConfigError(f"{where} has unknown keys {sorted(extra)} (start, stop, num)")
        if "start" not in spec or "stop" not in spec:
            raise ConfigError(f"{where} needs start and stop")
        a, b = _num(f"{where}.start", spec["start"]), _num(f"{where}.stop", spec["stop"])
        if integer:
            vals = np.arange(int(a), int(b) + 1, dtype=float)
        else:
            n = int(_num(f"{where}.num", spec.get("num", 8), minimum=1))
            vals = np.linspace(a, b, n)
        if vals.size == 0:
            raise ConfigError(f"{where} describes no values")
    else:
        raise ConfigError(f"{where} must be a list or a {{start, stop, num}} table")
    if integer and (np.any(vals != np.round(vals)) or np.any(vals < 1)):
        raise ConfigError(f"{where} must hold integers >= 1")
    return vals


def load_config(path):
    """Read a TOML problem file: returns (optim.Problem, frontier options dict)."""
    import jax.numpy as jnp

    import ds3jax
    import optim

    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read ({e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    for section, body in raw.items():
        if section not in _SCHEMA:
            raise ConfigError(f"{path}: unknown section [{section}]; known: {sorted(_SCHEMA)}")
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        extra = set(body) - _SCHEMA[section]
        if extra:
            raise ConfigError(
                f"{path}: unknown key {section}.{sorted(extra)[0]}; "
                f"known: {sorted(_SCHEMA[section])}"
            )
    sec = {k: raw.get(k, {}) for k in _SCHEMA}

    lo = sec["loss"]
    presets = {
        "hoffmann_rounded": ds3jax.LossLaw.hoffmann_rounded,
        "hoffmann_unrounded": ds3jax.LossLaw.hoffmann_unrounded,
        "epoch_refit": ds3jax.LossLaw.epoch_refit,
    }
    given = {k: lo[k] for k in ("E", "A", "B", "alpha", "beta") if k in lo}
    if given and "preset" in lo:
        raise ConfigError(f"{path}: [loss] takes either preset or E, A, B, alpha, beta")
    if given:
        if len(given) != 5:
            missing = sorted({"E", "A", "B", "alpha", "beta"} - set(given))
            raise ConfigError(f"{path}: [loss] is missing {missing}")
        law = ds3jax.LossLaw(**{k: _num(f"loss.{k}", v, positive=True) for k, v in given.items()})
    else:
        name = lo.get("preset", "hoffmann_rounded")
        if name not in presets:
            raise ConfigError(f"{path}: loss.preset {name!r} unknown; known: {sorted(presets)}")
        law = presets[name]()

    tr = sec["transfer"]
    transfer = ds3jax.SigmoidTransfer(
        a=_num("transfer.a", tr.get("a", 1.0), positive=True),
        b=_num("transfer.b", tr.get("b", 5.0), positive=True),
        d=_num("transfer.d", tr.get("d", 0.0), minimum=0.0),
    )

    ts = sec["tasks"]
    diff = _values("tasks.difficulty", ts.get("difficulty", {"start": 0.1, "stop": 4.0, "num": 8}))
    m = _values("tasks.m", ts.get("m", {"start": 1, "stop": 50}), integer=True)
    tasks = ds3jax.TaskGrid.product(jnp.asarray(diff), jnp.asarray(m))

    st = sec["strategy"]
    kind = st.get("kind", "cot")
    if kind == "cot":
        strategy = ds3jax.CoT()
    elif kind == "tot":
        strategy = ds3jax.ToT(
            branching=int(_num("strategy.branching", st.get("branching", 2), minimum=1))
        )
    elif kind == "best_of_n":
        if st.get("base", "cot") != "cot":
            raise ConfigError(f"{path}: strategy.base must be 'cot' for best_of_n")
        strategy = ds3jax.BestOfN(
            k=int(_num("strategy.k", st.get("k", 4), minimum=1)), base=ds3jax.CoT()
        )
    else:
        raise ConfigError(f"{path}: strategy.kind {kind!r} unknown; known: cot, tot, best_of_n")

    inf = sec["inference"]
    fl = sec["flops"]
    include_eval = fl.get("include_eval", False)
    if not isinstance(include_eval, bool):
        raise ConfigError(f"{path}: flops.include_eval must be true or false")
    flops = optim.FlopModel(
        n_layer=_num("flops.n_layer", fl.get("n_layer", 0), minimum=0.0),
        d_attn=_num("flops.d_attn", fl.get("d_attn", 0), minimum=0.0),
        prompt_tokens=_num("flops.prompt_tokens", fl.get("prompt_tokens", 0), minimum=0.0),
        include_eval=include_eval,
    )
    try:
        problem = optim.make_problem(
            law,
            transfer,
            tasks,
            strategy=strategy,
            omega=_num("inference.omega", inf.get("omega", 25.0), positive=True),
            n_queries=_num("inference.n_queries", inf.get("n_queries", 1e9), positive=True),
            iota_hat=_num("inference.iota_hat", inf.get("iota_hat", 1.0), positive=True),
            charge=inf.get("charge", "budget"),
            flops=flops,
        )
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None

    fr = dict(DEFAULT_FRONTIER, **sec["frontier"])
    fr["budgets"] = int(_num("frontier.budgets", fr["budgets"], minimum=2))
    fr["cmin"] = _num("frontier.cmin", fr["cmin"], positive=True)
    fr["cmax"] = _num("frontier.cmax", fr["cmax"], positive=True)
    fr["kappa"] = _num("frontier.kappa", fr["kappa"], positive=True)
    if fr["tokens"] is not None:
        fr["tokens"] = _num("frontier.tokens", fr["tokens"], positive=True)
    if fr["plane"] not in ("chinchilla", "fixed_tokens"):
        raise ConfigError(f"{path}: frontier.plane must be 'chinchilla' or 'fixed_tokens'")
    if fr["plane"] == "fixed_tokens" and fr["tokens"] is None:
        raise ConfigError(f"{path}: frontier.plane = 'fixed_tokens' needs frontier.tokens")
    if fr["method"] not in ("gradient", "grid", "continuation"):
        raise ConfigError(f"{path}: frontier.method must be 'gradient', 'grid' or 'continuation'")
    return problem, fr
