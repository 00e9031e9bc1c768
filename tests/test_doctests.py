"""Every module's docstring examples run (those marked ``+SKIP`` need a provider or a model)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import dejacache
import pytest

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(dejacache.__path__, "dejacache.")
    if info.name != "dejacache._core" and not info.name.startswith("dejacache._models")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, extraglobs={"dejacache": dejacache})
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
