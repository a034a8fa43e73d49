"""What a sparse loop-nest design does with zeros, in one sentence, and which pruning patterns that rewards.

For reports and compare findings: the sentence is built from the design's
``[engine.sparse]`` table (its gating and skipping rules and its formats), never from
a list of known designs, so a user's own file gets its own sentence.
"""

from __future__ import annotations

from energysim.engines.loopnest.sparse_config import SparseConfig


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def zero_handling(config: SparseConfig) -> str:
    """One sentence: the design's gating and skipping rules, its compressed formats, and the patterns they reward.

    Examples
    --------
    eyeriss-like-gating: "gates PE weights reads where inputs are zero; gates MACs where inputs are zero;
    keeps inputs rle in DRAM: zero weights are still read and multiplied, so only patterns that remove
    whole channels (smaller layers) save energy and time"
    """
    parts = []
    for rule in config.actions:
        verb = "gates" if rule.kind == "gating" else "skips"
        what = "MACs" if rule.unit is not None else f"{rule.level} {rule.target} reads"
        parts.append(f"{verb} {what} where {_joined(rule.leaders)} are zero")
    for fmt in config.formats:
        if fmt.compressed:
            kind = f"{fmt.n}:{fmt.m}" if fmt.format == "nm" else fmt.format
            parts.append(f"keeps {fmt.tensor} {kind} in {fmt.level}")
    text = "; ".join(parts) if parts else "no gating, skipping or compression"
    return f"{text}: {rewards(config)}"


def rewards(config: SparseConfig) -> str:
    """Which pruning patterns the design's rules turn into savings (energy and time)."""
    on_weights = [rule for rule in config.actions if "weights" in rule.leaders]
    skips_weights = any(rule.kind == "skipping" for rule in on_weights)
    structured = [fmt for fmt in config.formats if fmt.tensor == "weights" and fmt.format == "nm"]
    weights_compressed = any(fmt.tensor == "weights" and fmt.compressed and fmt.format != "nm" for fmt in config.formats)
    if structured:
        fmt = structured[0]
        return (f"weights are stored {fmt.n}:{fmt.m} whatever their values, so {fmt.n}:{fmt.m} pruning is what it "
                "rewards; finer or other patterns save nothing more")
    if on_weights:
        time = "energy and time" if skips_weights else "energy (gated work keeps its cycles)"
        return (f"every zero weight saves {time}, so fine-grained, N:M and structured pruning at the same sparsity "
                "save about alike; channel pruning also shrinks the layers")
    if weights_compressed:
        return ("zero weights are stored compressed but still multiplied: weight pruning saves storage and traffic, "
                "not MACs; channel pruning also shrinks the layers")
    return ("zero weights are still read and multiplied, so only patterns that remove whole channels (smaller "
            "layers) save energy and time")
