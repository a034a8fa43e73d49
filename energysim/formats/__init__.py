"""Storage formats and mask statistics shared by the engines and the pruning engine.

:mod:`~energysim.formats.mask_stats` (non-zeros, density, load imbalance),
:mod:`~energysim.formats.nm_compliance` (distance of any mask from N:M),
:mod:`~energysim.formats.storage` (bits in dense, bitmap, CSR, CSC, N:M, and a
registry for further formats such as EIE's interleaved CSC).
"""
