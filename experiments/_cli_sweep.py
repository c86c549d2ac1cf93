"""``ds3jax sweep``: the Fig. 9 task-type sweep, resumable.

    ds3jax sweep [--out DIR] [--quick] [--chunk-size N] [--max-chunks K]

Chunk files go to ``DIR/chunks`` as they finish (atomic renames; a manifest pins the
configuration). Running the command again after an interruption loads the finished chunks
and computes only the rest; the final ``DIR/sweep.npz`` (all optima), ``DIR/fig9.json`` and
``DIR/fig9.png`` are identical to those of an uninterrupted run.
"""

from __future__ import annotations

import io
import json

import numpy as np

from ._common import Progress, atomic_write, check_out_dir, int_at_least, status, to_jsonable

_count = int_at_least(1)


def register(sub) -> None:
    s = sub.add_parser("sweep", help="Fig. 9 sweep over 10,000 task types (resumable)")
    s.add_argument("--out", default="out/sweep", help="output folder (default out/sweep)")
    s.add_argument("--quick", action="store_true", help="a small task grid (for tests)")
    s.add_argument("--chunk-size", type=_count, default=500, help="task types per chunk")
    s.add_argument(
        "--max-chunks",
        type=_count,
        default=None,
        help="compute at most this many new chunks, then stop (rerun to resume)",
    )
    s.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    out = check_out_dir(args.out, files=("sweep.npz", "fig9.json", "fig9.png"))
    check_out_dir(out / "chunks")
    status("sweep: importing JAX and compiling ...")
    import jax

    jax.config.update("jax_enable_x64", True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import fig9

    cfg = fig9.config(args.quick)
    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = Progress(total, "sweep chunks")
        bar.update(1)

    sweep = fig9.run_sweep(
        cfg,
        out_dir=out / "chunks",
        max_chunks=args.max_chunks,
        progress=progress,
        chunk_size=args.chunk_size,
    )
    done = sweep.chunks_computed + sweep.chunks_loaded
    total = -(-sweep.m.size // args.chunk_size)
    print(
        f"chunks: {sweep.chunks_loaded} loaded, {sweep.chunks_computed} computed, "
        f"{total - done} left"
    )
    if done < total:
        print(f"stopped early; run the same command again to resume ({out / 'chunks'})")
        return 0
    buf = io.BytesIO()
    np.savez(
        buf,
        difficulty=sweep.difficulty,
        m=sweep.m,
        budgets=sweep.budgets,
        N=sweep.N,
        Omega=sweep.Omega,
        value=sweep.value,
        valid=sweep.valid,
    )
    atomic_write(out / "sweep.npz", buf.getvalue())
    data = fig9.summarise(sweep, cfg)
    payload = {"figure": "fig9", "title": fig9.TITLE, "quick": bool(args.quick), "data": data}
    text = json.dumps(to_jsonable(payload), indent=1, allow_nan=False)
    atomic_write(out / "fig9.json", text.encode())
    fig = fig9.plot(data)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    plt.close(fig)
    atomic_write(out / "fig9.png", png.getvalue())
    st = data["stats"]
    print(
        f"{data['N_fits_ok']}/{data['n_fits']} N fits and {data['Omega_fits_ok']}/"
        f"{data['n_fits']} Omega fits valid; mean exponents a_N = {st['N_slope']['mean']:.3f}, "
        f"a_Omega = {st['Omega_slope']['mean']:.3f}"
    )
    print(f"wrote {out / 'sweep.npz'}, {out / 'fig9.json'}, {out / 'fig9.png'}")
    return 0
