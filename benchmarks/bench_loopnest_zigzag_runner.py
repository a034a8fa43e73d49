"""Run ZigZag on prepared layer files; executed by ``bench_loopnest_zigzag.py`` inside ZigZag's own venv.

Usage (from the benchmark, never by hand): ``python bench_loopnest_zigzag_runner.py JOB.json``.
``JOB.json`` holds ``folder``, ``accelerator`` and ``mapping`` (ZigZag's accelerator and
mapping documents), ``opt`` (``energy``, ``latency`` or ``EDP``), ``lpf_limit``,
``spatial_mappings`` and ``layers``: a list of ``{"name": ..., "workload": [...]}``, one
ZigZag workload document per layer. The runner writes each document as a YAML file
into ``folder`` (``accelerator.yaml``, ``mapping.yaml``, ``workload-NAME.yaml``) and runs
ZigZag on those files.

Prints one JSON document on stdout: per layer the total energy (pJ), the MAC energy
(pJ), the memory energy per (memory level, operand) (pJ), the latency (cycles) and
the wall and CPU time of ZigZag's search for that layer (s). Only the standard library,
PyYAML and ZigZag are imported, so the script runs in ZigZag's venv without energysim.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import yaml


def write_yaml(folder: Path, name: str, document) -> str:
    """Write ``document`` as ``folder/name`` in YAML; return the path."""
    path = folder / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return str(path)


def run_layer(layer: dict, job: dict, files: dict[str, str], dump_folder: str) -> dict:
    """Search and evaluate one layer with ZigZag's API; return its energy breakdown and wall time."""
    from zigzag.api import get_hardware_performance_zigzag

    workload = write_yaml(Path(job["folder"]), f"workload-{layer['name']}.yaml", layer["workload"])
    start, cpu = time.perf_counter(), time.process_time()
    energy_pj, latency_cycles, cmes = get_hardware_performance_zigzag(
        workload=workload,
        accelerator=files["accelerator"],
        mapping=files["mapping"],
        opt=job["opt"],
        dump_folder=dump_folder,
        lpf_limit=job["lpf_limit"],
        nb_spatial_mappings_generated=job["spatial_mappings"],
        loma_show_progress_bar=False,
    )
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    cme = cmes[0][1][0][0] if isinstance(cmes[0][1], list) else cmes[0][0]
    hierarchy = cme.accelerator.memory_hierarchy
    levels = []
    for layer_op, energies in cme.mem_energy_breakdown.items():
        mem_op = cme.memory_operand_links.layer_to_mem_op(layer_op)
        memories = hierarchy.get_memory_levels(mem_op)
        for memory, energy in zip(memories, energies):
            levels.append({"level": memory.name, "operand": str(layer_op), "energy_pj": float(energy)})
    return {
        "name": layer["name"],
        "energy_pj": float(energy_pj),
        "mac_energy_pj": float(cme.mac_energy),
        "levels": levels,
        "latency_cycles": float(latency_cycles),
        "spatial_mapping": str(cme.spatial_mapping),
        "temporal_mapping": str(cme.temporal_mapping),
        "wall_s": seconds,
        "cpu_s": cpu_seconds,
    }


def main(path: str) -> None:
    """Run every layer of the job and print the results as JSON."""
    logging.disable(logging.CRITICAL)
    with open(path, encoding="utf-8") as handle:
        job = json.load(handle)
    folder = Path(job["folder"])
    files = {
        "accelerator": write_yaml(folder, "accelerator.yaml", job["accelerator"]),
        "mapping": write_yaml(folder, "mapping.yaml", job["mapping"]),
    }
    results = []
    with tempfile.TemporaryDirectory() as dump_folder:
        for layer in job["layers"]:
            results.append(run_layer(layer, job, files, dump_folder))
    json.dump({"layers": results}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
