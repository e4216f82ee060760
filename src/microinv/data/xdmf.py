"""XDMF descriptions of voxel structures, so ParaView opens structures chunks and datasets
as they are, without conversion.

``write_xdmf("structures/chunk-0000.h5")`` writes ``structures/chunk-0000.xdmf`` beside it:
a temporal collection of one uniform grid per structure (``3DCoRectMesh`` of N^3 unit
voxels, ``2DCoRectMesh`` in 2D), whose cell attribute ``solid`` (1 = solid, 0 = pore) is a
hyperslab of the HDF5 ``structures`` dataset, read in place (HDF5 decompresses it). The
"time" of each grid is its global sample index, so ParaView's time control steps through
the structures; each grid carries the sample's index, seed and theta as Information.

Axes: XDMF lists dimensions slowest first and ParaView draws the fastest-varying array
axis along its X. microinv arrays are (x, y, z) in C order, so ParaView's X, Y, Z are
microinv's z, y, x (a reflection; volumes, porosity and connectivity are unaffected).
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from microinv.data.atomic import atomic_path
from microinv.data.chunks import open_h5

#: XDMF number types of the structure dtypes we store.
_NUMBER_TYPES = {"u1": ("UChar", 1), "i1": ("Char", 1), "f8": ("Float", 8), "f4": ("Float", 4)}


def write_xdmf(h5_path, xdmf_path=None) -> Path:
    """Write the XDMF description of the ``structures`` of ``h5_path``.

    Parameters
    ----------
    h5_path : path-like
        Structures chunk or dataset (HDF5) with ``structures`` (S, N, N[, N]) and
        ``sample_index`` (S,); ``seed`` and ``theta`` are described when present.
    xdmf_path : path-like, optional
        Output file; default ``h5_path`` with suffix ``.xdmf``. It refers to the HDF5
        file by a path relative to its own folder, so keep the two together.

    Returns
    -------
    pathlib.Path
        The XDMF file written.
    """
    h5_path = Path(h5_path)
    xdmf_path = Path(xdmf_path) if xdmf_path else h5_path.with_suffix(".xdmf")
    with open_h5(h5_path, required=("structures", "sample_index"), what="structures file") as fh:
        data = fh["structures"]
        shape, dtype = data.shape, data.dtype.str.lstrip("<>|=")
        index = fh["sample_index"][()]
        seed = fh["seed"][()] if "seed" in fh else None
        theta = fh["theta"][()] if "theta" in fh else None
    source = Path(_relpath(h5_path, xdmf_path.parent)).as_posix()
    grids = [_grid(row, shape, dtype, source, int(index[row]),
                   None if seed is None else int(seed[row]),
                   None if theta is None else theta[row]) for row in range(shape[0])]
    text = "\n".join([
        '<?xml version="1.0" ?>',
        '<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>',
        '<Xdmf Version="2.0">',
        " <Domain>",
        f"  <!-- microinv structures of {source}: one grid per sample, time = sample index;",
        "       ParaView's X, Y, Z axes are microinv's z, y, x. -->",
        f'  <Grid Name={quoteattr(h5_path.stem)} GridType="Collection" CollectionType="Temporal">',
        *grids,
        "  </Grid>",
        " </Domain>",
        "</Xdmf>",
        "",
    ])
    with atomic_path(xdmf_path) as tmp:
        tmp.write_text(text)
    return xdmf_path


def _relpath(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def _grid(row, shape, dtype, source, sample, seed, theta) -> str:
    """One uniform grid: the structure in row ``row`` as cell data of unit voxels."""
    count, cells = shape[0], shape[1:]
    dim = len(cells)
    number_type, precision = _NUMBER_TYPES.get(dtype, ("UChar", 1))
    points = " ".join(str(n + 1) for n in cells)
    cell_dims = " ".join(map(str, cells))
    zeros, ones = " ".join(["0"] * dim), " ".join(["1"] * dim)
    topology = {3: "3DCoRectMesh", 2: "2DCoRectMesh"}[dim]
    geometry = {3: "ORIGIN_DXDYDZ", 2: "ORIGIN_DXDY"}[dim]
    slab = f"{row} {zeros} 1 {ones} 1 {cell_dims}"
    info = [f'    <Information Name="sample_index" Value="{sample}"/>']
    if seed is not None:
        info.append(f'    <Information Name="seed" Value="{seed}"/>')
    if theta is not None:
        info.append(f'    <Information Name="theta" Value="{" ".join(repr(float(t)) for t in np.ravel(theta))}"/>')
    return "\n".join([
        f'   <Grid Name="sample {sample}" GridType="Uniform">',
        f'    <Time Value="{sample}"/>',
        *info,
        f'    <Topology TopologyType="{topology}" Dimensions="{points}"/>',
        f'    <Geometry GeometryType="{geometry}">',
        f'     <DataItem Dimensions="{dim}" NumberType="Float" Precision="8" Format="XML">{zeros}</DataItem>',
        f'     <DataItem Dimensions="{dim}" NumberType="Float" Precision="8" Format="XML">{ones}</DataItem>',
        "    </Geometry>",
        '    <Attribute Name="solid" AttributeType="Scalar" Center="Cell">',
        f'     <DataItem ItemType="HyperSlab" Dimensions="{cell_dims}" Type="HyperSlab">',
        f'      <DataItem Dimensions="3 {dim + 1}" Format="XML">{slab}</DataItem>',
        f'      <DataItem Dimensions="{count} {cell_dims}" NumberType="{number_type}" '
        f'Precision="{precision}" Format="HDF">{source}:/structures</DataItem>',
        "     </DataItem>",
        "    </Attribute>",
        "   </Grid>",
    ])
