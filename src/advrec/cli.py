"""The ``advrec`` command line.

::

    advrec demo [--data FOLDER] [--out DIR]       # BPR-MF vs AMF under attack, table + plot
    advrec run experiment.yaml [--backend local|ray] [--out DIR]
    advrec info                                   # version, engine build, threads

Progress bars are drawn only when standard error is a terminal (``--progress`` / ``--no-progress``
override). Errors in experiment files are reported as ``advrec: error: <key>: <what is allowed>``
with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["main", "build_parser"]

DEMO_EPS = (0.25, 0.5, 1.0)


def _progress(args) -> bool:
    if args.progress is not None:
        return args.progress
    return sys.stderr.isatty()


def _add_progress(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="always show progress bars")
    g.add_argument("--no-progress", dest="progress", action="store_false",
                   help="never show progress bars (default when stderr is not a terminal)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``advrec`` command (exposed for documentation and tests)."""
    from . import __version__

    parser = argparse.ArgumentParser(prog="advrec", description="Adversarial training and robustness evaluation "
                                     "for recommender systems.")
    parser.add_argument("--version", action="version", version=f"advrec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="{demo,run,info}")
    sub.required = True

    demo = sub.add_parser("demo", help="train BPR-MF and AMF, attack both, print a table and write a plot",
                          description="Trains BPR-MF, then AMF (adversarial training started from the BPR-MF "
                          "model), attacks both with FGM and with random noise of the same norm, prints the "
                          "metrics and their drops, and writes a robustness plot.")
    demo.add_argument("--data", metavar="FOLDER", help="a MovieLens folder (ratings.csv / ratings.dat / u.data); "
                      "default: the embedded synthetic data")
    demo.add_argument("--out", metavar="DIR", default=os.path.join("results", "demo"),
                      help="output folder (default: results/demo)")
    demo.add_argument("--factors", type=int, default=32, help="embedding size (default 32)")
    demo.add_argument("--epochs", type=int, default=30, help="BPR-MF epochs (default 30)")
    demo.add_argument("--adv-epochs", type=int, default=40, help="AMF (APR) epochs after BPR-MF (default 40)")
    demo.add_argument("--train-eps", type=float, default=0.5, help="APR perturbation size (default 0.5)")
    demo.add_argument("--eps", type=float, nargs="+", default=list(DEMO_EPS),
                      help=f"attack budgets (default {' '.join(map(str, DEMO_EPS))})")
    demo.add_argument("--threads", type=int, default=0, help="engine threads (0 = all cores)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    _add_progress(demo)

    run = sub.add_parser("run", help="run an experiment file (YAML or JSON)",
                         description="Runs every trial of an experiment file and writes results.csv, "
                         "results.json, config.json and plots to the output folder.")
    run.add_argument("file", metavar="FILE", help="experiment file (.yaml, .yml or .json)")
    run.add_argument("--backend", choices=("local", "ray"), default=None,
                     help="local process pool (default) or Ray Tune")
    run.add_argument("--out", metavar="DIR", default=None, help="output folder (default: results/<name>)")
    run.add_argument("--workers", type=int, default=None, help="local pool size (0 = cpu_count // num_threads)")
    run.add_argument("--address", default=None, help="Ray cluster address, e.g. auto or ray://head:10001")
    run.add_argument("--dry-run", action="store_true", help="validate and list the trials, run nothing")
    run.add_argument("--no-plots", action="store_true", help="do not write plots")
    _add_progress(run)

    sub.add_parser("info", help="version, engine build (instruction set) and threads")
    return parser


# ---- demo ---------------------------------------------------------------------------------------
def _fmt_table(df, floatfmt: str = "{:.4f}") -> str:
    return df.to_string(float_format=lambda v: floatfmt.format(v))


class UsageError(Exception):
    """A bad command-line value: reported as ``advrec: error: ...`` with exit status 2."""


def _check_demo_args(args) -> None:
    """Validates every demo argument before anything is loaded or trained."""
    import math

    for flag, value, minimum in (("--factors", args.factors, 1), ("--epochs", args.epochs, 0),
                                 ("--adv-epochs", args.adv_epochs, 0), ("--threads", args.threads, 0),
                                 ("--seed", args.seed, 0)):
        if value < minimum:
            raise UsageError(f"{flag} must be an integer >= {minimum}, got {value}")
    for flag, values in (("--train-eps", [args.train_eps]), ("--eps", args.eps)):
        for v in values:
            if not math.isfinite(v) or v < 0:
                raise UsageError(f"{flag} must be finite and >= 0, got {v:g}")
    if args.data and not os.path.exists(args.data):
        raise UsageError(f"--data {args.data}: no such file or folder")


def _demo(args) -> int:

    import advrec

    _check_demo_args(args)
    show = _progress(args)
    t0 = time.perf_counter()
    if args.data:
        try:
            data = advrec.datasets.load_movielens(args.data)
        except (ValueError, TypeError, OSError, UnicodeDecodeError, LookupError) as exc:
            raise UsageError(f"--data {args.data}: not a readable MovieLens folder or file: {exc}") from exc
        source = f"MovieLens ratings from {args.data}"
    else:
        data = advrec.datasets.synthetic(seed=args.seed)
        source = "embedded synthetic data (advrec.datasets.synthetic, seed %d)" % args.seed
    train, test = advrec.split.leave_one_out(data, by="time", seed=args.seed)
    print(f"data: {source}")
    print(f"      {data.n_users} users, {data.n_items} items, {len(train)} training interactions, "
          f"{len(test)} test interactions (leave-one-out by time)")

    common = dict(factors=args.factors, num_threads=args.threads, seed=args.seed, show_progress=show)
    t = time.perf_counter()
    bpr = advrec.BPRMF(epochs=args.epochs, **common).fit(train)
    t_bpr = time.perf_counter() - t
    t = time.perf_counter()
    amf = advrec.AMF(eps=args.train_eps, reg_adv=1.0, epochs=args.adv_epochs, **common).fit(train, init=bpr)
    t_amf = time.perf_counter() - t
    print(f"fit:  BPR-MF {args.epochs} epochs in {t_bpr:.1f} s; AMF +{args.adv_epochs} APR epochs "
          f"(eps={args.train_eps}, lambda=1) from BPR-MF in {t_amf:.1f} s")

    models = {"BPR-MF": bpr, "AMF": amf}
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="robustness: eps=.* is a degenerate budget")  # reported below
        table = advrec.robustness(models, train, test, eps=tuple(args.eps), attacks=("fgsm", "random"),
                                  k=(10, 50), metrics=("hr", "ndcg"), seed=args.seed, num_threads=args.threads,
                                  show_progress=show)
    for entry in table.attrs.get("degenerate", []):
        print(f"note: eps={entry['eps']:g} is a degenerate budget for {entry['model']} under {entry['attack']} "
              "(the perturbed scores overflow float32): no metric is reported for it")
    clean = table[table["attack"] == "none"].pivot_table(index="model", columns="metric", values="value", sort=False)
    print("\nclean test metrics (full ranking):")
    print(_fmt_table(clean))
    focus = "ndcg@50"
    att = table[(table["metric"] == focus) & (table["attack"] != "none")]
    drops = att.pivot_table(index="model", columns=["attack", "eps"], values="drop", sort=False) * 100
    drops.columns = [f"{'FGM' if a == 'fgsm' else a} ε={e:g}" for a, e in drops.columns]
    print(f"\nrelative drop of {focus} under attack, % (FGM = adversarial, random = same-norm noise):")
    print(_fmt_table(drops, "{:.1f}") if len(drops.columns) else "(none: every budget was degenerate)")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "robustness.csv", index=False)
    written = [out / "robustness.csv"]
    if not args.no_plot:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("\n(matplotlib is not installed: no plot; pip install 'advrec[plot]')")
        else:
            from . import plot

            fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
            plot.robustness_curve(table, metric=focus, ax=axes[0])
            plot.metric_drop(table, metric=focus, ax=axes[1])
            fig.tight_layout()
            fig.savefig(out / "robustness.png", dpi=110)
            plt.close(fig)
            written.append(out / "robustness.png")
    fgm = drops[[c for c in drops.columns if c.startswith("FGM")]]
    if not len(fgm.columns):
        print("\nno verdict: no FGM budget gave metrics (see the notes above)")
    else:
        col = fgm.columns[len(fgm.columns) // 2]
        b, a = float(fgm.loc["BPR-MF", col]), float(fgm.loc["AMF", col])
        if b != b or a != a:  # NaN: a degenerate budget
            print(f"\nunder {col}: no verdict (a degenerate budget; see the note above)")
        else:
            verdict = "more robust" if a < b else "NOT more robust"
            print(f"\nunder {col}: BPR-MF loses {b:.1f}% {focus}, AMF {a:.1f}% -> AMF is {verdict} here")
    print("wrote " + ", ".join(str(p) for p in written) + f"  ({time.perf_counter() - t0:.1f} s in total)")
    return 0


# ---- run ----------------------------------------------------------------------------------------
def _run(args) -> int:
    from . import experiments

    config = experiments.load_config(args.file)
    config = experiments.validate(config)
    trials = experiments.expand(config)
    if args.dry_run:
        print(f"{args.file}: valid; {len(trials)} trial(s)")
        for t in trials:
            print(f"  trial {t['trial']}: seed={t['seed']} " + " ".join(f"{k}={v}" for k, v in t["grid_values"].items()
                                                                      if k != "seed"))
        return 0
    backend = args.backend or config["run"].get("backend", "local")
    print(f"{config['name']}: {len(trials)} trial(s) on the {backend} backend")
    t0 = time.perf_counter()
    table = experiments.run(config, backend=backend, out=args.out, workers=args.workers, address=args.address,
                            show_progress=_progress(args), plots=not args.no_plots)
    out = Path(args.out or config.get("output") or Path("results") / config["name"])
    summary = experiments.summary_table(table)
    print(summary.to_string(formatters={c: (lambda v: f"{v:.1f}") if str(c).endswith("drop%") else
                                        (lambda v: f"{v:.4f}") for c in summary.columns}))
    print(f"wrote {out}/results.csv, results.json, config.json" +
          (", robustness.png, metric_drop.png" if (out / "robustness.png").exists() and not args.no_plots else "") +
          f"  ({time.perf_counter() - t0:.1f} s)")
    return 0


# ---- info ---------------------------------------------------------------------------------------
def _info(args) -> int:
    import importlib.util

    from . import __version__
    from ._engine import core

    feats = core.cpu_features()
    print(f"advrec {__version__}")
    print(f"engine: {core.__name__} (instruction set: {core.variant}); CPU supports: "
          + (", ".join(k for k, v in sorted(feats.items()) if v) or "baseline only"))
    print(f"threads: {core.max_threads()} (num_threads=0), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"os.cpu_count()={os.cpu_count()}")
    print(f"python: {sys.version.split()[0]}")
    extras = {"matplotlib": "plot", "yaml": "yaml", "nbclient": "notebook", "ray": "tune"}
    have = [f"{m} ({x}): {'yes' if importlib.util.find_spec(m) else 'no'}" for m, x in extras.items()]
    print("optional: " + ", ".join(have))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``advrec`` command. Returns the exit status (0 on success, 2 on a usage or
    experiment-file error)."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    from .experiments import ExperimentError

    try:
        if args.command == "demo":
            return _demo(args)
        if args.command == "run":
            return _run(args)
        return _info(args)
    except (ExperimentError, UsageError, FileNotFoundError) as exc:
        print(f"advrec: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("advrec: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
