"""`aebench report DIR [DIR ...] [--out OUT]`: a sweep's leaderboard (aebench.running.leaderboard).

Prints the leaderboard as a markdown table on stdout (or, with `--pivot KEY`, rows = model and
columns = the values of KEY) and writes, into OUT (default: the first DIR), `report.html`,
`leaderboard.md`, `leaderboard.csv` and the plots against each swept knob. `python -m
aebench.report ARGS` is the same command. Imports neither torch, Lightning nor Hydra.
"""
from __future__ import annotations

import sys
from pathlib import Path

from aebench.running.leaderboard import markdown, pivot, write_leaderboard
from aebench.running.trials import collect_trials, find_trials


def command(args) -> int:
    """`aebench report DIR...`: the table on stdout, files written."""
    from aebench.core.errors import ConfigError

    if not find_trials(args.dirs):
        raise ConfigError(f"report: no metrics.json (or .hydra/overrides.yaml) found under "
                          f"{', '.join(args.dirs)}; give sweep or run folders")
    result = write_leaderboard(args.dirs, args.out, args.evaluations)
    trials = collect_trials(args.dirs, args.evaluations)
    print(pivot(trials, args.pivot, args.metric) if args.pivot else markdown(trials))
    # On stderr, so that stdout stays a clean markdown table (`... > table.md`).
    files = [result["html"], result["markdown"], result["csv"]] + result["plots"]
    print(f"aebench report: {result['trials']} trials ({result['ok']} ok, {result['failed']} "
          f"failed, {result['unfinished']} unfinished); wrote {', '.join(f.name for f in files)} "
          f"to {Path(result['markdown']).parent}", file=sys.stderr)
    return 0


def parser():
    """`aebench report`'s arguments (aebench.core.errors.Parser: one-line errors, examples)."""
    from aebench.core.errors import Parser

    p = Parser("report", "Leaderboard of every trial below DIR(s): a markdown table on stdout; "
               "report.html, leaderboard.md, leaderboard.csv and plots written into --out.",
               ["aebench report multirun/2026-11-23/10-00-00-123456",
                "aebench report multirun/*/* --out all/ --pivot blur"])
    p.add_argument("dirs", nargs="+", metavar="DIR", help="sweep or run folders")
    p.add_argument("--out", help="where to write the leaderboard files (default: first DIR)")
    p.add_argument("--pivot", metavar="KEY", help="print rows = model, columns = the values "
                   "of KEY (e.g. blur, latent) instead of the trial list")
    p.add_argument("--evaluations", action="store_true",
                   help="also list the `aebench evaluate` results inside the runs (eval-*/), as "
                        "rows 'MODEL (trained: ...)': a model trained at one blur and scored at "
                        "others")
    p.add_argument("--metric", default="test_psnr",
                   help="the score in the pivot's cells (default test_psnr; test_ssim, ...)")
    return p


def main(argv: list[str] | None = None) -> None:
    """`aebench report ARGS` and `python -m aebench.report ARGS` (the same code path)."""
    from aebench.core.errors import run_command

    run_command(parser(), command, argv)


if __name__ == "__main__":
    main()
