"""The hostile manifest corpus (Tests/corpus/hostile, written by
scripts/gen-hostile-corpus.py): each invalid manifest makes `berth validate`
exit 1, without a crash or a hang, printing exactly the lines of its
NNN-name.expected, each one error on one line with the user's text escaped.

    BERTH=.build/debug/berth /usr/bin/python3 -m pytest -q Tests/cli/test_hostile_corpus.py
"""
import os
import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BERTH = str((ROOT / os.environ.get("BERTH", ".build/debug/berth")).resolve())
HOSTILE = ROOT / "Tests" / "corpus" / "hostile"
CASES = sorted(p.name for p in HOSTILE.glob("*.yaml"))
HOST = ["--host", "node1", "--host-label", "role=web"]
ERROR_LINE = re.compile(r"^[^:]+:\d+:\d+: error: .+$")
# A case is a hang when validate takes longer than this (the largest case
# takes well under a second).
TIMEOUT = 20


def validate(name):
    return subprocess.run([BERTH, "validate", *HOST, name], cwd=HOSTILE, capture_output=True, timeout=TIMEOUT)


def test_the_corpus_has_at_least_200_numbered_cases():
    assert len(CASES) >= 200
    assert all(re.fullmatch(r"\d{3}-[a-z0-9-]+\.yaml", name) for name in CASES)
    numbers = [int(name[:3]) for name in CASES]
    assert numbers == list(range(1, len(CASES) + 1))


def escaped(line):
    """True when no character of the line could break it or hide text."""
    return not any(
        ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029" or unicodedata.category(c) == "Cf"
        for c in line)


@pytest.mark.parametrize("name", CASES)
def test_hostile_case_is_refused_with_its_expected_lines(name):
    result = validate(name)
    assert result.returncode == 1, result.stdout
    stderr = result.stderr.decode("utf-8")  # berth prints UTF-8, never raw bytes of the input
    assert "Fatal error" not in stderr and "Program crashed" not in stderr
    lines = stderr.splitlines()
    errors = [line for line in lines if ": error: " in line]
    assert errors, stderr
    for line in errors:
        assert ERROR_LINE.match(line) and escaped(line), repr(line)
    expected = (HOSTILE / name).with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert errors == expected


def test_every_case_says_what_is_wrong_on_its_first_line():
    for name in CASES:
        first = (HOSTILE / name).read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]
        assert first.startswith(b"# ") and len(first) > 5, name
