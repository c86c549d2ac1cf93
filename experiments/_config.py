"""TOML problem files for ``ds3jax frontier --config FILE`` (schema: configs/paper_fig8.toml).

Every section and key is optional and defaults to the paper's App. C problem; unknown
sections or keys, wrong types and bad values raise :class:`ConfigError` naming the file, the
key and what is allowed.

Reading is split in two so that the CLI can reject a bad file before it imports JAX:
:func:`read_config` parses and checks the whole file in plain Python (no JAX), and
:func:`build_problem` turns the checked values into an ``optim.Problem``.
:func:`load_config` does both.

Types are checked exactly: a key declared an integer (``frontier.budgets``, ``tasks.m``,
``strategy.branching``, ...) takes a TOML integer only (``12.5`` and ``12.0`` are refused), a
number takes an integer or a float, and a boolean is neither (``true`` is not 1).
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = [
    "ConfigError",
    "read_config",
    "build_problem",
    "load_config",
    "DEFAULT_FRONTIER",
    "MAX_BUDGETS",
    "MAX_TASKS",
]

DEFAULT_FRONTIER = dict(
    budgets=60,
    cmin=1e19,
    cmax=3e24,
    plane="chinchilla",
    kappa=20.0,
    tokens=None,
    method="gradient",
)
MAX_BUDGETS = 100_000  # budgets per plane; more is a typo, and would exhaust memory
MAX_TASKS = 1_000_000  # task types in the grid (the Fig. 9 sweep has 10,000)

_SCHEMA = {
    "loss": {"preset", "E", "A", "B", "alpha", "beta"},
    "transfer": {"a", "b", "d"},
    "tasks": {"difficulty", "m"},
    "strategy": {"kind", "branching", "k", "base"},
    "inference": {"omega", "n_queries", "iota_hat", "charge"},
    "flops": {"n_layer", "d_attn", "prompt_tokens", "include_eval"},
    "frontier": set(DEFAULT_FRONTIER),
}
_PRESETS = ("hoffmann_rounded", "hoffmann_unrounded", "epoch_refit")  # LossLaw classmethods
_KINDS = {"cot": set(), "tot": {"branching"}, "best_of_n": {"k", "base"}}
PLANES = ("chinchilla", "fixed_tokens")
METHODS = ("gradient", "grid", "continuation")
CHARGES = ("budget", "expected")


class ConfigError(ValueError):
    """A problem file that cannot be used; the message names the file and the key."""


def _kind(value) -> str:
    """The TOML type of a parsed value, as a message names it."""
    if isinstance(value, bool):
        return "a boolean"
    for types, name in (
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
        ((datetime.date, datetime.time), "a date/time"),
    ):
        if isinstance(value, types):
            return name
    return type(value).__name__  # pragma: no cover - tomllib makes nothing else


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _wrong(where, want, value):
    return ConfigError(f"{where} must be {want}, got {_show(value)} ({_kind(value)})")


def _number(where, value, positive=False, minimum=None, maximum=None):
    """A TOML integer or float (not a boolean), finite, in range; returned as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(where, "a number", value)
    v = float(value)
    ok = math.isfinite(v) and not (positive and v <= 0)
    ok = ok and (minimum is None or v >= minimum) and (maximum is None or v <= maximum)
    if not ok:
        need = ["finite"]
        if positive:
            need.append("> 0")
        if minimum is not None:
            need.append(f">= {minimum:g}")
        if maximum is not None:
            need.append(f"<= {maximum:g}")
        raise ConfigError(f"{where} must be a number, {' and '.join(need)}, got {_show(value)}")
    return v


