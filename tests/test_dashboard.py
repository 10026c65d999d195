"""`python -m aebench.dashboard`: the saved W&B view is built from the keys aebench runs log."""
from __future__ import annotations

import json

import pytest
from conftest import run_main

pytest.importorskip("wandb_workspaces", reason="the dashboard extra (wandb-workspaces) is absent")


def test_dry_run_spec_plots_the_logged_keys_grouped_by_model(tmp_path):
    from aebench.dashboard import main

    res = run_main(main, ["my-team/aebench", "--dry-run", "--sweep", "sweep-abc"], tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    spec = json.loads(res.stdout)
    assert (spec["entity"], spec["project"]) == ("my-team", "aebench")
    text = json.dumps(spec)
    # the flat model key aebench logs (loggers.build_logger) groups the runs; the knobs are
    # top-level config keys; the scores are metrics.json's names in the summary
    assert "model_name" in text and "sweep-abc" in text
    for key in ("config:latent", "config:depth", "config:blur", "summary:test_psnr",
                "summary:psnr_gain", "baseline_psnr", "val/psnr"):
        assert key in text, key
    sections = spec["spec"]["section"]["panel_bank_config"]["sections"]
    assert [s["name"] for s in sections] == ["sweep: what helps", "training"]
    assert len(sections[0]["panels"]) >= 5


def test_a_target_that_is_not_entity_slash_project_is_one_line(tmp_path):
    from aebench.dashboard import main

    res = run_main(main, ["aebench"], tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("aebench: error: 'aebench' is not ENTITY/PROJECT")
