"""Checks schemas/ against the example manifests and the manifest corpus.

Run from the repository root: /usr/bin/python3 -m pytest Tests/schema

YAML is read as berth reads it (docs/manifests.md, "YAML rules"): the YAML 1.2
core schema, duplicate keys refused, explicit tags other than !!str refused.
Works with Debian 12's python3-jsonschema 4.10.3 (RefResolver) and with newer
jsonschema releases that resolve references through the `referencing` package.
"""

import json
import pathlib
import re

import jsonschema
import pytest
import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
MANIFESTS = ROOT / "manifests"
CORPUS = ROOT / "Tests" / "ManifestTests" / "Corpus"
KINDS = ("Container", "Network", "Profile")


# --- YAML 1.2 core schema on top of PyYAML's SafeLoader ----------------------

class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars, as berth's Composer reads YAML.

    Refused like berth refuses them: duplicate keys, keys that are not strings,
    and explicit tags other than !!str (!!seq and !!map on collections are no-ops).
    Merge keys need no code: without a merge resolver `<<` is a plain string key,
    which every closed schema object refuses as an unknown field.
    """

    yaml_implicit_resolvers = {}
    allowed_tags = {
        yaml.ScalarEvent: ("!", "tag:yaml.org,2002:str"),
        yaml.SequenceStartEvent: ("!", "tag:yaml.org,2002:seq"),
        yaml.MappingStartEvent: ("!", "tag:yaml.org,2002:map"),
    }

    def compose_node(self, parent, index):
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in self.allowed_tags.get(type(event), ()):
            raise ComposerError(None, None, f"explicit tag {tag} is refused", event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    raise ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"mapping key {key!r} is not a string (quote it)", key_node.start_mark)
                first = seen.get(key)
                if first is not None:
                    raise ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"duplicate key {key!r} (first at line {first.line + 1}, column {first.column + 1})",
                        key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_yaml12_int(self, node):
        text = self.construct_scalar(node)
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)

    def construct_yaml12_float(self, node):
        text = self.construct_scalar(node)
        lowered = text.lower()
        if lowered in (".nan",):
            return float("nan")
        if lowered in (".inf", "+.inf", "-.inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        return float(text)


Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
Yaml12Loader.add_constructor("tag:yaml.org,2002:int", Yaml12Loader.construct_yaml12_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", Yaml12Loader.construct_yaml12_float)


def load_documents(path):
    """Every document of a file; raises yaml.YAMLError like berth refuses the file."""
    with open(path, encoding="utf-8") as stream:
        return list(yaml.load_all(stream, Loader=Yaml12Loader))


def test_yaml12_loader_scalars():
    text = (
        "a: yes\nb: on\nc: 010\nd: 1_000\ne: 1:20\nf: true\ng: 0o17\nh: 0x1F\n"
        "i: 1.5\nj: .inf\nk: ~\nl:\nm: 2001-01-01\nn: '3'\no: No\np: -.INF\nq: 1e3\n"
    )
    doc = yaml.load(text, Loader=Yaml12Loader)
    assert doc["a"] == "yes" and doc["b"] == "on" and doc["o"] == "No"
    assert doc["c"] == 10 and type(doc["c"]) is int
    assert doc["d"] == "1_000" and doc["e"] == "1:20" and doc["m"] == "2001-01-01"
    assert doc["f"] is True and doc["g"] == 15 and doc["h"] == 31
    assert doc["i"] == 1.5 and doc["j"] == float("inf") and doc["p"] == float("-inf")
    assert doc["k"] is None and doc["l"] is None and doc["n"] == "3" and doc["q"] == 1000.0


def test_yaml12_loader_refuses_duplicates_and_tags():
    with pytest.raises(yaml.YAMLError, match="duplicate key"):
        yaml.load("a: 1\nb: 2\na: 3\n", Loader=Yaml12Loader)
    with pytest.raises(yaml.YAMLError, match="explicit tag"):
        yaml.load("a: !!int '3'\n", Loader=Yaml12Loader)
    with pytest.raises(yaml.YAMLError, match="not a string"):
        yaml.load("a: 1\n2: b\n", Loader=Yaml12Loader)
    assert yaml.load("a: !!str 3\n", Loader=Yaml12Loader) == {"a": "3"}
    assert yaml.load("!!map {a: !!seq [x]}\n", Loader=Yaml12Loader) == {"a": ["x"]}
    assert yaml.load("<<: {a: 1}\n", Loader=Yaml12Loader) == {"<<": {"a": 1}}


# --- schemas -----------------------------------------------------------------

def schema_files():
    return sorted(SCHEMAS.glob("*.schema.json"))


def load_schema(name):
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def make_validator(name):
    """A validator for schemas/NAME whose relative $refs resolve to the files beside it, offline."""
    schemas = {path.resolve().as_uri(): json.loads(path.read_text(encoding="utf-8")) for path in schema_files()}
    uri = (SCHEMAS / name).resolve().as_uri()
    schema = schemas[uri]
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError:  # jsonschema < 4.18, such as Debian 12's 4.10.3
        resolver = jsonschema.RefResolver(base_uri=uri, referrer=schema, store=schemas)
        return jsonschema.Draft202012Validator(schema, resolver=resolver)
    registry = Registry().with_resources(
        (key, Resource.from_contents(value, default_specification=DRAFT202012)) for key, value in schemas.items())
    return jsonschema.Draft202012Validator({**schema, "$id": uri}, registry=registry)


_validators = {}


def validator(name):
    if name not in _validators:
        _validators[name] = make_validator(name)
    return _validators[name]


def errors_of(document, name="manifest.schema.json"):
    return sorted(validator(name).iter_errors(document), key=lambda error: list(map(str, error.absolute_path)))


def describe(errors):
    return "\n".join(f"  {'.'.join(map(str, e.absolute_path)) or '<document>'}: {e.message}" for e in errors)


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: p.name)
def test_schema_is_valid_2020_12(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_files_present():
    names = {path.name for path in schema_files()}
    assert {"manifest.schema.json", "container.schema.json", "network.schema.json", "profile.schema.json"} <= names


def walk(schema, where="#"):
    if isinstance(schema, dict):
        yield where, schema
        for key, value in schema.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from walk(value, f"{where}/{index}")


@pytest.mark.parametrize("path", schema_files(), ids=lambda p: p.name)
def test_every_object_schema_is_closed_and_described(path):
    """additionalProperties: false on every object schema, a description on every property.

    The subschemas of if/then/else only narrow properties declared beside them.
    """
    for where, node in walk(json.loads(path.read_text(encoding="utf-8"))):
        if "properties" not in node or re.search(r"/(if|then|else)$", where):
            continue
        assert node.get("additionalProperties") is False, f"{path.name} {where}: additionalProperties is not false"
        for name, prop in node["properties"].items():
            assert "description" in prop, f"{path.name} {where}/properties/{name}: no description"


def test_patterns_compile():
    for path in schema_files():
        for where, node in walk(json.loads(path.read_text(encoding="utf-8"))):
            if isinstance(node.get("pattern"), str):
                re.compile(node["pattern"])


# --- value rules berth validate applies, as far as the schema can say them ---

def container(**spec):
    return {"apiVersion": "berth/v1", "kind": "Container", "metadata": {"name": "web1"},
            "spec": {"rootfs": {"template": "busybox"}, **spec}}


def error_paths(document):
    return {".".join(map(str, error.absolute_path)) for error in errors_of(document)}


@pytest.mark.parametrize("limit, accepted", [
    (0, False), (0.0, False), (0.0005, False), (0.001, True), (1, True), (1.5, True),
    ("0", False), ("00", False), ("0.0", False), ("0.000", False), ("00.000", False), ("0m", False), ("000m", False),
    ("0.", False), (".5", False), ("0.0001", False),
    ("0.001", True), ("0.010", True), ("0.5", True), ("00.5", True), ("1", True), ("10.250", True),
    ("1m", True), ("001m", True), ("500m", True), ("1000m", True),
])
def test_cpu_limit_is_at_least_1m(limit, accepted):
    document = container(resources={"cpu": {"limit": limit}})
    assert error_paths(document) == (set() if accepted else {"spec.resources.cpu.limit"})


MEBI = 1 << 20
UNITS = {"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60}
MEMORY_NUMBERS = {
    "": ["0", "1", "4194303", "04194303", "4194304", "004194304", "4194305", "9999999", "10000000"],
    "Ki": ["0", "0.5", "1", "4095", "4095.999", "04095", "4096", "04096", "4096.5", "65536"],
    "Mi": ["0", "0.0", "0.5", "3", "3.999", "03", "4", "4.0", "04", "4.5", "100"],
    "Gi": ["0", "00", "0.0", "0.000", "0.001953125", "0.00390625", "0.5", "1"],
    "Ti": ["0", "0.0", "0.000003814697265625", "1"],
    "Pi": ["0", "1"],
    "Ei": ["0", "0.00", "1"],
}


@pytest.mark.parametrize("text", [number + unit for unit, numbers in MEMORY_NUMBERS.items() for number in numbers])
def test_memory_max_string_below_4mi_is_refused_where_the_schema_can_tell(text):
    """Exact for bytes, Ki, Mi and zero; a non-zero fraction of Gi or more below 4Mi is berth's to refuse."""
    from decimal import Decimal
    unit = text.lstrip("0123456789.")
    number = text[:len(text) - len(unit)]
    below = Decimal(number) * UNITS[unit] < 4 * MEBI
    left_to_berth = below and unit in ("Gi", "Ti", "Pi", "Ei") and Decimal(number) != 0
    refused = error_paths(container(resources={"memory": {"max": text}})) == {"spec.resources.memory.max"}
    assert refused == (below and not left_to_berth), f"{text}: {Decimal(number) * UNITS[unit]} bytes"