def _integer(where, value, minimum=None, maximum=None):
    """A TOML integer (not a float, not a boolean), in range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(where, "an integer", value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        need = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise ConfigError(f"{where} must be an integer {need}, got {_show(value)}")
    return value


def _choice(where, value, choices):
    """A TOML string, one of ``choices``."""
    known = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise _wrong(where, f"a string ({known})", value)
    if value not in choices:
        raise ConfigError(f"{where} {_show(value)} unknown; known: {known}")
    return value


def _values(where, spec, integer=False):
    """A list of values, or ``{start, stop, num}`` (floats) / ``{start, stop}`` (integers)."""
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"{where} is an empty array")
        if len(spec) > MAX_TASKS:
            raise ConfigError(f"{where} holds more than {MAX_TASKS} values")
        if integer:
            return [_integer(f"{where}[{i}]", v, minimum=1) for i, v in enumerate(spec)]
        return [_number(f"{where}[{i}]", v) for i, v in enumerate(spec)]
    if isinstance(spec, dict):
        keys = {"start", "stop"} if integer else {"start", "stop", "num"}
        extra = set(spec) - keys
        if extra:
            raise ConfigError(
                f"{where} has unknown key {sorted(extra)[0]!r}; known: {', '.join(sorted(keys))}"
            )
        if "start" not in spec or "stop" not in spec:
            raise ConfigError(f"{where} needs start and stop")
        if integer:
            a = _integer(f"{where}.start", spec["start"], minimum=1)
            b = _integer(f"{where}.stop", spec["stop"], minimum=1)
            if b < a:
                raise ConfigError(f"{where} describes no values (stop {b} < start {a})")
            if b - a + 1 > MAX_TASKS:
                raise ConfigError(f"{where} describes more than {MAX_TASKS} values")
            return list(range(a, b + 1))
        a, b = _number(f"{where}.start", spec["start"]), _number(f"{where}.stop", spec["stop"])
        n = _integer(f"{where}.num", spec.get("num", 8), minimum=1, maximum=MAX_TASKS)
        return np.linspace(a, b, n).tolist()
    want = (
        "an array of integers >= 1 or a {start, stop} table"
        if integer
        else ("an array of numbers or a {start, stop, num} table")
    )
    raise _wrong(where, want, spec)


def read_config(path) -> dict:
    """Read and check a TOML problem file without importing JAX.

    Returns a dict of the checked, defaulted values: one entry per section of the schema
    (plain Python floats, ints, strings, lists; ``tasks`` holds the expanded ``difficulty``
    and ``m`` lists). Raises :class:`ConfigError` naming the file and the key.
    """
    path = Path(path)
    if "\x00" in str(path):
        raise ConfigError(f"{str(path)!r}: not a file name (it holds a NUL byte)")
    try:
        # utf-8-sig: a byte-order mark (as the CSV readers accept) is not a TOML statement
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise ConfigError(f"{path}: cannot read ({reason})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    try:
        return _check(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _check(raw: dict) -> dict:
    for section, body in raw.items():
        if section not in _SCHEMA:
            raise ConfigError(f"unknown section [{section}]; known: {', '.join(sorted(_SCHEMA))}")
        if not isinstance(body, dict):
            raise _wrong(f"[{section}]", "a table", body)
        extra = set(body) - _SCHEMA[section]
        if extra:
            raise ConfigError(
                f"unknown key {section}.{sorted(extra)[0]}; known: "
                f"{', '.join(sorted(_SCHEMA[section]))}"
            )
    sec = {k: raw.get(k, {}) for k in _SCHEMA}
    out = {}

    lo = sec["loss"]
    given = {k: lo[k] for k in ("E", "A", "B", "alpha", "beta") if k in lo}
    if given and "preset" in lo:
        raise ConfigError("[loss] takes either preset or E, A, B, alpha, beta")
    if given:
        if len(given) != 5:
            missing = sorted({"E", "A", "B", "alpha", "beta"} - set(given))
            raise ConfigError(f"[loss] is missing {', '.join(missing)}")
        out["loss"] = {k: _number(f"loss.{k}", v, positive=True) for k, v in given.items()}
    else:
        out["loss"] = {"preset": _choice("loss.preset", lo.get("preset", _PRESETS[0]), _PRESETS)}

    tr = sec["transfer"]
    out["transfer"] = dict(
        a=_number("transfer.a", tr.get("a", 1.0), positive=True),
        b=_number("transfer.b", tr.get("b", 5.0), positive=True),
        d=_number("transfer.d", tr.get("d", 0.0), minimum=0.0),
    )

    ts = sec["tasks"]
    diff = _values("tasks.difficulty", ts.get("difficulty", {"start": 0.1, "stop": 4.0, "num": 8}))
    m = _values("tasks.m", ts.get("m", {"start": 1, "stop": 50}), integer=True)
    if len(diff) * len(m) > MAX_TASKS:
        raise ConfigError(
            f"tasks: {len(diff)} difficulties x {len(m)} skill counts is more than "
            f"{MAX_TASKS} task types"
        )
    out["tasks"] = {"difficulty": diff, "m": m}

    st = sec["strategy"]
    kind = _choice("strategy.kind", st.get("kind", "cot"), tuple(_KINDS))
    extra = sorted(set(st) - {"kind"} - _KINDS[kind])
    if extra:
        raise ConfigError(f"strategy.{extra[0]} does not apply to kind = {kind!r}")
    strategy = {"kind": kind}
    if kind == "tot":
        strategy["branching"] = _integer("strategy.branching", st.get("branching", 2), minimum=1)
    elif kind == "best_of_n":
        _choice("strategy.base", st.get("base", "cot"), ("cot",))
        strategy["k"] = _integer("strategy.k", st.get("k", 4), minimum=1)
    out["strategy"] = strategy

    inf = sec["inference"]
    out["inference"] = dict(
        omega=_number("inference.omega", inf.get("omega", 25.0), positive=True),
        n_queries=_number("inference.n_queries", inf.get("n_queries", 1e9), positive=True),
        iota_hat=_number(
            "inference.iota_hat", inf.get("iota_hat", 1.0), positive=True, maximum=1.0
        ),
        charge=_choice("inference.charge", inf.get("charge", "budget"), CHARGES),
    )

    fl = sec["flops"]
    include_eval = fl.get("include_eval", False)
    if not isinstance(include_eval, bool):
        raise _wrong("flops.include_eval", "a boolean (true or false)", include_eval)
    out["flops"] = dict(
        n_layer=_integer("flops.n_layer", fl.get("n_layer", 0), minimum=0),
        d_attn=_integer("flops.d_attn", fl.get("d_attn", 0), minimum=0),
        prompt_tokens=_integer("flops.prompt_tokens", fl.get("prompt_tokens", 0), minimum=0),
        include_eval=include_eval,
    )

    fr = dict(DEFAULT_FRONTIER, **sec["frontier"])
    fr["budgets"] = _integer("frontier.budgets", fr["budgets"], 2, MAX_BUDGETS)
    for key in ("cmin", "cmax", "kappa"):
        fr[key] = _number(f"frontier.{key}", fr[key], positive=True)
    if fr["tokens"] is not None:
        fr["tokens"] = _number("frontier.tokens", fr["tokens"], positive=True)
    fr["plane"] = _choice("frontier.plane", fr["plane"], PLANES)
    fr["method"] = _choice("frontier.method", fr["method"], METHODS)
    if fr["plane"] == "fixed_tokens" and fr["tokens"] is None:
        raise ConfigError("frontier.plane = 'fixed_tokens' needs frontier.tokens")
    out["frontier"] = fr
    return out


def build_problem(spec: dict):
    """The ``optim.Problem`` of a dict returned by :func:`read_config` (imports JAX)."""
    import jax.numpy as jnp

    import ds3jax
    import optim

    lo = spec["loss"]
    law = getattr(ds3jax.LossLaw, lo["preset"])() if "preset" in lo else ds3jax.LossLaw(**lo)
    transfer = ds3jax.SigmoidTransfer(**spec["transfer"])
    diff, m = (np.asarray(spec["tasks"][k], float) for k in ("difficulty", "m"))
    tasks = ds3jax.TaskGrid.product(jnp.asarray(diff), jnp.asarray(m))
    st = spec["strategy"]
    if st["kind"] == "cot":
        strategy = ds3jax.CoT()
    elif st["kind"] == "tot":
        strategy = ds3jax.ToT(branching=st["branching"])
    else:
        strategy = ds3jax.BestOfN(k=st["k"], base=ds3jax.CoT())
    fl = spec["flops"]
    flops = optim.FlopModel(
        n_layer=float(fl["n_layer"]),
        d_attn=float(fl["d_attn"]),
        prompt_tokens=float(fl["prompt_tokens"]),
        include_eval=fl["include_eval"],
    )
    inf = spec["inference"]
    return optim.make_problem(law, transfer, tasks, strategy=strategy, flops=flops, **inf)


def load_config(path):
    """Read a TOML problem file: returns (optim.Problem, frontier options dict)."""
    spec = read_config(path)
    try:
        problem = build_problem(spec)
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
    return problem, spec["frontier"]
