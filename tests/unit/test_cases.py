"""The case files in cases/ stay the verbatim copies that cases/PROVENANCE.md records."""

from __future__ import annotations

import hashlib
import re

from conftest import CASES


def test_case_files_match_their_recorded_sha256():
    table = (CASES / "PROVENANCE.md").read_text()
    recorded = dict(re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", table, re.M))
    assert set(recorded) == {
        "ioi.json",
        "code_completion.json",
        "code_completion_prompt.py",
        "long_code.json",
        "long_code_graphlib.py",
    }
    for name, digest in recorded.items():
        assert hashlib.sha256((CASES / name).read_bytes()).hexdigest() == digest, f"{name} differs from its copy"
