"""A fully convolutional network on images of any size, as one module that can be exported.

`AnySize(net, multiple)` pads its input at the bottom and right to the next multiple of
`multiple` (what the network's strides need), runs `net` and crops the output back: exactly what
`aebench restore` does on a whole image (`restore._pad_to`: reflection where the image is larger
than the padding on both sides, else edge replication). It is written with index tensors
(`index_select`), not `F.pad` and slicing, so that the exported graph (ONNX, TorchScript,
torch.export) holds no branch on the input's size: one graph serves every height and width.
Imports torch: loaded by `aebench.export` only.
"""
from __future__ import annotations

import torch


class AnySize(torch.nn.Module):
    def __init__(self, net: torch.nn.Module, multiple: int):
        super().__init__()
        self.net = net
        self.multiple = int(multiple)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        m = self.multiple
        i = torch.arange((h + m - 1) // m * m, device=x.device)
        j = torch.arange((w + m - 1) // m * m, device=x.device)
        # reflection (index k past the border reads 2(n-1)-k) where every padded index stays
        # inside the image, else edge replication, decided as a tensor: no Python branch
        ri = torch.where(i < h, i, 2 * (h - 1) - i)
        rj = torch.where(j < w, j, 2 * (w - 1) - j)
        reflect = (ri.min() >= 0) & (rj.min() >= 0)
        rows = torch.where(reflect, ri, i.clamp(max=h - 1))
        cols = torch.where(reflect, rj, j.clamp(max=w - 1))
        y = self.net(x.index_select(2, rows).index_select(3, cols))
        return y.index_select(2, torch.arange(h, device=x.device)) \
            .index_select(3, torch.arange(w, device=x.device))
