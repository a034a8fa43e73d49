"""energysim: what does pruning a neural network buy in energy and latency on real hardware?"""

__version__ = "0.1.0"
