"""Autoencoder networks: plain `nn.Module`s, one per file, each with a config in conf/model/.

The contract every network follows (the training code relies on nothing else):
- constructor takes `input_shape` (one item: (C, H, W) or (T, F)) and `bounded` (True when
  values lie in [0, 1]), both filled in by the entry point from the data, plus its own
  arguments from the config;
- `forward(x)` returns a tensor of x's shape; `encode(x)` returns the code;
- attributes `input_shape` and `code_size` (numbers per item in the bottleneck).
"""