@pytest.mark.parametrize("size, accepted", [(0, False), (4 * MEBI - 1, False), (4 * MEBI, True), (1 << 40, True)])
def test_memory_max_integer_is_at_least_4mi(size, accepted):
    assert error_paths(container(resources={"memory": {"max": size}})) == (set() if accepted else {"spec.resources.memory.max"})


def test_memory_high_and_swap_have_no_minimum():
    assert not errors_of(container(resources={"memory": {"max": "64Mi", "high": "1Mi", "swap": 0}}))


@pytest.mark.parametrize(
    "disk, errors",
    [
        ({"size": "10Gi"}, set()),
        ({}, {"spec.resources.disk"}),
        ({"size": "1Gi", "inodes": 1000}, set()),
        ({"size": "1Gi", "inodes": 8}, {"spec.resources.disk.inodes"}),
        ({"size": "1Gi", "userQuota": False}, set()),
        ({"size": "1Gi", "userQuota": True}, set()),
        ({"size": "1Gi", "userQuota": "yes"}, {"spec.resources.disk.userQuota"}),
    ],
)
@pytest.mark.parametrize("kind", ["Container", "Profile"])
def test_disk_size_inodes_and_a_user_quota_are_accepted(kind, disk, errors):
    document = {**container(resources={"disk": disk}), "kind": kind}
    if kind == "Profile":
        document["spec"].pop("rootfs")
    assert error_paths(document) == errors


