"""Data modules: each loads its tensors in memory and subclasses `base.TensorDataModule`.

Images are float32 (N, C, H, W) in [0, 1]; sequences float32 (N, T, F); labels int64 (N,),
-1 where there are none. Batches are `(x, y, idx)`.

- `cifar10.CIFAR10DataModule`: CIFAR-10, python-version batches (no checksum checks)
- `mnist.MNISTDataModule`: MNIST, IDX files (plain or .gz)
- `shapes.ShapesDataModule`: procedural coloured shapes over textured backgrounds
- `sine.SineDataModule`: sine sequences with random frequency, phase and amplitude
- `folder.FolderDataModule`: a user's own images, one sub-folder per class
"""
