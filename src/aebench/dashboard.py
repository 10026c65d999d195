"""A saved W&B workspace for aebench sweeps: `aebench dashboard ENTITY/PROJECT`.

    aebench dashboard my-team/aebench                      # save the view (needs a key)
    aebench dashboard my-team/aebench --sweep sweep-..._10-00-00-123456 --name "latent sweep"
    aebench dashboard my-team/aebench --dry-run            # print the spec, no server

Built with W&B's own `wandb-workspaces` (the `dashboard` extra). The view groups runs by the
flat config key `model_name` (aebench logs it for every run) and holds the panels
docs/wandb.md describes: parallel coordinates over latent, depth, blur, parameters and test
PSNR; test PSNR against latent, depth and blur; the gain over the baseline per model; the
validation PSNR and loss per step. `--sweep` shows one sweep's runs (its W&B group).
"""
from __future__ import annotations

import json

from aebench.running.trials import PLOT_KNOBS

#: what the sweep panels plot: config keys PLOT_KNOBS (x axes) and summary keys (metrics.json
#: names)
SCORES = ("test_psnr", "test_ssim", "psnr_gain", "baseline_psnr", "params", "train_seconds")


def build_workspace(entity: str, project: str, name: str = "aebench sweeps",
                    sweep: str | None = None):
    """The wandb_workspaces.Workspace of an aebench sweep (nothing is sent anywhere)."""
    import wandb_workspaces.reports.v2 as wr
    import wandb_workspaces.workspaces as ws

    column = wr.ParallelCoordinatesPlotColumn
    sweep_panels = [
        wr.ParallelCoordinatesPlot(
            title="knobs -> test PSNR",
            columns=[column(wr.Config(k)) for k in PLOT_KNOBS]
            + [column(wr.SummaryMetric("params"), log=True), column(wr.SummaryMetric("test_psnr")),
               column(wr.SummaryMetric("psnr_gain"))]),
        *[wr.ScatterPlot(title=f"test PSNR against {k}", x=wr.Config(k),
                         y=wr.SummaryMetric("test_psnr"), log_x=k == "latent") for k in PLOT_KNOBS],
        wr.BarPlot(title="gain over the baseline (dB), per model",
                   metrics=[wr.SummaryMetric("psnr_gain")], groupby=wr.Config("model_name"),
                   groupby_aggfunc="max"),
        wr.BarPlot(title="test PSNR next to the baseline's", groupby=wr.Config("model_name"),
                   metrics=[wr.SummaryMetric("test_psnr"), wr.SummaryMetric("baseline_psnr")],
                   groupby_aggfunc="max"),
    ]
    training_panels = [wr.LinePlot(title=key, x="Step", y=[key])
                       for key in ("val/psnr", "val/loss", "train/loss_step")]
    return ws.Workspace(
        entity=entity, project=project, name=name,
        sections=[ws.Section(name="sweep: what helps", panels=sweep_panels, is_open=True),
                  ws.Section(name="training", panels=training_panels, is_open=True)],
        runset_settings=ws.RunsetSettings(query=sweep or "",
                                          groupby=[ws.Config("model_name")]))


def command(args) -> int:
    """`aebench dashboard ENTITY/PROJECT`: build the view, save or print it."""
    from aebench.core.errors import fail

    entity, sep, project = args.target.partition("/")
    if not sep or not entity or not project or "/" in project:
        fail(f"{args.target!r} is not ENTITY/PROJECT (e.g. my-team/aebench)")
    try:
        workspace = build_workspace(entity, project, args.name, args.sweep)
    except ImportError:
        fail("aebench dashboard needs wandb-workspaces: pip install 'aebench[dashboard]'")
    if args.dry_run:
        print(json.dumps(workspace._to_model().model_dump(mode="json"), indent=1, default=str))
        return 0
    try:
        saved = workspace.save()
    except Exception as err:  # noqa: BLE001 - no key, no network, no such project
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        fail(f"could not save the view to {args.target}: {first} (W&B needs an API key and "
             "network; --dry-run prints the spec without them)")
    print(f"saved: {saved.url}")
    return 0


def parser():
    """`aebench dashboard`'s arguments (aebench.core.errors.Parser: one-line errors, examples)."""
    from aebench.core.errors import Parser

    p = Parser("dashboard", "Save a W&B workspace view for aebench sweeps (needs the dashboard "
               "extra and a W&B key; --dry-run needs neither).",
               ["aebench dashboard my-team/aebench",
                "aebench dashboard my-team/aebench --sweep sweep-..._10-00-00-123456",
                "aebench dashboard my-team/aebench --dry-run   # print the spec, no server"])
    p.add_argument("target", metavar="ENTITY/PROJECT",
                   help="the W&B project the runs were synced to")
    p.add_argument("--name", default="aebench sweeps", help="the saved view's name")
    p.add_argument("--sweep", default=None, help="a sweep's W&B group (sweep-...): only its runs")
    p.add_argument("--dry-run", action="store_true", help="print the view's spec; save nothing")
    return p


def main(argv: list[str] | None = None) -> None:
    """`aebench dashboard ARGS` and `python -m aebench.dashboard ARGS` (the same code path)."""
    from aebench.core.errors import run_command

    run_command(parser(), command, argv)


if __name__ == "__main__":
    main()
