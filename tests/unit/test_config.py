"""The file browser's settings: defaults, values, refusals."""

import pytest

from app.config import Settings


def test_files_budget_defaults_and_values():
    s = Settings.from_env({})
    assert (s.files_max_entries, s.files_max_mb) == (20_000, 256)
    s = Settings.from_env({"PERISCOPE_FILES_MAX_ENTRIES": "100_000", "PERISCOPE_FILES_MAX_MB": " 64 "})
    assert (s.files_max_entries, s.files_max_mb) == (100_000, 64)


@pytest.mark.parametrize("name, value", [
    ("PERISCOPE_FILES_MAX_ENTRIES", "5"), ("PERISCOPE_FILES_MAX_ENTRIES", "lots"),
    ("PERISCOPE_FILES_MAX_ENTRIES", "-1"), ("PERISCOPE_FILES_MAX_MB", "0"),
    ("PERISCOPE_FILES_MAX_MB", "1.5"), ("PERISCOPE_FILES_MAX_MB", "99999999"),
])
def test_files_budget_refuses_what_cannot_be_used(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})
