"""A listed image that is not there is skipped with the system's words, as `detect run` says it, not with Python's
exception class in front (trial 47: "skipped FileNotFoundError: /x/missing.png: No such file or directory")."""
from proposals.selective_search import SelectiveSearchConfig, selective_search_many


def test_missing_file_error_has_no_exception_class_name(tmp_path):
    missing = tmp_path / "missing.png"
    (r,) = list(selective_search_many([str(missing)], SelectiveSearchConfig(), workers=0))
    assert r.error == f"{missing}: No such file or directory", r.error
