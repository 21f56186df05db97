"""The committed type stubs (``losskit/*.pyi``, for editors that read code rather than run it)
are what ``python -m losskit._stubs`` generates from the catalogue now."""

from pathlib import Path

import losskit
import losskit.torch
import pytest
from losskit import _stubs

SOURCE = Path(__file__).resolve().parents[1] / "python" / "losskit"


@pytest.mark.parametrize("rel", sorted(_stubs.stubs()))
def test_committed_stubs_are_current(rel):
    committed = SOURCE / rel
    assert committed.is_file(), f"{committed} is missing: run `python -m losskit._stubs {SOURCE}`"
    assert committed.read_text() == _stubs.stubs()[rel], (
        f"{committed} is stale: run `python -m losskit._stubs {SOURCE}` and commit the result"
    )


def test_the_stubs_name_every_generated_function():
    text = _stubs.stubs()
    for entry in losskit.catalogue():
        assert f"\ndef {entry['name']}(" in text["__init__.pyi"]
        assert f"\ndef {entry['name']}(" in text["torch/__init__.pyi"]
    for alias in losskit.torch.ALIASES:
        assert f"\ndef {alias}(" in text["torch/__init__.pyi"]
    assert "\nclass CrossEntropyLoss(torch.nn.Module):" in text["torch/nn.pyi"]
