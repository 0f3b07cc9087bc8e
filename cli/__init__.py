"""The ``detect`` command line: the only place that wires stages together, reads options and prints."""

import os

# Selective-search workers and data-loading processes share the cores with torch's OpenMP threads. OpenMP's default
# busy-waiting then collapses throughput (measured on a 2-core machine with one other busy process: a training step
# took 6-7 s instead of 0.3 s); passive waiting keeps it. Must be set before OpenMP starts; the user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
