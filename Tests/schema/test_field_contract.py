"""The field contract: every leaf field of a manifest has exactly one class.

Run from the repository root: /usr/bin/python3 -m pytest -q Tests/schema

docs/manifests.md, section "Field contract", has one table per kind (Container,
Network) with the columns `field | class | applied to / observed in`. A Profile's
fields take the class of the Container field they fill, so every Profile leaf must
name a Container row. The leaves are read from schemas/manifest.schema.json, kind by
kind: `$ref` into `$defs`, `allOf`/`anyOf`/`oneOf`, `if`/`then`/`else` (the root's
`if` on `kind` picks the kind's branch), `properties`, `items` and
`additionalProperties` maps (written `.*`). A leaf is any schema that is neither an
object with properties (or a map) nor an array of such objects.

Other tests import `contract(kind)` ({path: (class, object)}) and `leaves(kind)`.
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "manifest.schema.json"
DOC = ROOT / "docs" / "manifests.md"

KINDS = ("Container", "Network", "Profile")
TABLE_KINDS = ("Container", "Network")  # a Profile's fields take the Container's classes
CLASSES = ("live", "restart", "refused")
# These name the object rather than describe it; the contract leaves them out.
NAMING = frozenset({"apiVersion", "kind", "metadata.name"})

SECTION = "## Field contract"


# --- the schema's leaves -----------------------------------------------------

def load_schema():
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def _resolve(root, ref):
    assert ref.startswith("#/"), f"only local references are followed, not {ref}"
    node = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _kind_of_if(condition):
    """The kind an `if` tests (properties.kind.const), or None for any other condition."""
    if not isinstance(condition, dict):
        return None
    kind = condition.get("properties", {}).get("kind")
    if isinstance(kind, dict) and "const" in kind:
        return kind["const"]
    return None


def _flatten(root, schema, kind, seen=()):
    """The plain schema objects `schema` is made of, for a document of `kind`."""
    if not isinstance(schema, dict):
        return []  # true/false: nothing to walk
    nodes = [schema]
    if "$ref" in schema:
        ref = schema["$ref"]
        assert ref not in seen, f"reference cycle through {ref}"
        nodes += _flatten(root, _resolve(root, ref), kind, seen + (ref,))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            nodes += _flatten(root, sub, kind, seen)
    if "if" in schema:
        tested = _kind_of_if(schema["if"])
        if tested is None:  # a condition on the value: either branch may apply
            branches = [schema.get("then"), schema.get("else")]
        else:
            branches = [schema.get("then") if tested == kind else schema.get("else")]
        for sub in branches:
            nodes += _flatten(root, sub, kind, seen)
    return nodes


def _shape(root, schema, kind):
    """(properties: {name: [schemas]}, map values: [schemas], items: [schemas])."""
    properties, values, items = {}, [], []
    for node in _flatten(root, schema, kind):
        for name, sub in node.get("properties", {}).items():
            if sub is False:
                continue  # a branch refusing a field declared beside it
            properties.setdefault(name, []).append(sub)
        if isinstance(node.get("additionalProperties"), dict):
            values.append(node["additionalProperties"])
        if isinstance(node.get("items"), dict):
            items.append(node["items"])
        items += [sub for sub in node.get("prefixItems", []) if isinstance(sub, dict)]
    return properties, values, items


def _is_structured(root, schema, kind):
    properties, values, _ = _shape(root, schema, kind)
    return bool(properties or values)


def _walk(root, schema, kind, path):
    properties, values, items = _shape(root, schema, kind)
    if not properties and not values:
        if items and any(_is_structured(root, item, kind) for item in items):
            yield from _walk(root, {"allOf": items}, kind, f"{path}[]")
        else:
            yield path
        return
    for name, subs in properties.items():
        yield from _walk(root, {"allOf": subs}, kind, f"{path}.{name}" if path else name)
    if values:
        yield from _walk(root, {"allOf": values}, kind, f"{path}.*")


def leaves(kind, schema=None, start=None):
    """Every leaf path of a `kind` document, sorted; NAMING included."""
    root = load_schema() if schema is None else schema
    found = list(_walk(root, root if start is None else start, kind, ""))
    assert len(found) == len(set(found)), f"{kind}: a path appears twice: {found}"
    return sorted(found)


def contract_leaves(kind):
    """The leaves the contract must class: every leaf but the naming ones."""
    return [path for path in leaves(kind) if path not in NAMING]


# --- the contract table ------------------------------------------------------

ROW = re.compile(r"^\|(.*)\|\s*$")
SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")


def _cell(text):
    return text.strip().strip("`").strip()


def parse_contract(text=None):
    """{kind: [(path, class, object, line number)]} as the document writes them.

    Rows of the section's tables, under `### Container` and `### Network`; the
    header row and the separator are skipped. Duplicates are kept for the test.
    """
    lines = (DOC.read_text(encoding="utf-8") if text is None else text).splitlines()
    starts = [index for index, line in enumerate(lines) if line.strip() == SECTION]
    assert len(starts) == 1, f"docs/manifests.md needs exactly one '{SECTION}' section"
    rows, kind = {}, None
    for number in range(starts[0] + 1, len(lines)):
        line = lines[number]
        if line.startswith("## "):
            break
        if line.startswith("### "):
            kind = line[4:].strip().split()[0].strip("`")
            continue
        match = ROW.match(line)
        if not match or SEPARATOR.match(line):
            continue
        cells = [_cell(cell) for cell in match.group(1).split("|")]
        if cells[0] == "field":
            assert cells == ["field", "class", "applied to / observed in"], \
                f"docs/manifests.md:{number + 1}: the header is `field | class | applied to / observed in`"
            continue
        assert kind in TABLE_KINDS, f"docs/manifests.md:{number + 1}: a contract row outside a kind's table"
        assert len(cells) == 3, f"docs/manifests.md:{number + 1}: a row has three cells, not {len(cells)}"
        rows.setdefault(kind, []).append((cells[0], cells[1], cells[2], number + 1))
    return rows


def contract(kind="Container"):
    """{path: (class, object)} for a kind; a Profile's paths take the Container's rows."""
    rows = parse_contract()
    if kind == "Profile":
        container = contract("Container")
        return {path: container[path] for path in contract_leaves("Profile") if path in container}
    return {path: (klass, where) for path, klass, where, _ in rows.get(kind, [])}


def summary():
    """(counts by class, unclassified leaves).

    The counts are of the Container's and the Network's leaves (the tables'
    rows); a Profile's leaves repeat the Container's, so they count only when
    unclassified.
    """
    counts = {klass: 0 for klass in CLASSES}
    unclassified = []
    for kind in KINDS:
        classes = contract(kind)
        for path in contract_leaves(kind):
            klass = classes.get(path, (None, None))[0]
            if klass not in counts:
                unclassified.append(f"{kind} {path}" + (f" (class {klass!r})" if klass else ""))
            elif kind in TABLE_KINDS:
                counts[klass] += 1
    return counts, unclassified


def summary_line():
    counts, unclassified = summary()
    return (f"field contract: live {counts['live']}, restart {counts['restart']}, "
            f"refused {counts['refused']}, unclassified {len(unclassified)}")


# --- tests -------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_walk_of_the_root_matches_the_kind_document(kind):
    """The root's if/then on kind gives the same leaves as $defs/<Kind>Document."""
    root = load_schema()
    assert leaves(kind) == leaves(kind, root, root["$defs"][f"{kind}Document"])


