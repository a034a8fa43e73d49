"""Small result tables in the documented file formats (summary, energy, compare, sensitivity), for the report tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

LAYERS = ("fc1", "fc2", "fc3")
COMPONENTS = ("DRAM", "GlobalBuffer", "RegFile", "MAC")


def summary_frame() -> pd.DataFrame:
    """summary.csv rows: 3 layers x (dense, pruned) on one dense array; pruned is 2.5x faster and cheaper."""
    rows = []
    for variant, scale in (("dense", 1.0), ("pruned", 0.4)):
        for i, layer in enumerate(LAYERS):
            cycles = int((3 - i) * 1000 * scale)
            energy_pj = (3 - i) * 1e6 * scale
            rows.append({"layer": layer, "workload": "mlp", "hardware": "lecture-array", "mode": "", "run": "lecture-array",
                         "engine": "dense", "macs": (3 - i) * 10_000,
                         "cycles_compute": cycles - 100, "cycles_fill_drain": 100, "cycles_stall": 0, "cycles_total": cycles,
                         "latency_s": cycles * 1e-9, "utilisation": 0.5, "energy_pj": energy_pj, "energy_uj": energy_pj / 1e6,
                         "variant": variant})
    return pd.DataFrame(rows)


def energy_frame() -> pd.DataFrame:
    """energy.csv rows: per layer and variant, one weights-read row per component; sources name the lecture table."""
    rows = []
    for variant, scale in (("dense", 1.0), ("pruned", 0.4)):
        for i, layer in enumerate(LAYERS):
            for j, (component, pj) in enumerate(zip(COMPONENTS, (640.0, 5.0, 1.0, 3.7))):
                count = int((3 - i) * 100 * scale * (4 - j))
                rows.append({"layer": layer, "workload": "mlp", "hardware": "lecture-array", "mode": "", "run": "lecture-array",
                             "engine": "dense", "component": component, "tensor": "weights" if j < 3 else "-",
                             "action": "read" if j < 3 else "mac", "energy_kind": "dynamic", "count": count,
                             "pj_per_action": pj, "energy_pj": count * pj, "source": f"lecture-45nm: {component} <cost>",
                             "variant": variant})
    return pd.DataFrame(rows)


def compare_frame() -> pd.DataFrame:
    """compare.csv rows: 2 patterns x 3 sparsities x 2 hardware, plus one point the 2:4 core (run a100:sparse_2_4) cannot run."""
    rows = []
    accuracy = {("unstructured", 0.5): 0.97, ("unstructured", 0.75): 0.96, ("unstructured", 0.9): 0.90,
                ("channel", 0.5): 0.95, ("channel", 0.75): 0.88, ("channel", 0.9): 0.70}
    for hardware, engine, gain in (("lecture-array", "dense", {"unstructured": 0.0, "channel": 1.0}),
                                   ("eie-lecture", "eie", {"unstructured": 1.0, "channel": 1.0})):
        for (pattern, sparsity), acc in accuracy.items():
            ratio = 1.0 - gain[pattern] * sparsity
            rows.append({"model": "mlp", "workload": "mlp", "pattern": pattern, "criterion": "magnitude_l1",
                         "sparsity_target": sparsity, "sparsity_measured": sparsity + 0.001, "hardware": hardware, "mode": "",
                         "run": hardware, "engine": engine, "status": "ok",
                         "accuracy": acc, "energy_pj": 1e8 * ratio, "energy_uj": 100 * ratio, "latency_s": 2e-5 * ratio,
                         "cycles_total": int(2e4 * ratio), "storage_bits": int(8e6 * ratio),
                         "energy_vs_dense": ratio, "latency_vs_dense": ratio})
    rows.append({"model": "mlp", "workload": "mlp", "pattern": "unstructured", "criterion": "magnitude_l1", "sparsity_target": 0.5,
                 "sparsity_measured": 0.501, "hardware": "a100", "mode": "sparse_2_4", "run": "a100:sparse_2_4",
                 "engine": "sparse_tc", "status": "mask is not 2:4 (<script>alert(1)</script>)", "accuracy": 0.97,
                 "energy_pj": np.nan, "energy_uj": np.nan, "latency_s": np.nan, "cycles_total": np.nan, "storage_bits": np.nan,
                 "energy_vs_dense": np.nan, "latency_vs_dense": np.nan})
    return pd.DataFrame(rows)


def sensitivity_frame() -> pd.DataFrame:
    """sensitivity.csv rows: 3 layers x 4 sparsities; fc1 is the least sensitive."""
    rows = []
    for i, layer in enumerate(LAYERS):
        for sparsity in (0.0, 0.5, 0.8, 0.95):
            rows.append({"model": "mlp", "layer": layer, "sparsity": sparsity, "accuracy": 0.97 - (i + 1) * 0.1 * sparsity ** 2})
    return pd.DataFrame(rows)


def write_results(folder, files=("summary.csv", "energy.csv", "compare.csv", "sensitivity.csv")):
    """Write the chosen fixture tables into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = {"summary.csv": summary_frame, "energy.csv": energy_frame, "compare.csv": compare_frame,
              "sensitivity.csv": sensitivity_frame}
    for name in files:
        frames[name]().to_csv(folder / name, index=False)
    return folder


A100_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")


def two_mode_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """summary and energy of one workload on two modes of one hardware (a100:dense, a100:sparse_2_4), 8 layers each.

    Every layer costs 10 uJ dense: 2 uJ of HBM reads and 8 uJ of SM static_cycle. The pruned
    variant costs the same in dense mode and 0.6 of it in 2:4 mode; latency is 1 us per
    layer dense and 0.6 us pruned in 2:4 mode.
    """
    summary, energy = [], []
    for mode in ("dense", "sparse_2_4"):
        for variant in ("dense", "pruned"):
            scale = 0.6 if (mode, variant) == ("sparse_2_4", "pruned") else 1.0
            key = {"workload": "alexnet", "hardware": "a100", "mode": mode, "run": f"a100:{mode}", "engine": "sparse_tc",
                   "variant": variant}
            for layer in A100_LAYERS:
                summary.append({"layer": layer, **key, "macs": 1000, "cycles_total": int(1410 * scale), "latency_s": 1e-6 * scale,
                                "utilisation": 0.5, "energy_pj": 1e7 * scale, "energy_uj": 10 * scale})
                for component, action, kind, pj in (("HBM", "read", "dynamic", 2e6), ("SM", "static_cycle", "static", 8e6)):
                    energy.append({"layer": layer, **key, "component": component, "tensor": "weights" if kind == "dynamic" else "-",
                                   "action": action, "energy_kind": kind, "count": 1000, "pj_per_action": pj * scale / 1000,
                                   "energy_pj": pj * scale, "source": f"a100.toml: {component}.{action}"})
    return pd.DataFrame(summary), pd.DataFrame(energy)


def write_two_modes(folder):
    """Write the two-mode summary.csv and energy.csv into ``folder`` (created) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    summary, energy = two_mode_frames()
    summary.to_csv(folder / "summary.csv", index=False)
    energy.to_csv(folder / "energy.csv", index=False)
    return folder
