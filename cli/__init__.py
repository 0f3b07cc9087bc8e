"""The ``detect`` command line: the only place that wires stages together, reads options and prints."""