def test_walker_on_a_small_schema():
    schema = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/obj"},
            "m": {"type": "object", "additionalProperties": {"type": "string"}},
            "l": {"type": "array", "items": {"type": "string"}},
            "o": {"type": "array", "items": {"$ref": "#/$defs/obj"}},
            "u": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "t": {"type": "object", "properties": {"x": {}, "y": {}},
                  "if": {"required": ["x"]}, "then": {"properties": {"y": False}}},
        },
        "$defs": {"obj": {"type": "object", "properties": {"p": {}, "q": {"allOf": [{"type": "string"}]}}}},
    }
    assert leaves("Container", schema) == sorted(["a.p", "a.q", "m.*", "l", "o[].p", "o[].q", "u", "t.x", "t.y"])


def test_parser_on_a_small_document():
    text = "\n".join([
        "# x", SECTION, "text", "### Container", "",
        "| field | class | applied to / observed in |", "| --- | --- | --- |",
        "| `spec.a` | live | `memory.max` |", "| `spec.b.*` | `restart` | |",
        "### Network", "| field | class | applied to / observed in |", "|---|---|---|",
        "| `spec.c[].d` | refused | validate |", "## Next", "| `spec.e` | live | x |",
    ])
    rows = parse_contract(text)
    assert [(p, c, o) for p, c, o, _ in rows["Container"]] == [("spec.a", "live", "memory.max"), ("spec.b.*", "restart", "")]
    assert [(p, c, o) for p, c, o, _ in rows["Network"]] == [("spec.c[].d", "refused", "validate")]


def test_naming_fields_are_in_the_schema_and_out_of_the_contract():
    rows = parse_contract()
    for kind in KINDS:
        assert NAMING <= set(leaves(kind)), f"{kind}: the schema lost a naming field"
    listed = [f"{kind} {path} (line {line})" for kind, kind_rows in rows.items()
              for path, _, _, line in kind_rows if path in NAMING]
    assert not listed, "the contract leaves out the fields that name the object:\n  " + "\n  ".join(listed)


def test_every_row_names_a_schema_leaf_once_with_a_known_class():
    problems = []
    for kind, kind_rows in parse_contract().items():
        known, seen = set(contract_leaves(kind)), {}
        for path, klass, where, line in kind_rows:
            if path in NAMING:
                continue  # reported by the naming test
            if path not in known:
                problems.append(f"line {line}: {kind} {path}: not a leaf of the schema")
            if path in seen:
                problems.append(f"line {line}: {kind} {path}: listed again (first at line {seen[path]})")
            seen.setdefault(path, line)
            if klass not in CLASSES:
                problems.append(f"line {line}: {kind} {path}: class {klass!r} is not one of {', '.join(CLASSES)}")
            if klass == "live" and not where:
                problems.append(f"line {line}: {kind} {path}: a live field names the object it is applied to")
    assert not problems, "contract rows in docs/manifests.md:\n  " + "\n  ".join(problems)


def test_profile_leaves_are_container_leaves():
    container = set(contract_leaves("Container"))
    missing = [path for path in contract_leaves("Profile") if path not in container]
    assert not missing, "Profile fields that fill no Container field:\n  " + "\n  ".join(missing)


def test_every_leaf_has_a_class():
    line = summary_line()
    print(f"\n{line}")
    _, unclassified = summary()
    assert not unclassified, \
        "leaves without a class in docs/manifests.md 'Field contract':\n  " + "\n  ".join(unclassified)


class _SummaryPlugin:
    """Writes the summary line at the end of every run that collects this module, -s or not."""

    @staticmethod
    def pytest_terminal_summary(terminalreporter):
        try:
            line = summary_line()
        except Exception as error:  # the tests above say what is wrong
            line = f"field contract: not readable ({error})"
        terminalreporter.write_line(line)


@pytest.fixture(scope="module", autouse=True)
def _summary_at_the_end(request):
    manager = request.config.pluginmanager
    if not manager.has_plugin("berth-field-contract-summary"):
        manager.register(_SummaryPlugin(), "berth-field-contract-summary")
    yield
