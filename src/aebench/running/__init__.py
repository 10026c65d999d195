"""aebench's second floor: running what the core builds.

One run (train), a sweep's trials and its end (sweep, trials, leaderboard, html_report),
checkpoints, loggers and W&B, what a run leaves in its folder (outputs), a finished run read
back (trained, runfolder, pretrained/), and AnySize for any image size. Imports the core and
itself only, never a command (docs/architecture.md; tests/test_layers.py checks it).
"""
