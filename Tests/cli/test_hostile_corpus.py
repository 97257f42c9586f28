"""The hostile manifest corpus (Tests/corpus/hostile, written by
scripts/gen-hostile-corpus.py): each invalid manifest makes `berth validate`
exit 1, without a crash or a hang, printing exactly the lines of its
NNN-name.expected, each one error on one line with the user's text escaped.
Also: the README's hostile-input table matches the corpus and the last
`make fuzz` run (fuzz/last-run.txt).

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
    # Past the first hundred, the rest are counted, not printed.
    if len(errors) == 100:
        assert re.fullmatch(r"\.\.\. and \d+ more errors not shown \(-o json lists every one\)", lines[-2]), lines[-2:]


def test_every_case_says_what_is_wrong_on_its_first_line():
    for name in CASES:
        first = (HOSTILE / name).read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]
        assert first.startswith(b"# ") and len(first) > 5, name


# --- the README's hostile-input table ------------------------------------------

def readme_table():
    text = (ROOT / "README.md").read_text()
    section = text.split("### Hostile input", 1)[1]
    rows = {}
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("| ") and not line.startswith("| ---") and not line.startswith("| input"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def number(cell):
    return int(cell.split()[0].replace(",", ""))


def test_readme_table_counts_the_hostile_corpus():
    rows = readme_table()
    assert number(rows["hostile manifests (`Tests/corpus/hostile`)"][0]) == len(CASES)
    corpus = ROOT / "Tests" / "ManifestTests" / "Corpus"
    invalid = len(list(corpus.glob("invalid*/*.yaml")))
    assert number(rows["golden invalid manifests (`Tests/ManifestTests/Corpus`)"][0]) == invalid


def test_readme_table_has_the_last_fuzz_run():
    rows = readme_table()
    runs = dict(line.split() for line in (ROOT / "fuzz" / "last-run.txt").read_text().splitlines())
    for target in ("manifest", "netlink"):
        row = rows[f"libFuzzer `{target}` (`make fuzz`)"]
        assert number(row[0]) == int(runs[target]) >= 1_000_000


def test_readme_table_counts_the_escapes_tried():
    """The escape suite's row counts the rows of the "Escapes tried" table,
    which EscapeTests writes."""
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- escapes:", 1)[1].split("<!-- end escapes -->", 1)[0]
    tried = [line for line in table.splitlines()[1:] if line.startswith("| ")][2:]
    row = readme_table()['escape suite (`HostKernelTests.EscapeTests`, "Escapes tried" above)']
    assert number(row[0]) == len(tried) > 0


def test_readme_table_reports_no_crash_hang_or_escape():
    """A row with figures says 0 crashes and 0 hangs, and 0 escapes or none
    tried (—); a row of a suite not there yet has no figures at all."""
    for name, cells in readme_table().items():
        if cells[0][0].isdigit():
            assert cells[1:3] == ["0", "0"] and cells[3] in ("0", "—"), (name, cells)
        else:
            assert cells[1:] == ["—", "—", "—"], (name, cells)
