"""Fail-fast input handling of the ``ds3jax`` command (issue 16, items 1, 2, 5 and 7).

Bad arguments, bad TOML values and unusable output folders exit 2 with one line on stderr,
no traceback and nothing written, *before any work*: the in-process tests block the heavy
imports (JAX, the library, matplotlib, the figure modules), so a command that got as far as
importing JAX fails them with ImportError; the subprocess tests check ``sys.modules`` of a
fresh interpreter. Files the CLI writes honour the umask.
"""

import contextlib
import io
import math
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments._common import atomic_write
from experiments._config import ConfigError, load_config
from experiments.cli import main

ROOT = Path(__file__).resolve().parents[1]
_HEAVY = ("jax", "jaxlib", "optim", "optax", "ds3jax", "scipy", "matplotlib", "experiments.fig")


@contextlib.contextmanager
def no_heavy_imports():
    """Make ``import jax`` (and the library, scipy, matplotlib, the figure modules) fail.

    A ``None`` entry in ``sys.modules`` makes ``import name`` raise ImportError even when the
    module was loaded before; the entries are restored afterwards.
    """
    names = [n for n in sys.modules if n.startswith(_HEAVY)] + list(_HEAVY)
    saved = {n: sys.modules[n] for n in names if n in sys.modules}
    try:
        for n in names:
            sys.modules[n] = None
        yield
    finally:
        for n in [n for n in sys.modules if n.startswith(_HEAVY)]:
            del sys.modules[n]
        sys.modules.update(saved)


