"""What `energysim run` prints per layer."""

from __future__ import annotations

import io

import pandas as pd

from energysim.cli import _on_chip_words, main


def test_weights_on_chip_names_what_does_not_fit():
    """'no' names the tensor and level that overflow (EIE's VGG-6: only its pointers, metadata>PtrSRAM)."""
    summary = pd.DataFrame({"weights_on_chip": [True, False, False, None], "spilled": ["", "metadata>PtrSRAM", "", ""]})
    assert list(_on_chip_words(summary)["weights_on_chip"]) == ["yes", "no: metadata>PtrSRAM", "no", ""]
    out = io.StringIO()
    assert main(["run", "lecture-array", "lenet-300-100", "--quiet"], out=out) == 0
    fc1 = next(line for line in out.getvalue().splitlines() if line.startswith("fc1 "))
    assert "no: weights>GlobalBuffer" in fc1


def test_loopnest_weights_on_chip_says_tiles_fit():
    """A loop-nest row reads 'tiles fit', not 'yes': VGG-16 fc6's weights stream through lecture-array-loopnest's buffer."""
    summary = pd.DataFrame({"weights_on_chip": [True, True], "spilled": ["", ""], "engine": ["loopnest", "dense"]})
    assert list(_on_chip_words(summary)["weights_on_chip"]) == ["tiles fit", "yes"]
    out = io.StringIO()
    assert main(["run", "lecture-array-loopnest", "lenet-300-100", "--mapping", "default", "--quiet"], out=out) == 0
    fc1 = next(line for line in out.getvalue().splitlines() if line.startswith("fc1 "))
    assert "tiles fit" in fc1 and " yes " not in fc1
