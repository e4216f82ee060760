"""Slice pictures (microinv.figures.structures): files, layout and colours."""

import numpy as np
import pytest
from matplotlib.image import imread

from microinv.figures.structures import slices
from microinv.microstructure import spinodoid


def test_three_dimensional_structures_give_three_slices_each(tmp_path):
    stack = np.stack([spinodoid((0.2, 0.3, 0.4, 0.5), 16, s) for s in range(2)])
    path = slices(stack, tmp_path / "out" / "slices.png", titles=["a", "b"])
    image = imread(path)
    assert path.exists() and image.ndim == 3
    height, width = image.shape[:2]
    assert width / height == pytest.approx(3 / 2)   # three columns, two rows
    assert [p.name for p in path.parent.iterdir()] == ["slices.png"]  # no temporaries


def test_two_dimensional_pore_white_solid_dark(tmp_path):
    solid = np.zeros((20, 30), dtype=np.uint8)
    solid[:10] = 1                             # solid for x < 10: the left third
    image = imread(slices(solid, tmp_path / "one.png"))[..., :3]
    row = image[image.shape[0] // 2]
    bright = row.mean(axis=1)
    dark_columns = np.flatnonzero(bright < 0.3)
    white_columns = np.flatnonzero(bright > 0.95)
    assert dark_columns.size and white_columns.size
    # dark (solid) to the left of white (pore) inside the panel
    assert np.median(dark_columns) < np.median(white_columns[white_columns > dark_columns.min()])


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match="titles has 1 entries for 2 structures"):
        slices([np.zeros((4, 4)), np.zeros((5, 5))], tmp_path / "x.png", titles=["a"])
    with pytest.raises(ValueError, match=r"structures\[0\] must be 2D or 3D, got shape \(4,\)"):
        slices([np.zeros(4)], tmp_path / "x.png")
