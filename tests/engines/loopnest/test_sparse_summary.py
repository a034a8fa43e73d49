"""zero_handling: the one-sentence account of what a sparse design does with zeros and which patterns it rewards."""

from __future__ import annotations

import pytest

import energysim
from energysim.engines import build_engine
from energysim.engines.loopnest.sparse_config import SparseConfig
from energysim.engines.loopnest.sparse_summary import zero_handling


@pytest.mark.parametrize(("design", "says"), [
    ("eyeriss-like-gating", ("gates PE weights reads where inputs are zero", "gates MACs where inputs are zero",
                             "only patterns that remove whole channels (smaller layers) save energy and time")),
    ("eyeriss-v2-like-skipping", ("skips MACs where weights or inputs are zero", "keeps weights csr in DRAM",
                                  "every zero weight saves energy and time")),
    ("sparse-tc-like-2-4", ("keeps weights 2:4 in DRAM", "2:4 pruning is what it rewards")),
])
def test_bundled_designs_say_what_they_reward(design: str, says: tuple[str, ...]) -> None:
    """Each bundled sparse design's sentence names its rules, formats and the patterns they reward."""
    text = zero_handling(build_engine(energysim.hardware(design)).config.sparse)
    for phrase in says:
        assert phrase in text, (phrase, text)


def test_sentence_follows_the_table_not_the_name() -> None:
    """A user's table gets its own sentence: gating on weights saves energy but keeps cycles; no rules says so."""
    gating = SparseConfig.model_validate({"actions": [{"kind": "gating", "unit": "MAC", "leaders": ["weights"]}]})
    assert zero_handling(gating) == ("gates MACs where weights are zero: every zero weight saves energy (gated work "
                                     "keeps its cycles), so fine-grained, N:M and structured pruning at the same "
                                     "sparsity save about alike; channel pruning also shrinks the layers")
    assert zero_handling(SparseConfig()).startswith("no gating, skipping or compression: ")