@pytest.mark.parametrize("name, accepted", [("busybox", True), ("busybx", False), ("BusyBox", False), ("debian", False)])
def test_template_is_built_in(name, accepted):
    document = container(rootfs={"template": name})
    assert error_paths(document) == (set() if accepted else {"spec.rootfs.template"})


PATH_FIELDS = [
    ("spec.init.workingDir", lambda path: {"init": {"workingDir": path}}),
    ("spec.rootfs.directory", lambda path: {"rootfs": {"directory": path}}),
    ("spec.rootfs.tarball", lambda path: {"rootfs": {"tarball": path + ".tar"}}),
    ("spec.mounts.0.source", lambda path: {"mounts": [{"source": path, "destination": "/data"}]}),
    ("spec.mounts.0.destination", lambda path: {"mounts": [{"source": "/srv", "destination": path}]}),
    ("spec.devices.0.path", lambda path: {"devices": [{"path": "/dev" + path}]}),
    ("spec.resources.io.limits.0.device", lambda path: {"resources": {"io": {"limits": [{"device": "/dev" + path}]}}}),
]


@pytest.mark.parametrize("where, spec", PATH_FIELDS, ids=[where for where, _ in PATH_FIELDS])
@pytest.mark.parametrize("character", [
    "\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\u2028", "\u2029",
])
def test_path_with_a_control_character_is_refused(where, spec, character):
    assert where in error_paths(container(**spec(f"/srv/a{character}b")))


@pytest.mark.parametrize("where, spec", PATH_FIELDS, ids=[where for where, _ in PATH_FIELDS])
@pytest.mark.parametrize("name", ["caf\u00e9", "\u00a0nbsp", "\U0001f600", "a b", "..x"])
def test_path_with_printable_characters_is_accepted(where, spec, name):
    assert not errors_of(container(**spec(f"/srv/{name}")))


