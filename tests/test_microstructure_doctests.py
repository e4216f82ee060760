"""The Examples sections of the microstructure modules run and print what they show."""

import doctest
import importlib

import numpy as np
import pytest

MODULES = ["percolation", "spinodoid", "prior", "descriptors", "process"]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(f"microinv.microstructure.{name}")
    result = doctest.testmod(module, extraglobs={"np": np}, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
