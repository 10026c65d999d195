"""aebench's first floor: what a run is made of, built from a config.

errors and noise; metrics and degradations; the data sets (data/), the networks (models/) and
the baselines, which import nothing of each other; the LightningModule (module, vae_module);
config (compose a config, build the parts). Nothing here imports aebench.running or a command
(docs/architecture.md; tests/test_layers.py checks it).
"""
