"""CONTRIBUTING.md names only files that exist in the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_contributing_references_exist():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", text)
    paths = re.findall(r"(?<!No )`([\w./-]+\.(?:md|py|toml))`", text)  # "No `utils.py`" is a rule
    assert links, "CONTRIBUTING.md links to the conventions"
    missing = [p for p in links + paths if not (ROOT / p).exists()]
    assert not missing, missing
