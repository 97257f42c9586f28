"""Every event berth logs (info and up) has a kind with a MESSAGE_ID, and
dist/berth.catalog explains every MESSAGE_ID the code sends (issue 15:
"7 event kinds have no MESSAGE_ID")."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANDLER = ROOT / "Sources" / "Journal" / "JournalLogHandler.swift"
CATALOG = ROOT / "dist" / "berth.catalog"


def kinds():
    """EventKind's raw values: `case name = "raw"` or a bare `case a, b`."""
    text = HANDLER.read_text()
    body = text[text.index("public enum EventKind"):text.index("public var messageID")]
    values = set()
    for line in body.splitlines():
        line = line.strip()
        if not line.startswith("case "):
            continue
        raw = re.fullmatch(r'case \w+ = "([^"]*)"', line)
        values |= {raw[1]} if raw else {name.strip() for name in line[5:].split(",")}
    return values


def code_ids():
    text = HANDLER.read_text()
    return set(re.findall(r'return "([0-9a-f]{32})"', text[text.index("public var messageID"):]))


def catalog_ids():
    return set(re.findall(r"^-- ([0-9a-f]{32})$", CATALOG.read_text(), re.M))


CALL = re.compile(r"logger\.(info|notice|warning|error|critical)\(")
LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')


def message_of(text, start):
    """The call's first argument (up to `, metadata:` or the call's end) and the whole call."""
    depth, index = 1, start
    while depth and index < len(text):
        if text[index] == '"':
            index = LITERAL.match(text, index).end()
            continue
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        index += 1
    call = text[start:index - 1]
    return re.split(r",\s*metadata:", call)[0].strip(), call


def test_catalog_covers_every_message_id_in_the_code():
    assert code_ids(), "no MESSAGE_IDs found: the parser is out of date"
    assert code_ids() == catalog_ids()


def test_every_logged_event_has_a_kind():
    known = kinds()
    missing = []
    for source in (ROOT / "Sources").rglob("*.swift"):
        text = source.read_text()
        for match in CALL.finditer(text):
            message, call = message_of(text, match.end())
            literals = LITERAL.findall(message)
            if literals and all(value in known for value in literals):
                continue
            # A sentence names its kind in the `event` metadata key.
            if re.search(r'"event": "([^"]+)"', call) and re.search(r'"event": "([^"]+)"', call)[1] in known:
                continue
            line = text[:match.start()].count("\n") + 1
            missing.append(f"{source.relative_to(ROOT)}:{line}: {message}")
    assert missing == []
