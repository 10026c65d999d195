"""Data modules: each loads its tensors in memory and subclasses `base.TensorDataModule`.

Images are (N, C, H, W): 8-bit images held as uint8 and turned into float32 in [0, 1] per batch
on the device (`base.to_float`), others float32 in [0, 1]; sequences float32 (N, T, F); labels
int64 (N,), -1 where there are none. Batches are `(x, y, idx)`.

- `cifar10.CIFAR10DataModule`: CIFAR-10, python-version batches (no checksum checks)
- `mnist.MNISTDataModule`: MNIST, IDX files (plain or .gz)
- `shapes.ShapesDataModule`: procedural coloured shapes over textured backgrounds
- `sine.SineDataModule`: sine sequences with random frequency, phase and amplitude
- `folder.FolderDataModule`: a user's own images, one sub-folder per class
"""
