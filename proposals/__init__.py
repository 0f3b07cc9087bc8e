"""Region proposals: selective search, MultiBox, and their merge."""
