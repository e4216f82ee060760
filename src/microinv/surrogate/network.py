"""The CNN that maps a 3D or 2D voxel structure to its property target along axis 0.

Reference architecture (DESIGN.md, "Surrogate"): the binary structure s (1 = solid) of
N^dim voxels is downsampled by 2^dim block summation (2x2x2 in 3D, 2x2 in 2D) to values
0..2^dim and rescaled to x = sum / 2^dim - 1/2 in [-1/2, 1/2]; then ``len(conv_widths)``
blocks of ``convs_per_block`` 3^dim convolutions and one 2^dim average pool each (32, 48,
64 filters), and fully connected layers (256, 192, 128, 64) to one linear output, the
target along the first array axis (logit(eta), or log10 k: :mod:`microinv.surrogate.targets`).
ELU follows every layer except the last. The input side N must be divisible by
2 ** (len(conv_widths) + 1); the flattened size,
``conv_widths[-1] * (N / 2 ** (depth + 1)) ** dim``, fixes the network to the N it was built for.

Convolutions pad circularly by default: the structures are periodic, so the voxels across
a face of the cell are the true neighbours of those at the face. Weights start from He
(Kaiming) normal initialisation with zero biases, as for the ELU networks of Clevert et al.
(2016): with PyTorch's default initialisation the signal shrinks through the eight
convolutions and pools, and training first stalls at the mean of the targets.

:class:`EnsembleNet` holds M such networks (a deep ensemble, Lakshminarayanan et al. 2017),
initialised one after the other from the torch generator, so each starts from other weights.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

CONV_WIDTHS = (32, 48, 64)
FC_WIDTHS = (256, 192, 128, 64)


#: Convolution, average pool and pooling function per dimension.
LAYERS = {2: (nn.Conv2d, nn.AvgPool2d, F.avg_pool2d), 3: (nn.Conv3d, nn.AvgPool3d, F.avg_pool3d)}


def downsample(solid: torch.Tensor) -> torch.Tensor:
    """2^dim block summation rescaled to [-1/2, 1/2]: ``sum / 2^dim - 1/2`` of each block.

    solid : (B, N, N, N) or (B, N, N) tensor of 0/1 (any dtype) -> (B, 1, N/2, ...) float32.
    """
    return LAYERS[solid.ndim - 1][2](solid.unsqueeze(1).float(), kernel_size=2) - 0.5


class SurrogateNet(nn.Module):
    """Plain CNN: (B, N, ..., N) voxel structures -> (B,) target along axis 0.

    Parameters
    ----------
    n : int
        Voxels per side of the full-resolution input.
    dim : {2, 3}
        Dimension of the structures (Conv2d or Conv3d).
    conv_widths : sequence of int
        Filters of each convolution block; one 2x2x2 average pool per block.
    fc_widths : sequence of int
        Hidden fully connected layers; a last layer of width 1 follows.
    convs_per_block : int
        3^dim convolutions per block.
    padding_mode : {"circular", "zeros"}
        Padding of the convolutions.
    """

    def __init__(self, n: int, *, dim: int = 3, conv_widths=CONV_WIDTHS, fc_widths=FC_WIDTHS,
                 convs_per_block: int = 2, padding_mode: str = "circular"):
        super().__init__()
        if dim not in LAYERS:
            raise ValueError(f"dim={dim}: the surrogate takes 2D or 3D structures")
        factor = 2 ** (len(conv_widths) + 1)
        if n % factor or n < factor:
            block = "x".join("2" * dim)
            raise ValueError(f"n={n}: the input side must be a positive multiple of {factor} "
                             f"({block} downsampling and {len(conv_widths)} pooling blocks of "
                             f"surrogate.conv_widths={list(conv_widths)}); use fewer conv blocks or "
                             f"n = {-(-n // factor) * factor}")
        if convs_per_block < 1 or not conv_widths or min(conv_widths) < 1 or min(fc_widths, default=1) < 1:
            raise ValueError(f"widths and convs_per_block must be positive, got conv_widths={conv_widths}, "
                             f"fc_widths={fc_widths}, convs_per_block={convs_per_block}")
        self.n, self.dim = n, dim
        conv, pool, _ = LAYERS[dim]
        layers, channels = [], 1
        for width in conv_widths:
            for _ in range(convs_per_block):
                layers += [conv(channels, width, 3, padding=1, padding_mode=padding_mode), nn.ELU()]
                channels = width
            layers.append(pool(2))
        self.features = nn.Sequential(*layers)
        fc, size = [nn.Flatten()], channels * (n // factor) ** dim
        for width in fc_widths:
            fc += [nn.Linear(size, width), nn.ELU()]
            size = width
        fc.append(nn.Linear(size, 1))
        self.head = nn.Sequential(*fc)
        for layer in self.modules():
            if isinstance(layer, (nn.Conv2d, nn.Conv3d, nn.Linear)):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def forward(self, solid: torch.Tensor) -> torch.Tensor:
        """solid : (B, N, ..., N) 0/1 tensor -> (B,) target along axis 0."""
        if solid.shape[1:] != (self.n,) * self.dim:
            raise ValueError(f"expected structures of shape (B, {', '.join([str(self.n)] * self.dim)}), "
                             f"got {tuple(solid.shape)}")
        return self.head(self.features(downsample(solid))).squeeze(1)


class EnsembleNet(nn.Module):
    """M independently initialised :class:`SurrogateNet` members: structures -> (M, B) targets.

    Parameters
    ----------
    n : int
        Voxels per side of the full-resolution input.
    dim : {2, 3}
        Dimension of the structures.
    members : int
        Ensemble size M (1: a single network).
    **net_options
        ``conv_widths``, ``fc_widths``, ``convs_per_block``, ``padding_mode`` of every member.
    """

    def __init__(self, n: int, *, dim: int = 3, members: int = 1, **net_options):
        super().__init__()
        if members < 1:
            raise ValueError(f"ensemble must be a positive number of members, got {members}")
        self.n, self.dim = n, dim
        self.members = nn.ModuleList(SurrogateNet(n, dim=dim, **net_options) for _ in range(members))

    def forward(self, solid: torch.Tensor) -> torch.Tensor:
        """Targets along axis 0 predicted by each member, (M, B).

        solid : (B, N, ..., N) 0/1 tensor, the same structures for every member, or
        (B, M, N, ..., N), structure ``solid[:, m]`` for member m (training, where each
        member draws its own samples).
        """
        if solid.ndim == self.dim + 2:
            return torch.stack([net(solid[:, m]) for m, net in enumerate(self.members)])
        return torch.stack([net(solid) for net in self.members])