def run_cli(argv):
    """``main(argv)`` with heavy imports blocked: (exit status, stderr lines, stdout)."""
    err, out = io.StringIO(), io.StringIO()
    with no_heavy_imports(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as e:  # pragma: no cover - main returns, it does not exit
            rc = e.code
    return rc, err.getvalue().splitlines(), out.getvalue()


def assert_one_line_exit_2(rc, lines, what=""):
    assert rc == 2, (what, rc, lines)
    assert len(lines) == 1, (what, lines)
    assert lines[0].startswith("ds3jax") and "error:" in lines[0], (what, lines)
    assert "Traceback" not in lines[0]


def files_under(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ----------------------------------------------------------------------------- item 1


def _bad_locations(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me")
    return {
        "existing file": a_file,
        "under a file": a_file / "sub" / "dir",
        "under /proc": Path("/proc/ds3jax-test/out"),
    }


_COMMANDS = {
    "frontier": lambda out: ["frontier", "--budgets", "3", "--out", out],
    "figure": lambda out: ["figure", "fig3", "--quick", "--out", out],
    "fit": lambda out: ["fit", "curve.csv", "--out", out],
    "sweep": lambda out: ["sweep", "--quick", "--out", out],
}


@pytest.mark.parametrize("command", sorted(_COMMANDS))
@pytest.mark.parametrize("where", ["existing file", "under a file", "under /proc"])
def test_unusable_output_folder_is_refused_before_any_work(command, where, tmp_path):
    out = _bad_locations(tmp_path)[where]
    before = files_under(tmp_path)
    rc, lines, _ = run_cli(_COMMANDS[command](str(out)))
    assert_one_line_exit_2(rc, lines, (command, where))
    assert f"--out {out}" in lines[0]
    assert files_under(tmp_path) == before
    assert (tmp_path / "a_file").read_text() == "keep me"


def test_output_file_name_taken_by_a_folder_is_refused(tmp_path):
    (tmp_path / "results.json").mkdir()
    rc, lines, _ = run_cli(["frontier", "--out", str(tmp_path)])
    assert_one_line_exit_2(rc, lines)
    assert "results.json" in lines[0]


def test_output_check_leaves_nothing_behind(tmp_path):
    from experiments._common import check_out_dir

    deep = tmp_path / "a" / "b" / "c"
    assert check_out_dir(deep, files=("x.json",)) == deep
    assert files_under(tmp_path) == []  # the folders it made to try are gone again
    assert check_out_dir(tmp_path) == tmp_path
    assert files_under(tmp_path) == []  # and so is the probe file


def test_figure_module_entry_point_checks_out(tmp_path):
    from experiments._common import run_module

    (tmp_path / "f").write_text("")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as e:
        run_module("experiments.fig3", ["--quick", "--out", str(tmp_path / "f")])
    assert e.value.code == 2 and len(err.getvalue().splitlines()) == 1


# ----------------------------------------------------------------------------- item 2


@pytest.mark.parametrize(
    "text, key, want",
    [
        ("[frontier]\nbudgets = 12.5\n", "frontier.budgets", "an integer"),
        ("[frontier]\nbudgets = 12.0\n", "frontier.budgets", "an integer"),
        ("[frontier]\nbudgets = true\n", "frontier.budgets", "an integer"),
        ("[frontier]\nbudgets = '12'\n", "frontier.budgets", "an integer"),
        ("[frontier]\ncmin = true\n", "frontier.cmin", "a number"),
        ("[frontier]\nplane = 3\n", "frontier.plane", "a string"),
        ("[frontier]\nmethod = ['grid']\n", "frontier.method", "a string"),
        ("[loss]\npreset = [1]\n", "loss.preset", "a string"),
        ("[loss]\npreset = { a = 1 }\n", "loss.preset", "a string"),
        ("[tasks]\nm = [1.0, 2.0]\n", "tasks.m[0]", "an integer"),
        ("[tasks]\nm = { start = 1, stop = 7.5 }\n", "tasks.m.stop", "an integer"),
        ("[tasks]\ndifficulty = { start = 0.1, stop = 4.0, num = 8.0 }\n", "num", "an integer"),
        ("[tasks]\ndifficulty = 'easy'\n", "tasks.difficulty", "an array"),
        ("[strategy]\nkind = 'tot'\nbranching = 2.5\n", "strategy.branching", "an integer"),
        ("[strategy]\nkind = 'best_of_n'\nk = true\n", "strategy.k", "an integer"),
        ("[inference]\nomega = true\n", "inference.omega", "a number"),
        ("[inference]\ncharge = 1\n", "inference.charge", "a string"),
        ("[flops]\ninclude_eval = 1\n", "flops.include_eval", "a boolean"),
        ("[flops]\nn_layer = 1.5\n", "flops.n_layer", "an integer"),
        ("frontier = 3\n", "[frontier]", "a table"),
    ],
)
def test_config_types_are_checked_exactly(tmp_path, text, key, want):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    msg = str(e.value)
    assert key in msg and f"must be {want}" in msg, msg
    out = tmp_path / "out"
    rc, lines, _ = run_cli(["frontier", "--config", str(cfg), "--out", str(out)])
    assert_one_line_exit_2(rc, lines)
    assert key in lines[0] and want in lines[0]
    assert not out.exists()


def test_config_numbers_take_integers_and_floats(tmp_path):
    from experiments._config import read_config

    cfg = tmp_path / "ok.toml"
    cfg.write_text(
        "[frontier]\nbudgets = 7\ncmin = 100000000000000000000\nkappa = 20\n"
        "[tasks]\ndifficulty = [1, 2.5]\nm = [1, 3]\n[inference]\nomega = 25\n"
    )
    spec = read_config(cfg)
    fr = spec["frontier"]
    assert fr["budgets"] == 7 and type(fr["budgets"]) is int
    assert fr["cmin"] == 1e20 and fr["kappa"] == 20.0 and spec["inference"]["omega"] == 25.0
    assert spec["tasks"] == {"difficulty": [1.0, 2.5], "m": [1, 3]}


# ----------------------------------------------------------------------------- item 5


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_honour_the_umask(tmp_path, umask):
    from optim.sweep import _atomic_save

    old = os.umask(umask)
    try:
        atomic_write(tmp_path / "x.json", b"{}")
        _atomic_save(tmp_path / "chunk.npz", a=np.zeros(2))
        with open(tmp_path / "plain", "wb"):  # what the umask gives a plain new file
            pass
    finally:
        os.umask(old)
    want = stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert want == 0o666 & ~umask
    for name in ("x.json", "chunk.npz"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == want, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunk.npz", "plain", "x.json"]


def test_cli_output_files_are_0644_under_umask_022(tmp_path, capsys):
    k = np.array([1, 2, 4, 8, 16, 32, 64])
    y = 0.8 * (1 - (1 + k / 3.0) ** -0.5)  # a smooth increasing curve; any fit will do
    csv = tmp_path / "curve.csv"
    csv.write_text("k,accuracy\n" + "".join(f"{a},{b:.6f}\n" for a, b in zip(k, y)))
    old = os.umask(0o022)
    try:
        assert main(["fit", str(csv), "--out", str(tmp_path / "out")]) == 0
    finally:
        os.umask(old)
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == ["curve_fit.json", "curve_fit.png"]
    for p in written:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p


# ----------------------------------------------------------------------------- item 7


def _fresh_python(code, *args, timeout=60):
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


_PROBE = (
    "import sys\n"
    "import experiments.cli as c\n"
    "assert 'jax' not in sys.modules, 'import experiments.cli imported jax'\n"
    "rc = c.main(sys.argv[1:])\n"
    "print('jax imported' if 'jax' in sys.modules else 'jax not imported')\n"
    "sys.exit(rc)\n"
)


def test_bad_input_is_rejected_without_importing_jax(tmp_path):
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[frontier]\nbudgets = 12.5\n")
    (tmp_path / "a_file").write_text("")
    cases = [
        ["frontier", "--config", str(bad_toml), "--out", str(tmp_path / "o1")],
        ["frontier", "--budgets", "twelve", "--out", str(tmp_path / "o2")],
        ["frontier", "--out", str(tmp_path / "a_file")],
        ["figure", "no_such_figure", "--out", str(tmp_path / "o3")],
    ]
    for argv in cases:
        r = _fresh_python(_PROBE, *argv)
        assert r.returncode == 2, (argv, r.stderr)
        assert r.stdout.strip() == "jax not imported", (argv, r.stdout)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and "error:" in lines[0], (argv, lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "bad.toml"]


def test_status_line_comes_before_the_jax_import(tmp_path):
    # a fresh interpreter where importing jax fails: a valid frontier run must have written
    # its status line by the time it tries to import jax
    code = (
        "import sys\n"
        "sys.modules['jax'] = None\n"
        "from experiments.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except ImportError:\n"
        "    sys.stderr.write('IMPORT BLOCKED\\n')\n"
    )
    r = _fresh_python(code, "frontier", "--budgets", "3", "--out", str(tmp_path / "o"))
    lines = r.stderr.splitlines()
    assert lines[-1] == "IMPORT BLOCKED", lines
    assert len(lines) == 2 and lines[0].startswith("ds3jax: frontier:"), lines
    assert "importing JAX" in lines[0]
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- fuzz

_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
_NOT_A_NUMBER = _TEXT.filter(lambda s: not _parses_as_float(s))
_NOT_AN_INT = _TEXT.filter(lambda s: not _parses_as_int(s))


def _parses_as_float(s):
    try:
        float(s)
    except ValueError:
        return False
    return True


def _parses_as_int(s):
    try:
        int(s)
    except ValueError:
        return False
    return True


def _bad_positive_number():
    return st.one_of(
        _NOT_A_NUMBER,
        st.floats(max_value=0.0).map(repr),
        st.sampled_from(["nan", "inf", "-inf", "0", "-0.0"]),
    )


def _bad_argv():
    """A frontier/figure command line with one bad argument."""
    opt_value = st.one_of(
        st.tuples(st.just("--budgets"), st.one_of(_NOT_AN_INT, st.integers(max_value=1).map(str))),
        st.tuples(st.just("--budgets"), st.integers(min_value=100_001).map(str)),
        st.tuples(
            st.sampled_from(["--cmin", "--cmax", "--kappa", "--tokens"]), _bad_positive_number()
        ),
        st.tuples(
            st.just("--plane"), _TEXT.filter(lambda s: s not in ("chinchilla", "fixed_tokens"))
        ),
        st.tuples(
            st.just("--method"),
            _TEXT.filter(lambda s: s not in ("gradient", "grid", "continuation")),
        ),
        st.tuples(
            st.just("--strategy"),
            _TEXT.filter(lambda s: s != "cot" and not s.startswith(("tot:", "bon:"))),
        ),
        st.tuples(
            st.just("--strategy"),
            st.sampled_from(
                ["tot:0", "bon:0", "tot:-1", "bon:x", "cot:2", "tot:\u00b2", "bon:1.5"]
            ),
        ),
    )
    frontier = opt_value.map(lambda ov: ["frontier", ov[0], ov[1]])
    unknown = st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
    unknown = unknown.map(lambda s: ["frontier", f"--zz{s}"])
    missing = st.sampled_from(["--budgets", "--cmin", "--out", "--config"]).map(
        lambda o: ["frontier", o]
    )
    order = st.tuples(st.floats(1e20, 1e25), st.floats(0.01, 1.0)).map(
        lambda t: ["frontier", "--cmin", repr(t[0]), "--cmax", repr(t[0] * t[1])]
    )
    fixed = st.just(["frontier", "--plane", "fixed_tokens"])
    figure = _TEXT.filter(
        lambda s: not s.startswith("fig") and s != "all" and not s.startswith("-")
    )
    figure = figure.map(lambda s: ["figure", s])
    command = _TEXT.filter(
        lambda s: s not in ("frontier", "figure", "fit", "sweep") and not s.startswith("-")
    )
    # an output folder under a file (the test puts the file there): any command, any suffix
    suffix = st.text("abcxyz0123._-/", min_size=1, max_size=12).filter(lambda s: s.strip("/."))
    under_file = st.tuples(
        st.sampled_from([["frontier"], ["figure", "fig3"], ["fit", "x.csv"], ["sweep"]]), suffix
    ).map(lambda t: t[0] + ["--out", "<FILE>/" + t[1]])
    return st.one_of(
        frontier, unknown, missing, order, fixed, figure, command.map(lambda s: [s]), under_file
    )


def _toml_string(text):
    """A TOML basic string: letters and digits as they are, everything else escaped."""
    out = []
    for c in text:
        if c.isalnum() or c in " _-.":
            out.append(c)
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return '"' + "".join(out) + '"'


def _toml_value(v):
    """TOML text of a bool, int, float (nan and inf included), str, list or dict."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)  # pragma: no cover


_SCALAR = st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), _TEXT)
_ANY = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["start", "stop", "num", "x"]), inner, max_size=3),
    ),
    max_leaves=5,
)

# per key, values that are wrong (type or range); every key of the schema appears
_NUMBER_BAD = st.one_of(
    st.booleans(),
    _TEXT,
    st.lists(_SCALAR, max_size=2),
    st.sampled_from([float("nan"), float("inf")]),
)
_POS_BAD = st.one_of(_NUMBER_BAD, st.integers(max_value=0), st.floats(max_value=0.0))
_INT_BAD = st.one_of(st.booleans(), _TEXT, st.floats(), st.lists(_SCALAR, max_size=2))
_STR_BAD = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(),
    st.lists(_TEXT, max_size=2),
    _TEXT.filter(lambda s: s not in _CHOICES_ALL),
)
_CHOICES_ALL = {
    "hoffmann_rounded",
    "hoffmann_unrounded",
    "epoch_refit",
    "cot",
    "tot",
    "best_of_n",
    "budget",
    "expected",
    "chinchilla",
    "fixed_tokens",
    "gradient",
    "grid",
    "continuation",
}
_BAD_BY_KEY = {
    ("loss", "preset"): _STR_BAD,
    ("transfer", "a"): _POS_BAD,
    ("transfer", "b"): _POS_BAD,
    ("transfer", "d"): st.one_of(_NUMBER_BAD, st.floats(max_value=-1e-300)),
    ("tasks", "difficulty"): st.one_of(
        _SCALAR,
        st.just([]),
        st.lists(st.one_of(st.booleans(), _TEXT), min_size=1, max_size=3),
        st.fixed_dictionaries({"start": _NUMBER_BAD, "stop": st.just(1.0)}),
        st.fixed_dictionaries(
            {
                "start": st.just(0.0),
                "stop": st.just(1.0),
                "num": st.one_of(_INT_BAD, st.integers(max_value=0)),
            }
        ),
    ),
    ("tasks", "m"): st.one_of(
        _SCALAR,
        st.just([]),
        st.lists(
            st.one_of(st.integers(max_value=0), st.floats(), st.booleans()), min_size=1, max_size=3
        ),
        st.fixed_dictionaries({"start": st.integers(2, 10), "stop": st.just(1)}),
        st.fixed_dictionaries({"start": st.just(1), "stop": st.integers(10**6 + 1, 2**62)}),
    ),
    ("inference", "omega"): _POS_BAD,
    ("inference", "n_queries"): _POS_BAD,
    ("inference", "iota_hat"): st.one_of(_POS_BAD, st.floats(min_value=1.0, exclude_min=True)),
    ("inference", "charge"): _STR_BAD,
    ("flops", "n_layer"): st.one_of(_INT_BAD, st.integers(max_value=-1)),
    ("flops", "d_attn"): st.one_of(_INT_BAD, st.integers(max_value=-1)),
    ("flops", "prompt_tokens"): st.one_of(_INT_BAD, st.integers(max_value=-1)),
    ("flops", "include_eval"): st.one_of(st.integers(), st.floats(), _TEXT),
    ("frontier", "budgets"): st.one_of(
        _INT_BAD, st.integers(max_value=1), st.integers(min_value=100_001)
    ),
    ("frontier", "cmin"): _POS_BAD,
    ("frontier", "cmax"): _POS_BAD,
    ("frontier", "kappa"): _POS_BAD,
    ("frontier", "tokens"): _POS_BAD,
    ("frontier", "plane"): _STR_BAD,
    ("frontier", "method"): _STR_BAD,
}


@st.composite
def _bad_toml(draw):
    """TOML text with one bad entry (wrong type/range, unknown key/section, broken syntax)."""
    kind = draw(st.sampled_from(["value", "value", "value", "strategy", "unknown", "syntax"]))
    if kind == "value":
        (section, key) = draw(st.sampled_from(sorted(_BAD_BY_KEY)))
        return f"[{section}]\n{key} = {_toml_value(draw(_BAD_BY_KEY[(section, key)]))}\n"
    if kind == "strategy":
        which = draw(st.sampled_from(["kind", "branching", "k", "base", "misplaced"]))
        if which == "kind":
            return f"[strategy]\nkind = {_toml_value(draw(_STR_BAD))}\n"
        if which == "base":
            bad = draw(_STR_BAD.filter(lambda v: v != "cot"))
            return f"[strategy]\nkind = 'best_of_n'\nbase = {_toml_value(bad)}\n"
        if which == "misplaced":  # a key of another kind
            return draw(
                st.sampled_from(
                    [
                        "[strategy]\nk = 3\n",
                        "[strategy]\nkind = 'tot'\nk = 3\n",
                        "[strategy]\nkind = 'best_of_n'\nbranching = 2\n",
                    ]
                )
            )
        kind_name = "tot" if which == "branching" else "best_of_n"
        bad = draw(st.one_of(_INT_BAD, st.integers(max_value=0)))
        return f"[strategy]\nkind = '{kind_name}'\n{which} = {_toml_value(bad)}\n"
    if kind == "unknown":
        name = draw(st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8))
        section = draw(
            st.sampled_from(["loss", "transfer", "tasks", "inference", "flops", "frontier"])
        )
        if draw(st.booleans()):
            return f"[zz{name}]\nx = {_toml_value(draw(_ANY))}\n"
        return f"[{section}]\nzz{name} = {_toml_value(draw(_ANY))}\n"
    broken = draw(
        st.sampled_from(
            [
                "[frontier\n",
                "[frontier]\nbudgets = \n",
                "[frontier]\nbudgets = 3 3\n",
                "budgets = [1,\n",
                "[frontier]\nplane = 'x\n",
                "= 3\n",
            ]
        )
    )
    return broken


def _check_rejected(argv, base: Path, keep):
    rc, lines, stdout = run_cli(argv)
    assert_one_line_exit_2(rc, lines, argv)
    assert stdout == ""
    assert files_under(base) == keep, argv


_FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(argv=_bad_argv())
def test_fuzz_bad_arguments_exit_2_with_one_line(argv):
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        keep = []
        if any(a.startswith("<FILE>/") for a in argv):
            (base / "f").write_text("")
            argv = [a.replace("<FILE>", str(base / "f")) for a in argv]
            keep = ["f"]
        elif "--out" not in argv and argv[0] in ("frontier", "figure"):
            argv = argv + ["--out", str(base / "out")]
        _check_rejected(argv, base, keep)


@_FUZZ
@given(text=_bad_toml())
def test_fuzz_bad_config_values_exit_2_with_one_line(text):
    with tempfile.TemporaryDirectory() as d:
        base = Path(d)
        cfg = base / "c.toml"
        cfg.write_text(text, encoding="utf-8")
        _check_rejected(
            ["frontier", "--config", str(cfg), "--out", str(base / "out")], base, ["c.toml"]
        )
