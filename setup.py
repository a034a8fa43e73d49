"""Package layout: the code under ``energysim/``, plus the top-level ``hwconfigs/`` and
``workloads/`` folders mapped into ``energysim.bundled`` (everything else is in pyproject.toml)."""

from setuptools import find_namespace_packages, setup

BUNDLED = {
    "energysim.bundled.hwconfigs": "hwconfigs",
    "energysim.bundled.workloads": "workloads",
    "energysim.bundled.workloads.pruned": "workloads/pruned",
}

setup(
    packages=find_namespace_packages(include=["energysim", "energysim.*"]) + list(BUNDLED),
    package_dir=BUNDLED,
)
