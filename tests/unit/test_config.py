"""Settings: the file browser's budget, the send timeout, and the README's table of them all."""

import re

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


def test_the_readme_table_lists_every_setting():
    """Settings is the one place configuration is read; the README's table
    names every variable it reads."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    read = set(re.findall(r'"((?:PERISCOPE|DOCKER)_[A-Z_]+)"', (root / "app/config.py").read_text()))
    table = "\n".join(line for line in (root / "README.md").read_text().splitlines()
                      if line.startswith("| `"))
    assert len(read) > 20
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert missing == []


def test_send_timeout_default_value_and_off():
    assert Settings.from_env({}).send_timeout == 30.0
    assert Settings.from_env({"PERISCOPE_SEND_TIMEOUT": "5"}).send_timeout == 5.0
    assert Settings.from_env({"PERISCOPE_SEND_TIMEOUT": "0"}).send_timeout == 0.0
    with pytest.raises(ValueError, match="PERISCOPE_SEND_TIMEOUT"):
        Settings.from_env({"PERISCOPE_SEND_TIMEOUT": "-1"})
