#!/usr/bin/env python3
"""Writes the hostile manifest corpus: Tests/corpus/hostile/NNN-name.yaml.

Each case is one invalid manifest; its first line (after a byte-order mark,
for the case that tests one) is a comment saying what is wrong. The expected
diagnostics, the exact lines `berth validate` prints, live beside each case
in NNN-name.expected and are checked by Tests/cli/test_hostile_corpus.py.

    /usr/bin/python3 scripts/gen-hostile-corpus.py            # the .yaml files
    /usr/bin/python3 scripts/gen-hostile-corpus.py --expected .build/debug/berth
                                                              # and the .expected files (review the diff)
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "Tests" / "corpus" / "hostile"
HOST = ["--host", "node1", "--host-label", "role=web"]

CASES = []  # (name, comment, bytes)


def case(name, comment, text):
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    CASES.append((name, comment, data))


def container(spec="  rootfs: {template: busybox}\n", name="web1", meta=""):
    return f"apiVersion: berth/v1\nkind: Container\nmetadata:\n  name: {name}\n{meta}spec:\n{spec}"


def with_rootfs(extra):
    return container("  rootfs: {template: busybox}\n" + extra)


NETWORK = "apiVersion: berth/v1\nkind: Network\nmetadata:\n  name: front\nspec:\n  subnet: 10.88.0.0/24\n"


def network(spec="  subnet: 10.88.0.0/24\n", name="front"):
    return f"apiVersion: berth/v1\nkind: Network\nmetadata:\n  name: {name}\nspec:\n{spec}"


def attached(extra_network="", attachment="    - network: front\n      addresses: [10.88.0.11]\n", own=""):
    return network("  subnet: 10.88.0.0/24\n" + extra_network) + "---\n" + with_rootfs("  networks:\n" + attachment + own)


def profile(spec, name="small"):
    return f"apiVersion: berth/v1\nkind: Profile\nmetadata:\n  name: {name}\nspec:\n{spec}"


# --- YAML syntax --------------------------------------------------------------
case("unclosed-double-quote", "a double-quoted scalar never closed", container("  hostname: \"web1\n"))
case("unclosed-single-quote", "a single-quoted scalar never closed", container("  hostname: 'web1\n"))
case("unclosed-flow-sequence", "a flow sequence never closed", with_rootfs("  profiles: [small\n"))
case("unclosed-flow-mapping", "a flow mapping never closed", container("  rootfs: {template: busybox\n"))
case("bad-indentation", "a key indented less than its siblings", "apiVersion: berth/v1\nkind: Container\nmetadata:\n    name: web1\n  labels: {}\nspec: {}\n")
case("tab-indentation", "a tab used for indentation", "apiVersion: berth/v1\nkind: Container\nmetadata:\n\tname: web1\nspec: {}\n")
case("stray-colon", "a plain scalar followed by a second mapping colon", container("  hostname: a: b\n"))
case("sequence-at-root", "the document is a list, not a mapping", "- apiVersion: berth/v1\n- kind: Container\n")
case("scalar-at-root", "the document is a plain scalar", "just some text\n")
case("mapping-and-sequence-mixed", "a list item after a mapping key at the same level", "apiVersion: berth/v1\n- kind\n")
case("unknown-directive-version", "a %YAML 2.0 directive", "%YAML 2.0\n---\n" + container())
case("tag-directive", "a %TAG directive and a custom tag", "%TAG !e! tag:example.com,2000:\n---\n" + container("  hostname: !e!host web1\n  rootfs: {template: busybox}\n"))
case("custom-tag", "an explicit custom tag on a value", container("  hostname: !host web1\n  rootfs: {template: busybox}\n"))
case("int-tag", "an explicit !!int tag", with_rootfs("  resources: {pids: {max: !!int 10}}\n"))
case("binary-tag", "an explicit !!binary tag", with_rootfs("  hostname: !!binary d2ViMQ==\n"))
case("set-tag", "an explicit !!set tag", with_rootfs("  env: !!set {A, B}\n"))
case("complex-key", "a sequence used as a mapping key", with_rootfs("  ? [a, b]\n  : c\n"))
case("mapping-key", "a mapping used as a mapping key", with_rootfs("  {a: b}: c\n"))
case("integer-key", "an integer as a key", with_rootfs("  1: one\n"))
case("null-key", "a null key", with_rootfs("  ~: nothing\n"))
case("boolean-key", "a boolean as a key", with_rootfs("  true: yes\n"))
case("empty-key", "an empty quoted key", with_rootfs("  \"\": empty\n"))
case("undefined-alias", "an alias to an anchor never defined", with_rootfs("  hostname: *nowhere\n"))
case("merge-key", "a YAML 1.1 merge key `<<`", "base: &b {template: busybox}\n" + "---\n" + container("  rootfs:\n    <<: *b\n"))
case("anchor-across-documents", "an alias to an anchor in another document", profile("  rootfs: &r {template: busybox}\n") + "---\n" + container("  rootfs: *r\n"))
case("alias-as-key", "an alias used as a key", with_rootfs("  env: &e {A: b}\n  *e : c\n"))
case("document-end-garbage", "text after a document end marker", container() + "...\ngarbage: [\n")
case("two-documents-one-broken", "a valid document followed by a broken one", container() + "---\n" + container("  rootfs: {template: busybox\n", name="web2"))
case("bom", "a byte-order mark before the first document", b"\xef\xbb\xbf" + container().encode())
case("nul-byte", "a NUL byte in a comment", container().encode() + b"# nul \x00 here\n")
case("invalid-utf8", "a byte sequence that is not UTF-8", container().encode() + b"  hostname: web\xff1\n")
case("overlong-utf8", "an overlong UTF-8 encoding of '/'", container().encode() + b"  hostname: a\xc0\xafb\n")
case("lone-surrogate-bytes", "UTF-8 bytes of a lone surrogate", container().encode() + b"  hostname: a\xed\xa0\x80b\n")
case("bell-character", "a raw BEL control character in a value", with_rootfs("  hostname: web\x071\n"))
case("escape-character", "a raw ESC control character (terminal escape) in a comment", container() + "# \x1b[31mred\x1b[0m\n")
case("del-character", "a raw DEL character in a value", with_rootfs("  hostname: web\x7f1\n"))
case("c1-control", "a raw C1 control character (U+0085) in a value", with_rootfs("  hostname: web\u00851\n"))
case("lone-carriage-return", "a lone carriage return as a line break", container().replace("\n", "\r"))
case("escaped-nul", "a NUL written as an escape in a double-quoted value", with_rootfs("  hostname: \"web\\01\"\n"))
case("escaped-lone-surrogate", "a lone surrogate written as an escape", with_rootfs("  hostname: \"a\\ud800b\"\n"))
case("escaped-line-separator", "U+2028 written as an escape in a value", with_rootfs("  env: {A: \"a\\u2028b\"}\n"))
case("escaped-bidi-override", "U+202E written as an escape in a name", with_rootfs("  hostname: \"web\\u202e1\"\n"))
case("raw-bidi-in-key", "a raw U+202E in an unknown key", with_rootfs("  host\u202ename: web1\n"))
case("zero-width-in-name", "a zero-width space in the object's name", container(name="web\u200b1"))
case("ansi-escape-in-key", "a terminal escape written as an escape in a quoted key", with_rootfs("  \"\\e[2J\": x\n"))
case("newline-in-quoted-key", "a newline written as an escape in a quoted key", with_rootfs("  \"a\\nvalid: web1.yaml\": x\n"))
case("forged-valid-line", "an escaped newline that would forge a 'valid' line in CI logs", with_rootfs("  hostname: \"x\\nvalid: 1 files, 1 documents\"\n"))
case("invalid-escape", "an unknown backslash escape in a double-quoted value", with_rootfs("  hostname: \"web\\q1\"\n"))

# --- nesting, size, aliases ---------------------------------------------------
case("deep-flow-nesting", "flow sequences nested 1000 deep", with_rootfs("  env: " + "[" * 1000 + "]" * 1000 + "\n"))
case("deep-block-nesting", "block mappings nested 100 deep", with_rootfs("".join("  " * (i + 1) + f"k{i}:\n" for i in range(100)) + "  " * 101 + "end\n"))
case("deep-flow-mapping-nesting", "flow mappings nested 300 deep", with_rootfs("  env: " + "{a: " * 300 + "b" + "}" * 300 + "\n"))
case("billion-laughs", "a billion-laughs alias bomb",
     "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
         f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 10) + "]\n" for i in range(9)))
case("alias-fan-out", "one anchor aliased 200,000 times through a list of lists",
     with_rootfs("  env: &e {" + ", ".join(f"K{i}: v" for i in range(100)) + "}\n  networks: [" + ", ".join(["*e"] * 2000) + "]\n"))
case("self-referencing-alias", "an alias inside the node its anchor names", with_rootfs("  env: &e {A: *e}\n"))
case("huge-hostname", "a hostname of 100,000 bytes", with_rootfs("  hostname: " + "a" * 100_000 + "\n"))
case("huge-name", "an object name of 70,000 bytes", container(name="a" * 70_000))
case("huge-label-value", "a label value of 70,000 bytes", container(meta="  labels: {app: " + "v" * 70_000 + "}\n"))
case("huge-integer", "an integer of 400 digits", with_rootfs("  resources: {pids: {max: " + "9" * 400 + "}}\n"))
case("huge-float", "a float past double range", with_rootfs("  resources: {cpu: {limit: 1e400}}\n"))
case("huge-size", "a size past 2^64 bytes", with_rootfs("  resources: {memory: {max: 99999999999Ei}}\n"))
case("many-unknown-keys", "5,000 unknown keys in one mapping", with_rootfs("".join(f"  unknown{i}: x\n" for i in range(5000))))
case("many-duplicate-keys", "the same key 3,000 times", with_rootfs("".join("  hostname: web1\n" for _ in range(3000))))
case("long-key", "a key of 70,000 bytes", with_rootfs("  " + "k" * 70_000 + ": v\n"))
case("too-many-networks-aliases", "a network list of 1,500 aliased bad entries", with_rootfs("  init: &m {network: front, addresses: [bad]}\n  networks: [" + ", ".join(["*m"] * 1500) + "]\n"))

# --- document shape -------------------------------------------------------------
case("api-version-missing", "apiVersion left out", "kind: Container\nmetadata:\n  name: web1\nspec:\n  rootfs: {template: busybox}\n")
case("api-version-wrong", "apiVersion from another project", container().replace("berth/v1", "apps/v1"))
case("api-version-v2", "an apiVersion berth does not know yet", container().replace("berth/v1", "berth/v2"))
case("api-version-number", "apiVersion as a number", container().replace("berth/v1", "1"))
case("kind-missing", "kind left out", "apiVersion: berth/v1\nmetadata:\n  name: web1\nspec:\n  rootfs: {template: busybox}\n")
case("kind-unknown", "kind Pod (a Kubernetes kind)", container().replace("Container", "Pod"))
case("kind-lowercase", "kind written in lower case", container().replace("Container", "container"))
case("kind-list", "kind as a list", container().replace("kind: Container", "kind: [Container]"))
case("metadata-missing", "metadata left out", "apiVersion: berth/v1\nkind: Container\nspec:\n  rootfs: {template: busybox}\n")
case("metadata-list", "metadata as a list", "apiVersion: berth/v1\nkind: Container\nmetadata: [web1]\nspec:\n  rootfs: {template: busybox}\n")
case("metadata-unknown-field", "a misspelled metadata field", "apiVersion: berth/v1\nkind: Container\nmetadata:\n  nmae: web1\nspec:\n  rootfs: {template: busybox}\n")
case("metadata-namespace", "a Kubernetes namespace in metadata", container(meta="  namespace: default\n"))
case("spec-missing", "spec left out", "apiVersion: berth/v1\nkind: Container\nmetadata:\n  name: web1\n")
case("spec-list", "spec as a list", "apiVersion: berth/v1\nkind: Container\nmetadata:\n  name: web1\nspec: [rootfs]\n")
case("spec-null", "spec as null", "apiVersion: berth/v1\nkind: Container\nmetadata:\n  name: web1\nspec:\n")
case("spec-string", "spec as a string", "apiVersion: berth/v1\nkind: Container\nmetadata:\n  name: web1\nspec: busybox\n")
case("top-level-typo", "a misspelled top-level key", container().replace("spec:", "sepc:"))
case("top-level-status", "a status section", container() + "status: {}\n")
case("duplicate-top-level-key", "kind given twice", container().replace("kind: Container\n", "kind: Container\nkind: Network\n"))

# --- names ----------------------------------------------------------------------
for slug, value, what in [
    ("name-uppercase", "Web1", "upper-case letters"),
    ("name-underscore", "web_1", "an underscore"),
    ("name-dot", "web.1", "a dot"),
    ("name-leading-dash", "-web1", "a leading dash"),
    ("name-trailing-dash", "web1-", "a trailing dash"),
    ("name-empty", '""', "the empty string"),
    ("name-64-bytes", "a" * 64, "64 bytes, one past a DNS label"),
    ("name-slash", "web/1", "a slash"),
    ("name-dotdot", '".."', "`..`"),
    ("name-space", '"web 1"', "a space"),
    ("name-unicode", "wéb1", "a non-ASCII letter"),
    ("name-number", "42", "a number"),
    ("name-null", "~", "null"),
    ("name-newline", '"web\\n1"', "an escaped newline"),
    ("name-bidi", '"web\\u202e1"', "an escaped U+202E"),
    ("name-list", "[web1]", "a list"),
]:
    case(slug, f"metadata.name is {what}", container(name=value))
case("label-key-invalid", "a label key with a space", container(meta="  labels: {\"bad key\": x}\n"))
case("label-value-too-long", "a label value of 64 characters", container(meta="  labels: {app: " + "v" * 64 + "}\n"))
case("label-value-number", "a label value that is a number", container(meta="  labels: {tier: 1}\n"))
case("label-value-bool", "a label value that is a boolean", container(meta="  labels: {public: true}\n"))
case("labels-list", "labels as a list", container(meta="  labels: [app]\n"))
case("annotation-value-map", "an annotation value that is a mapping", container(meta="  annotations: {note: {a: b}}\n"))
case("label-prefix-too-long", "a label key prefix over 253 bytes", container(meta="  labels: {" + "a" * 254 + "/key: v}\n"))

# --- container fields -------------------------------------------------------------
case("state-unknown", "state 'paused'", with_rootfs("  state: paused\n"))
case("state-number", "state as a number", with_rootfs("  state: 1\n"))
case("state-capitalised", "state 'Running'", with_rootfs("  state: Running\n"))
case("hostname-too-long", "a hostname of 65 bytes", with_rootfs("  hostname: " + "a" * 65 + "\n"))
case("hostname-underscore", "a hostname with an underscore", with_rootfs("  hostname: web_1\n"))
case("hostname-space", "a hostname with a space", with_rootfs("  hostname: \"web 1\"\n"))
case("hostname-number", "a hostname given as a number", with_rootfs("  hostname: 1234\n"))
case("hostname-label-too-long", "a hostname label of 64 bytes", with_rootfs("  hostname: " + "a" * 64 + ".example\n"))
case("hostname-empty-label", "a hostname with an empty label", with_rootfs("  hostname: web..example\n"))
case("rootfs-missing", "no root filesystem, here or in a profile", container("  hostname: web1\n"))
case("rootfs-two-sources", "both a template and a directory", container("  rootfs: {template: busybox, directory: /srv/root}\n"))
case("rootfs-no-source", "rootfs with only persistent", container("  rootfs: {persistent: true}\n"))
case("rootfs-unknown-template", "a template berth does not build", container("  rootfs: {template: busybx}\n"))
case("rootfs-directory-relative", "a relative rootfs directory", container("  rootfs: {directory: srv/root}\n"))
case("rootfs-directory-dotdot", "a rootfs directory with `..`", container("  rootfs: {directory: /srv/../etc}\n"))
case("rootfs-directory-double-slash", "a rootfs directory with `//`", container("  rootfs: {directory: /srv//root}\n"))
case("rootfs-directory-trailing-slash", "a rootfs directory with a trailing slash", container("  rootfs: {directory: /srv/root/}\n"))
case("rootfs-directory-dot", "a rootfs directory with `.`", container("  rootfs: {directory: /srv/./root}\n"))
case("rootfs-directory-newline", "an escaped newline in the rootfs directory", container("  rootfs: {directory: \"/srv/ro\\not\"}\n"))
case("rootfs-directory-tab", "an escaped tab in the rootfs directory", container("  rootfs: {directory: \"/srv/ro\\tot\"}\n"))
case("rootfs-directory-nul", "an escaped NUL in the rootfs directory", container("  rootfs: {directory: \"/srv/ro\\0ot\"}\n"))
case("rootfs-directory-empty", "an empty rootfs directory", container("  rootfs: {directory: \"\"}\n"))
case("rootfs-tarball-extension", "a tarball with a .zip name", container("  rootfs: {tarball: /srv/debian.zip}\n"))
case("rootfs-tarball-relative", "a relative tarball path", container("  rootfs: {tarball: debian.tar.xz}\n"))
case("rootfs-persistent-string", "persistent 'yes' (YAML 1.1 boolean)", container("  rootfs: {template: busybox, persistent: yes}\n"))
case("init-command-empty", "an empty init command", with_rootfs("  init: {command: []}\n"))
case("init-command-string", "the init command as a string", with_rootfs("  init: {command: /bin/sh}\n"))
case("init-command-number", "a number in the init command", with_rootfs("  init: {command: [/bin/sleep, 10]}\n"))
case("init-command-nested", "a list inside the init command", with_rootfs("  init: {command: [/bin/sh, [a]]}\n"))
case("init-command-null-item", "a null in the init command", with_rootfs("  init: {command: [/bin/sh, ~]}\n"))
case("init-working-dir-relative", "a relative working directory", with_rootfs("  init: {workingDir: srv}\n"))
case("init-working-dir-dotdot", "a working directory with `..`", with_rootfs("  init: {workingDir: /srv/..}\n"))
case("init-unknown-field", "a misspelled init field", with_rootfs("  init: {comand: [/bin/sh]}\n"))
case("env-bad-name", "an environment name with a dash", with_rootfs("  env: {MY-VAR: x}\n"))
case("env-name-digit", "an environment name starting with a digit", with_rootfs("  env: {1VAR: x}\n"))
case("env-value-number", "an environment value that is a number", with_rootfs("  env: {PORT: 8080}\n"))
case("env-value-null", "an environment value that is null", with_rootfs("  env: {PORT: ~}\n"))
case("env-list", "env as a list of NAME=VALUE", with_rootfs("  env: [\"A=b\"]\n"))
case("env-duplicate", "the same environment name twice", with_rootfs("  env:\n    A: one\n    A: two\n"))
case("env-name-equals", "an environment name with `=`", with_rootfs("  env: {\"A=B\": x}\n"))
case("placement-hostnames-string", "placement.hostnames as a string", with_rootfs("  placement: {hostnames: node1}\n"))
case("placement-labels-list", "placement.hostLabels as a list", with_rootfs("  placement: {hostLabels: [role=web]}\n"))
case("placement-unknown", "a misspelled placement field", with_rootfs("  placement: {hostname: [node1]}\n"))
case("profiles-string", "profiles as a string", with_rootfs("  profiles: small\n"))
case("profiles-unknown", "a profile no document declares", with_rootfs("  profiles: [smal]\n"))
case("profiles-bad-name", "a profile name with upper case", with_rootfs("  profiles: [Small]\n"))
case("restart-policy-unknown", "restartPolicy 'unless-stopped'", with_rootfs("  restartPolicy: unless-stopped\n"))
case("restart-policy-camel", "restartPolicy 'OnFailure'", with_rootfs("  restartPolicy: OnFailure\n"))
for slug, value, what in [
    ("stop-timeout-number", "10", "a bare number"),
    ("stop-timeout-space", '"10 s"', "a space before the unit"),
    ("stop-timeout-negative", "-5s", "negative"),
    ("stop-timeout-unit", "1y", "in years"),
    ("stop-timeout-empty", '""', "empty"),
    ("stop-timeout-huge", "99999999999999999999h", "past 64 bits"),
]:
    case(slug, f"stopTimeout {what}", with_rootfs(f"  stopTimeout: {value}\n"))
case("policy-drift-unknown", "drift policy 'fix'", with_rootfs("  policy: {drift: fix}\n"))
case("policy-unknown-field", "a misspelled policy field", with_rootfs("  policy: {drfit: warn}\n"))
case("spec-typo", "a misspelled spec field", with_rootfs("  hostnme: web1\n"))
case("spec-kubernetes-field", "a Kubernetes field berth does not have", with_rootfs("  containers: []\n"))

# --- resources ------------------------------------------------------------------
for slug, value, what in [
    ("memory-decimal-m", "512M", "512M (decimal suffix)"),
    ("memory-decimal-g", "1G", "1G (decimal suffix)"),
    ("memory-decimal-gb", "10GB", "10GB"),
    ("memory-decimal-k", "1k", "1k"),
    ("memory-bytes-suffix", "100B", "100B"),
    ("memory-space", '"512 Mi"', "with a space"),
    ("memory-negative", "-1", "negative"),
    ("memory-fraction-bytes", "1.5", "a fraction of a byte"),
    ("memory-below-minimum", "3Mi", "below 4Mi"),
    ("memory-unknown-suffix", "5Xi", "an unknown suffix"),
    ("memory-lowercase-suffix", "512mi", "a lower-case suffix"),
    ("memory-overflow", "17179869184Gi", "past 2^64 bytes"),
    ("memory-fraction-too-fine", "1.0000000001Ki", "not a whole number of bytes"),
    ("memory-bool", "true", "a boolean"),
    ("memory-hex", "0x1000", "hexadecimal"),
    ("memory-max-keyword", "max", "the cgroup keyword 'max'"),
]:
    case(slug, f"memory.max {what}", with_rootfs(f"  resources:\n    memory:\n      max: {value}\n"))
case("memory-high-above-max", "memory.high above memory.max", with_rootfs("  resources: {memory: {max: 256Mi, high: 512Mi}}\n"))
case("memory-swap-words", "memory.swap as words", with_rootfs("  resources: {memory: {swap: lots}}\n"))
case("memory-typo", "a misspelled resources field", with_rootfs("  resources: {memroy: {max: 256Mi}}\n"))
case("memory-limit-kubernetes", "memory.limit (Kubernetes' word)", with_rootfs("  resources: {memory: {limit: 256Mi}}\n"))
for slug, value, what in [
    ("cpu-weight-zero", "0", "0"),
    ("cpu-weight-too-big", "10001", "10001"),
    ("cpu-weight-negative", "-1", "negative"),
    ("cpu-weight-string", '"100"', "a quoted number"),
    ("cpu-weight-float", "1.5", "a fraction"),
]:
    case(slug, f"cpu.weight {what}", with_rootfs(f"  resources: {{cpu: {{weight: {value}}}}}\n"))
for slug, value, what in [
    ("cpu-limit-zero", "0", "0"),
    ("cpu-limit-zero-millicores", '"0m"', "0m"),
    ("cpu-limit-words", "half", "a word"),
    ("cpu-limit-four-decimals", "1.2345", "with four decimals"),
    ("cpu-limit-negative", "-1", "negative"),
    ("cpu-limit-huge", "99999999999999999999", "past 64 bits"),
    ("cpu-limit-percent", '"50%"', "a percentage"),
    ("cpu-limit-bool", "false", "a boolean"),
]:
    case(slug, f"cpu.limit {what}", with_rootfs(f"  resources: {{cpu: {{limit: {value}}}}}\n"))
for slug, value, what in [
    ("cpus-reversed-range", '"3-1"', "a reversed range"),
    ("cpus-letters", '"a-b"', "letters"),
    ("cpus-too-high", '"0-99999"', "past the largest cpu"),
    ("cpus-number", "3", "a bare number"),
    ("cpus-trailing-comma", '"0,1,"', "a trailing comma"),
]:
    case(slug, f"cpu.cpus {what}", with_rootfs(f"  resources: {{cpu: {{cpus: {value}}}}}\n"))
for slug, value, what in [
    ("pids-zero", "0", "0"),
    ("pids-too-big", "4194305", "4194305"),
    ("pids-negative", "-5", "negative"),
    ("pids-words", "many", "a word"),
    ("pids-max-keyword", "max", "the cgroup keyword 'max'"),
]:
    case(slug, f"pids.max {what}", with_rootfs(f"  resources: {{pids: {{max: {value}}}}}\n"))
case("io-weight-zero", "io.weight 0", with_rootfs("  resources: {io: {weight: 0}}\n"))
case("io-device-relative", "an io limit on a relative device path", with_rootfs("  resources: {io: {limits: [{device: sda, readBps: 10Mi}]}}\n"))
case("io-device-outside-dev", "an io limit on a path outside /dev", with_rootfs("  resources: {io: {limits: [{device: /etc/passwd, readBps: 10Mi}]}}\n"))
case("io-device-bad-number", "an io limit on device 8:x", with_rootfs("  resources: {io: {limits: [{device: \"8:x\", readBps: 10Mi}]}}\n"))
case("io-read-bps-decimal", "an io readBps of 10MB", with_rootfs("  resources: {io: {limits: [{device: \"8:0\", readBps: 10MB}]}}\n"))
case("io-read-iops-zero", "an io readIops of 0", with_rootfs("  resources: {io: {limits: [{device: \"8:0\", readIops: 0}]}}\n"))
case("io-limit-without-device", "an io limit without a device", with_rootfs("  resources: {io: {limits: [{readBps: 10Mi}]}}\n"))
case("disk-size-too-small", "a disk image below the 16Mi minimum", with_rootfs("  resources: {disk: {size: 8Mi}}\n"))
case("resources-list", "resources as a list", with_rootfs("  resources: [cpu]\n"))

# --- devices, capabilities, security, mounts ---------------------------------------
case("device-outside-dev", "a device path outside /dev", with_rootfs("  devices: [{path: /etc/shadow}]\n"))
case("device-dotdot", "a device path with `..`", with_rootfs("  devices: [{path: /dev/../etc/shadow}]\n"))
case("device-access-x", "device access 'rwx'", with_rootfs("  devices: [{path: /dev/fuse, access: rwx}]\n"))
case("device-access-empty", "empty device access", with_rootfs("  devices: [{path: /dev/fuse, access: \"\"}]\n"))
case("device-without-path", "a device without a path", with_rootfs("  devices: [{access: rw}]\n"))
case("capability-unknown", "an unknown capability", with_rootfs("  capabilities: {add: [CAP_FLY]}\n"))
case("capability-all-added", "ALL in capabilities.add", with_rootfs("  capabilities: {add: [ALL]}\n"))
case("capability-number", "a capability given as a number", with_rootfs("  capabilities: {add: [21]}\n"))
case("capability-string", "capabilities.drop as a string", with_rootfs("  capabilities: {drop: NET_RAW}\n"))
case("capability-lowercase-prefix", "a capability 'cap_net_raww'", with_rootfs("  capabilities: {drop: [cap_net_raww]}\n"))
case("security-privileged-yes", "privileged 'yes'", with_rootfs("  security: {privileged: yes}\n"))
case("security-seccomp-unknown", "seccomp 'strict'", with_rootfs("  security: {seccomp: strict}\n"))
case("security-nnp-number", "noNewPrivileges 1", with_rootfs("  security: {noNewPrivileges: 1}\n"))
case("security-unknown-field", "a security field berth does not have", with_rootfs("  security: {apparmor: unconfined}\n"))
case("mount-bind-without-source", "a bind mount without a source", with_rootfs("  mounts: [{destination: /data}]\n"))
case("mount-tmpfs-with-source", "a tmpfs mount with a source", with_rootfs("  mounts: [{type: tmpfs, source: /srv, destination: /data}]\n"))
case("mount-destination-root", "a mount on /", with_rootfs("  mounts: [{source: /srv, destination: /}]\n"))
case("mount-destination-relative", "a relative mount destination", with_rootfs("  mounts: [{source: /srv, destination: data}]\n"))
case("mount-destination-dotdot", "a mount destination climbing out with `..`", with_rootfs("  mounts: [{source: /srv, destination: /data/../../etc}]\n"))
case("mount-source-dotdot", "a mount source with `..`", with_rootfs("  mounts: [{source: /srv/../etc, destination: /data}]\n"))
case("mount-source-newline", "an escaped newline in a mount source", with_rootfs("  mounts: [{source: \"/srv\\n/x\", destination: /data}]\n"))
case("mount-source-c1", "an escaped C1 control (U+0085) in a mount source", with_rootfs("  mounts: [{source: \"/srv\\x85x\", destination: /data}]\n"))
case("mount-source-paragraph-separator", "an escaped U+2029 in a mount source", with_rootfs("  mounts: [{source: \"/srv\\u2029x\", destination: /data}]\n"))
case("mount-type-overlay", "a mount of type overlay", with_rootfs("  mounts: [{type: overlay, source: /srv, destination: /data}]\n"))
case("mount-size-on-bind", "a size on a bind mount", with_rootfs("  mounts: [{source: /srv, destination: /data, size: 1Gi}]\n"))
case("mount-readonly-string", "readOnly 'no'", with_rootfs("  mounts: [{source: /srv, destination: /data, readOnly: no}]\n"))
case("mount-tmpfs-size-decimal", "a tmpfs size of 64M", with_rootfs("  mounts: [{type: tmpfs, destination: /tmp, size: 64M}]\n"))
case("mount-destination-trailing-slash", "a mount destination with a trailing slash", with_rootfs("  mounts: [{source: /srv, destination: /data/}]\n"))

# --- id maps -------------------------------------------------------------------------
def idmap(uid, gid=None):
    text = "  userNamespace:\n    uidMap: " + uid + "\n"
    if gid is not None:
        text += "    gidMap: " + gid + "\n"
    return with_rootfs(text)


case("idmap-empty", "an empty uidMap", idmap("[]"))
case("idmap-no-root", "a uidMap that does not map container root", idmap("[{containerID: 1, hostID: 100000, size: 65536}]"))
case("idmap-overlap-container", "two ranges overlapping on the container side", idmap("[{containerID: 0, hostID: 100000, size: 1000}, {containerID: 500, hostID: 300000, size: 1000}]"))
case("idmap-overlap-host", "two ranges overlapping on the host side", idmap("[{containerID: 0, hostID: 100000, size: 1000}, {containerID: 5000, hostID: 100500, size: 1000}]"))
case("idmap-size-zero", "a range of size 0", idmap("[{containerID: 0, hostID: 100000, size: 0}]"))
case("idmap-host-overflow", "hostID + size past 4294967295", idmap("[{containerID: 0, hostID: 4294967290, size: 100}]"))
case("idmap-container-overflow", "containerID + size past 4294967295", idmap("[{containerID: 0, hostID: 100000, size: 1}, {containerID: 4294967295, hostID: 200000, size: 1}]"))
case("idmap-negative", "a negative hostID", idmap("[{containerID: 0, hostID: -1, size: 1}]"))
case("idmap-missing-size", "a range without size", idmap("[{containerID: 0, hostID: 100000}]"))
case("idmap-string-id", "a hostID written as a string", idmap("[{containerID: 0, hostID: \"100000\", size: 1}]"))
case("idmap-too-many-ranges", "341 ranges (the kernel takes 340)", idmap("[" + ", ".join(f"{{containerID: {i}, hostID: {100000 + i}, size: 1}}" for i in range(341)) + "]"))
case("idmap-gid-no-root", "a gidMap that does not map container root", idmap("[{containerID: 0, hostID: 100000, size: 65536}]", "[{containerID: 1, hostID: 100000, size: 10}]"))
case("idmap-missing-uidmap", "a userNamespace with only a gidMap", with_rootfs("  userNamespace:\n    gidMap: [{containerID: 0, hostID: 100000, size: 65536}]\n"))
case("idmap-unknown-field", "a uidMap range with a misspelled key", idmap("[{containerId: 0, hostID: 100000, size: 65536}]"))

# --- container networking -------------------------------------------------------------
case("address-invalid", "an address with an octet of 300", attached(attachment="    - network: front\n      addresses: [10.88.0.300]\n"))
case("address-prefix-too-long", "an address with /33", attached(attachment="    - network: front\n      addresses: [10.88.0.11/33]\n"))
case("address-ipv6-malformed", "a malformed IPv6 address", attached(attachment="    - network: front\n      addresses: [\"fd00::1::2\"]\n"))
case("address-outside-subnet", "an address outside the network's subnet", attached(attachment="    - network: front\n      addresses: [10.99.0.11]\n"))
case("address-is-gateway", "an address that is the network's gateway", attached(attachment="    - network: front\n      addresses: [10.88.0.1]\n"))
case("address-is-network", "an address that is the subnet's network address", attached(attachment="    - network: front\n      addresses: [10.88.0.0]\n"))
case("address-is-broadcast", "an address that is the subnet's broadcast address", attached(attachment="    - network: front\n      addresses: [10.88.0.255]\n"))
case("address-prefix-differs", "an address with another prefix than its network", attached(attachment="    - network: front\n      addresses: [10.88.0.11/16]\n"))
case("address-ipv6-without-subnet", "an IPv6 address on a network without one", attached(attachment="    - network: front\n      addresses: [\"fd00::11\"]\n"))
case("address-leading-zero", "an address with a leading zero", attached(attachment="    - network: front\n      addresses: [10.88.0.011]\n"))
case("address-number", "an address given as a number", attached(attachment="    - network: front\n      addresses: [167772171]\n"))
case("address-taken-twice", "one address given to two containers",
     attached() + "---\n" + container("  rootfs: {template: busybox}\n  networks:\n    - network: front\n      addresses: [10.88.0.11]\n", name="web2"))
case("interface-too-long", "an interface name of 16 bytes", attached(attachment="    - network: front\n      interface: eth0123456789abc\n"))
case("interface-slash", "an interface name with a slash", attached(attachment="    - network: front\n      interface: eth/0\n"))
case("interface-colon", "an interface name with a colon", attached(attachment="    - network: front\n      interface: \"eth0:1\"\n"))
case("interface-dot", "the interface name `.`", attached(attachment="    - network: front\n      interface: .\n"))
case("interface-space", "an interface name with a space", attached(attachment="    - network: front\n      interface: \"eth 0\"\n"))
case("interface-unicode", "a non-ASCII interface name", attached(attachment="    - network: front\n      interface: ethé\n"))
case("interface-duplicate", "two attachments with one interface name",
     network("  subnet: 10.88.0.0/24\n") + "---\n" + network("  subnet: 10.89.0.0/24\n", name="back") + "---\n"
     + with_rootfs("  networks:\n    - network: front\n      interface: eth0\n    - network: back\n      interface: eth0\n"))
case("default-route-string", "defaultRoute 'true' as a string", attached(attachment="    - network: front\n      defaultRoute: \"true\"\n"))
case("default-route-twice", "two attachments with defaultRoute",
     network("  subnet: 10.88.0.0/24\n") + "---\n" + network("  subnet: 10.89.0.0/24\n", name="back") + "---\n"
     + with_rootfs("  networks:\n    - network: front\n      defaultRoute: true\n    - network: back\n      defaultRoute: true\n"))
case("network-unknown", "an attachment to a network no document declares", with_rootfs("  networks:\n    - network: frnt\n"))
case("network-attached-twice", "one network attached twice", attached(attachment="    - network: front\n    - network: front\n"))
case("attachment-without-network", "an attachment without a network", attached(attachment="    - addresses: [10.88.0.11]\n"))
case("attachment-string", "an attachment written as a bare string", attached(attachment="    - front\n"))
case("firewall-policy-reject", "firewall defaultPolicy 'reject'", with_rootfs("  firewall: {defaultPolicy: reject}\n"))
case("firewall-action-missing", "a firewall rule without an action", with_rootfs("  firewall: {rules: [{protocol: tcp, port: 80}]}\n"))
case("firewall-protocol-sctp", "a firewall rule for sctp", with_rootfs("  firewall: {rules: [{action: allow, protocol: sctp}]}\n"))
case("firewall-port-zero", "a firewall rule for port 0", with_rootfs("  firewall: {rules: [{action: allow, protocol: tcp, port: 0}]}\n"))
case("firewall-port-too-big", "a firewall rule for port 65536", with_rootfs("  firewall: {rules: [{action: allow, protocol: tcp, port: 65536}]}\n"))
case("firewall-port-icmp", "a port on an icmp rule", with_rootfs("  firewall: {rules: [{action: allow, protocol: icmp, port: 8}]}\n"))
case("firewall-from-invalid", "a firewall rule from a bad cidr", with_rootfs("  firewall: {rules: [{action: allow, from: 10.0.0.0/40}]}\n"))
case("firewall-port-range", "a port range as a string", with_rootfs("  firewall: {rules: [{action: allow, protocol: tcp, port: \"80-90\"}]}\n"))
case("firewall-action-accept", "a firewall rule action 'accept'", with_rootfs("  firewall: {rules: [{action: accept}]}\n"))

# --- networks ------------------------------------------------------------------------
case("subnet-missing", "a network without a subnet", network("  nat: true\n"))
case("subnet-invalid", "a subnet that is not a cidr", network("  subnet: front-net\n"))
case("subnet-host-bits", "a subnet with host bits set", network("  subnet: 10.88.0.1/24\n"))
case("subnet-no-prefix", "a subnet without a prefix length", network("  subnet: 10.88.0.0\n"))
case("subnet-ipv6-in-ipv4-field", "an IPv6 subnet in `subnet`", network("  subnet: \"fd00::/64\"\n"))
case("subnet-prefix-33", "a subnet with /33", network("  subnet: 10.88.0.0/33\n"))
case("subnet-overlap", "two networks with overlapping subnets", network("  subnet: 10.88.0.0/16\n") + "---\n" + network("  subnet: 10.88.5.0/24\n", name="back"))
case("subnet-identical", "two networks with the same subnet", network("  subnet: 10.88.0.0/24\n") + "---\n" + network("  subnet: 10.88.0.0/24\n", name="back"))
case("gateway-outside", "a gateway outside the subnet", network("  subnet: 10.88.0.0/24\n  gateway: 10.99.0.1\n"))
case("gateway-is-network", "the gateway is the network address", network("  subnet: 10.88.0.0/24\n  gateway: 10.88.0.0\n"))
case("gateway-is-broadcast", "the gateway is the broadcast address", network("  subnet: 10.88.0.0/24\n  gateway: 10.88.0.255\n"))
case("ipv6-subnet-v4", "an IPv4 cidr as the IPv6 subnet", network("  subnet: 10.88.0.0/24\n  ipv6: {subnet: 10.89.0.0/24}\n"))
case("ipv6-without-subnet", "ipv6 without a subnet", network("  subnet: 10.88.0.0/24\n  ipv6: {gateway: \"fd00::1\"}\n"))
case("ipv6-overlap", "two networks with overlapping IPv6 subnets",
     network("  subnet: 10.88.0.0/24\n  ipv6: {subnet: \"fd00::/48\"}\n") + "---\n" + network("  subnet: 10.89.0.0/24\n  ipv6: {subnet: \"fd00::/64\"}\n", name="back"))
case("mtu-too-small", "an MTU of 67", network("  subnet: 10.88.0.0/24\n  mtu: 67\n"))
case("mtu-too-big", "an MTU of 65536", network("  subnet: 10.88.0.0/24\n  mtu: 65536\n"))
case("mtu-string", "an MTU as a string", network("  subnet: 10.88.0.0/24\n  mtu: jumbo\n"))
case("bridge-too-long", "a bridge name of 16 bytes", network("  subnet: 10.88.0.0/24\n  bridge: br-front-network1\n"))
case("bridge-slash", "a bridge name with a slash", network("  subnet: 10.88.0.0/24\n  bridge: br/front\n"))
case("bridge-dotdot", "the bridge name `..`", network("  subnet: 10.88.0.0/24\n  bridge: \"..\"\n"))
case("bridge-newline", "an escaped newline in the bridge name", network("  subnet: 10.88.0.0/24\n  bridge: \"br\\nx\"\n"))
case("bridge-shared", "two networks with one bridge name",
     network("  subnet: 10.88.0.0/24\n  bridge: br0\n") + "---\n" + network("  subnet: 10.89.0.0/24\n  bridge: br0\n", name="back"))
case("nat-yes", "nat 'yes'", network("  subnet: 10.88.0.0/24\n  nat: yes\n"))
case("isolated-number", "isolated 1", network("  subnet: 10.88.0.0/24\n  isolated: 1\n"))
case("network-placement-typo", "a misspelled placement field on a network", network("  subnet: 10.88.0.0/24\n  placement: {hosts: [node1]}\n"))
case("network-unknown-field", "a field of a Container in a Network", network("  subnet: 10.88.0.0/24\n  hostname: front\n"))


def forward(text, attach=True):
    own = network("  subnet: 10.88.0.0/24\n  portForwards:\n" + text)
    if attach:
        own += "---\n" + with_rootfs("  networks:\n    - network: front\n      addresses: [10.88.0.11]\n")
    return own


case("forward-port-zero", "a port forward from host port 0", forward("    - {hostPort: 0, container: web1}\n"))
case("forward-port-too-big", "a port forward from host port 70000", forward("    - {hostPort: 70000, container: web1}\n"))
case("forward-container-port-zero", "a port forward to container port 0", forward("    - {hostPort: 8080, container: web1, containerPort: 0}\n"))
case("forward-without-container", "a port forward without a container", forward("    - {hostPort: 8080}\n"))
case("forward-without-port", "a port forward without a host port", forward("    - {container: web1}\n"))
case("forward-unknown-container", "a port forward to a container no document declares", forward("    - {hostPort: 8080, container: wbe1}\n"))
case("forward-not-attached", "a port forward to a container not on the network",
     network("  subnet: 10.88.0.0/24\n  portForwards:\n    - {hostPort: 8080, container: web1}\n") + "---\n" + with_rootfs(""))
case("forward-protocol-icmp", "a port forward for icmp", forward("    - {protocol: icmp, hostPort: 8080, container: web1}\n"))
case("forward-duplicate", "one host port forwarded twice", forward("    - {hostPort: 8080, container: web1}\n    - {hostPort: 8080, container: web1, containerPort: 81}\n"))
case("forward-host-address-invalid", "a port forward on a bad host address", forward("    - {hostPort: 8080, hostAddress: 192.168.1.300, container: web1}\n"))
case("forward-host-address-cidr", "a port forward on a cidr host address", forward("    - {hostPort: 8080, hostAddress: 192.168.1.0/24, container: web1}\n"))
case("forward-port-string", "a port forward with a quoted port", forward("    - {hostPort: \"8080\", container: web1}\n"))

# --- across documents, profiles --------------------------------------------------------
case("container-declared-twice", "two containers with one name", container() + "---\n" + container())
case("network-declared-twice", "two networks with one name", network() + "---\n" + network("  subnet: 10.89.0.0/24\n"))
case("profile-declared-twice", "two profiles with one name", profile("  stopTimeout: 5s\n") + "---\n" + profile("  stopTimeout: 6s\n"))
case("profile-with-placement", "a profile with placement", profile("  placement: {hostnames: [node1]}\n"))
case("profile-with-profiles", "a profile that lists profiles", profile("  profiles: [base]\n"))
case("profile-bad-value", "a profile with a bad value", profile("  resources: {memory: {max: 256M}}\n"))
case("profile-disk-inodes", "a profile with a disk inode limit and no size", profile("  resources: {disk: {inodes: 1000}}\n"))
case("profile-unknown-field", "a profile with a misspelled field", profile("  resorces: {}\n"))
case("default-profile-bad-value", "the host's default profile with a decimal size", profile("  resources: {memory: {max: 512M}}\n", name="default"))
case("default-profile-unknown-field", "the host's default profile with a misspelled field", profile("  resources: {pid: {max: 1024}}\n", name="default"))
case("default-profile-high-above-max", "the default profile's memory.high above a container's memory.max",
     profile("  resources: {memory: {high: 512Mi}}\n", name="default") + "---\n" + with_rootfs("  resources: {memory: {max: 256Mi}}\n"))
case("many-errors-in-one-file", "every error of a file is reported, each on its own line",
     with_rootfs("  state: paused\n  hostname: web_1\n  restartPolicy: sometimes\n  resources: {memory: {max: 1G}, pids: {max: 0}}\n"))

# --- added with the network isolation and nested user namespace fields ------------
case("subnet-loopback", "a subnet in the loopback range", network("  subnet: 127.0.0.0/8\n"))
case("subnet-everything", "0.0.0.0/0 as a subnet", network("  subnet: 0.0.0.0/0\n"))
case("subnet-link-local", "a subnet in the link-local range", network("  subnet: 169.254.0.0/16\n"))
case("subnet-multicast", "a subnet in the multicast range", network("  subnet: 224.0.0.0/24\n"))
case("reach-unknown", "a network that reaches one no document declares", network("  subnet: 10.88.0.0/24\n  reach: [bakc]\n"))
case("reach-itself", "a network that lists itself in reach", network("  subnet: 10.88.0.0/24\n  reach: [front]\n"))
case("reach-string", "reach as a string", network("  subnet: 10.88.0.0/24\n  reach: back\n"))
case("nested-user-namespaces-yes", "nestedUserNamespaces 'yes'", with_rootfs("  security: {nestedUserNamespaces: yes}\n"))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    names = set()
    for old in OUT.glob("*.yaml"):
        old.unlink()
    for number, (name, comment, data) in enumerate(CASES, start=1):
        assert name not in names, name
        names.add(name)
        header = f"# {comment}\n".encode()
        if data.startswith(b"\xef\xbb\xbf"):
            body = data[:3] + header + data[3:]
        else:
            body = header + data
        (OUT / f"{number:03d}-{name}.yaml").write_bytes(body)
    print(f"{len(CASES)} cases in {OUT.relative_to(ROOT)}")
    if len(sys.argv) == 3 and sys.argv[1] == "--expected":
        berth = str(Path(sys.argv[2]).resolve())
        for old in OUT.glob("*.expected"):
            old.unlink()
        for path in sorted(OUT.glob("*.yaml")):
            result = subprocess.run([berth, "validate", *HOST, path.name], cwd=OUT, capture_output=True, timeout=60)
            lines = [line for line in result.stderr.decode("utf-8", "replace").splitlines() if ": error: " in line]
            path.with_suffix(".expected").write_text("".join(line + "\n" for line in lines))
            if result.returncode != 1 or not lines:
                print(f"{path.name}: exit {result.returncode}, {len(lines)} error lines", file=sys.stderr)


if __name__ == "__main__":
    main()
