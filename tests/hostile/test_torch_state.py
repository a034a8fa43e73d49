"""Odd but valid tensors in a torch state dict are imported, not silently dropped (issue 13, class 1)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from energysim.workloads.torch_import import import_torch_file  # noqa: E402


@pytest.mark.parametrize("convert", [lambda t: t.to_sparse(), lambda t: torch.quantize_per_tensor(t, 0.5, 0, torch.qint8)],
                         ids=["sparse_coo", "quantized"])
def test_sparse_and_quantized_weights_are_layers(convert, tmp_path):
    """A sparse COO or quantized fc1.weight becomes layer fc1 with the dense values (it used to vanish or trace back)."""
    weight = torch.arange(32, dtype=torch.float32).reshape(4, 8) / 2
    torch.save({"fc1.weight": convert(weight), "fc2.weight": torch.ones(2, 4)}, tmp_path / "m.pt")
    result = import_torch_file(tmp_path / "m.pt", tmp_path / "out")
    assert [layer.name for layer in result.workload.layers] == ["fc1", "fc2"]
    with np.load(tmp_path / "out" / "tensors.npz") as stored:
        np.testing.assert_array_equal(stored["fc1.weight"], weight.numpy())


def test_torch_logs_held_only_while_the_block_fails():
    """torch's log lines are dropped when the block raises (our one line says it) and handed on unchanged when it succeeds."""
    import logging

    from energysim.workloads.torch_trace import torch_logs_held

    logger = logging.getLogger("torch.export")
    reached: list[str] = []

    class Keep(logging.Handler):  # stands in for torch's stderr handler
        def emit(self, record):
            reached.append(record.getMessage())

    keep = Keep()
    logger.addHandler(keep)
    before = list(logger.handlers)
    try:
        with pytest.raises(ValueError), torch_logs_held() as held:
            logger.warning("failed load")
            raise ValueError("bad file")
        assert [r.getMessage() for r in held] == ["failed load"] and reached == []
        assert logger.handlers == before
        with torch_logs_held():
            logger.warning("fine load")
        assert reached == ["fine load"] and logger.handlers == before
    finally:
        logger.removeHandler(keep)
