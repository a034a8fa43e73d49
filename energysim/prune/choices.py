"""The names the pruning commands offer, without the code behind them (so the command line starts without numpy).

Each tuple is the names of the registry that defines them, written out so that
building the parser imports none of those modules; ``tests/test_cli_startup.py``
pins each equal to its registry.
"""

MODEL_NAMES = ("cnn", "mlp", "resnet")
"""The keys of :data:`energysim.prune.models.MODEL_BUILDERS`, sorted."""
CRITERION_NAMES = ("apoz", "l1", "l2", "magnitude", "obd", "random", "regression", "slimming")
"""The keys of :data:`energysim.prune.registry.CRITERIA`, sorted."""
GRANULARITY_NAMES = ("fine", "fine_global", "nm", "vector", "kernel", "channel")
""":data:`energysim.prune.granularity.GRANULARITIES`, from finest to coarsest."""
ROUNDING_NAMES = ("exact", "torch")
""":data:`energysim.prune.granularity.ROUNDINGS`."""
SCHEDULE_NAMES = ("one_shot", "iterative", "gradual")
""":data:`energysim.prune.schedules.SCHEDULES`."""
