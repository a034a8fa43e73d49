"""``python -m benchmarks``: the side-by-side benchmark table (:mod:`benchmarks.run_all`)."""

from benchmarks.run_all import main

main()
