"""README's "What works today" never claims more than the field contract.

Run from the repository root: /usr/bin/python3 -m pytest -q Tests/schema

docs/manifests.md ("Field contract") classes every field; a `refused` field is
one berth does not enforce yet, and its row quotes validate's message
(`validate: "disk quotas are not supported yet"`). The feature that message names
may appear in README's table only in its `next` row, and in the opening
paragraphs only in a sentence that says it is next; every live or restart field's group (`spec.resources`,
`spec.firewall`, ...) is named by the contract and tested elsewhere
(test_contract_coverage.py).
"""

import pathlib
import re

from test_field_contract import contract

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
REFUSAL = re.compile(r'validate: "(?P<subject>.+?) (?:is|are) not supported yet"')


def works_today():
    """{area: state} from README's table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## What works today", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0] not in ("area", "") and not set(cells[0]) <= set("-: "):
            rows[cells[0]] = "|".join(cells[1:])
    return rows


def opening():
    """README before its first section: what a visitor reads first."""
    return README.read_text(encoding="utf-8").split("\n## ", 1)[0]


def refused_features():
    """The features validate refuses, as its messages name them ("disk quota")."""
    features = set()
    for kind in ("Container", "Network"):
        for path, (klass, where) in contract(kind).items():
            if klass != "refused":
                continue
            match = REFUSAL.search(where)
            assert match, f"{path}: a refused row quotes validate's message ('... are not supported yet'): {where}"
            features.add(match["subject"].rstrip("s"))
    return features


def test_the_table_has_a_next_row():
    assert "next" in works_today()


def test_a_refused_feature_is_claimed_only_as_next():
    rows = works_today()
    # Empty when the contract refuses nothing (every field is enforced).
    features = refused_features()
    for feature in features:
        assert feature.lower() in rows["next"].lower(), f"'{feature}' is refused but not listed as next"
        for area, state in rows.items():
            if area != "next":
                assert feature.lower() not in (area + " " + state).lower(), f"README claims '{feature}' under '{area}'"
        for sentence in re.split(r"[.;]\s", " ".join(opening().split())):
            if feature.lower() in sentence.lower():
                assert "next" in sentence, f"README's opening claims '{feature}': {sentence}"


# What a row of the table claims, in its own words, and the contract fields
# that make each claim true: a claimed field must be live (or restart, where
# the row says "at restart"), never refused or missing from the contract.
CLAIMS = {
    "resources": {
        "cpu weight": ["spec.resources.cpu.weight"],
        "limit (down to 1m)": ["spec.resources.cpu.limit"],
        "set": ["spec.resources.cpu.cpus"],
        "memory max/high/swap": ["spec.resources.memory.max", "spec.resources.memory.high", "spec.resources.memory.swap"],
        "pids": ["spec.resources.pids.max"],
        "io weight and limits": ["spec.resources.io.weight", "spec.resources.io.limits[].device"],
        "a disk quota": ["spec.resources.disk.size"],
    },
}


def contract_field(path):
    """The contract's class of `path` (a Container field, else a Network one, or the first row under it)."""
    for kind in ("Container", "Network"):
        rows = contract(kind)
        if path in rows:
            return rows[path][0]
        under = [klass for row, (klass, _) in rows.items() if row.startswith(path + ".") or row.startswith(path + "[")]
        if under:
            return under[0]
    return None


def test_each_claim_of_a_row_is_a_live_field_of_the_contract():
    rows = works_today()
    for area, claims in CLAIMS.items():
        for words, fields in claims.items():
            assert words in rows[area], f"README's '{area}' row no longer says '{words}': update CLAIMS"
            for field in fields:
                assert contract_field(field) == "live", f"README claims '{words}' under '{area}', but {field} is {contract_field(field)}"


def test_every_field_path_the_table_names_is_in_the_contract_and_not_refused():
    named = set()
    for area, state in works_today().items():
        if area == "next":
            continue
        named.update(re.findall(r"`(spec\.[A-Za-z0-9_.\[\]]+)`", area + " " + state))
    for path in sorted(named):
        klass = contract_field(path)
        assert klass is not None, f"README's table names `{path}`, which the field contract does not class"
        assert klass != "refused", f"README's table claims `{path}`, which validate refuses"