@pytest.mark.parametrize("field", ["uidMap", "gidMap"])
def test_id_map_has_at_most_340_ranges(field):
    def ranges(count):
        return [{"containerID": index, "hostID": 100000 + index, "size": 1} for index in range(count)]
    def namespace(count):
        return {"uidMap": ranges(1), field: ranges(count)}
    assert not errors_of(container(userNamespace=namespace(340)))
    assert error_paths(container(userNamespace=namespace(341))) == {f"spec.userNamespace.{field}"}


# --- manifests and corpus ----------------------------------------------------

def yaml_files(directory):
    return sorted(list(directory.glob("*.yaml")) + list(directory.glob("*.yml")))


def valid_files():
    return yaml_files(MANIFESTS) + yaml_files(CORPUS / "valid")


def rel(path):
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", valid_files(), ids=rel)
def test_valid_file(path):
    documents = load_documents(path)
    assert documents, f"{rel(path)}: no documents"
    for index, document in enumerate(documents):
        errors = errors_of(document)
        assert not errors, f"{rel(path)} document {index + 1}:\n{describe(errors)}"
        kind_schema = f"{document['kind'].lower()}.schema.json"
        errors = errors_of(document, kind_schema)
        assert not errors, f"{rel(path)} document {index + 1} against {kind_schema}:\n{describe(errors)}"


@pytest.mark.parametrize("kind", KINDS)
def test_per_kind_schema_refuses_other_kinds(kind):
    name = f"{kind.lower()}.schema.json"
    for path in valid_files():
        for document in load_documents(path):
            if document["kind"] != kind:
                assert errors_of(document, name), f"{name} accepts a {document['kind']} of {rel(path)}"


def test_example_manifests_carry_the_modeline():
    files = yaml_files(MANIFESTS)
    assert files, "manifests/ has no example"
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/manifest.schema.json", rel(path)


def invalid_files():
    return yaml_files(CORPUS / "invalid")


EXPECT = re.compile(r"^# error-at: (\S+)$", re.MULTILINE)


@pytest.mark.parametrize("path", invalid_files(), ids=lambda p: p.name)
def test_invalid_file(path):
    """The file is refused, for the intended reason only.

    Each case names where its one error is with a `# error-at: PATH` comment:
    `yaml` for a file that does not load, else the dotted instance path that every
    schema error of the one failing document lies at or under.
    """
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# "), f"{path.name}: start with a comment saying what is wrong"
    expected = EXPECT.search(text)
    assert expected, f"{path.name}: add a '# error-at: PATH' comment"
    where = expected.group(1)
    try:
        documents = load_documents(path)
    except yaml.YAMLError as error:
        assert where == "yaml", f"{path.name}: unexpected YAML error: {error}"
        return
    assert where != "yaml", f"{path.name}: loads, but a YAML error was expected"
    failing = [(index, errors) for index, errors in enumerate(map(errors_of, documents)) if errors]
    assert failing, f"{path.name}: every document is valid"
    assert len(failing) == 1, f"{path.name}: more than one document fails: " + \
        "; ".join(f"document {i + 1}:\n{describe(e)}" for i, e in failing)
    index, errors = failing[0]
    prefix = [] if where == "." else where.split(".")
    for error in errors:
        at = [str(part) for part in error.absolute_path]
        assert at[:len(prefix)] == prefix, \
            f"{path.name} document {index + 1}: error outside {where}:\n{describe([error])}"


ALIAS_BUDGET = 100_000  # nodes after alias expansion, as docs/manifests.md sets


def expanded_size(value, budget=ALIAS_BUDGET):
    """Nodes in `value` with every alias expanded, counting stops past `budget`."""
    count, stack = 0, [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


@pytest.mark.parametrize("path", yaml_files(CORPUS / "invalid-swift-only"), ids=lambda p: p.name)
def test_swift_only_case_passes_the_schema(path):
    """Only berth's cross-document and value checks refuse these; a case the schema
    refuses belongs in invalid/. Documents over the alias budget are not validated."""
    for index, document in enumerate(load_documents(path)):
        if expanded_size(document) > ALIAS_BUDGET:
            continue
        errors = errors_of(document)
        assert not errors, f"{path.name} document {index + 1} (move it to invalid/?):\n{describe(errors)}"


def test_corpus_layout():
    assert len(invalid_files()) >= 20
    assert yaml_files(CORPUS / "invalid-swift-only")
    assert yaml_files(CORPUS / "valid")
