# berth: `make demo` shows it working, `make test` runs every test lane.
SHELL := /bin/bash
SWIFT ?= swift
# Debian's python3 carries the apt-installed jsonschema/pytest (not a pyenv one).
PYTHON ?= /usr/bin/python3
BERTH := .build/debug/berth

.PHONY: all deps build release test test-swift test-schemas test-cli test-kernel lint demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

test-swift: build
	$(SWIFT) test

test-schemas: deps
	$(PYTHON) -m pytest -q Tests/schema

test-cli: build
	BERTH=$(BERTH) $(PYTHON) -m pytest -q Tests/cli

# Lane 2: the real kernel, as root, inside a sandbox host (own net and mount
# namespaces, cgroups under a parent each test names), then a leak check.
test-kernel: build
	@if [ "$$(id -u)" -ne 0 ]; then echo "lane 2 skipped: it needs root"; else \
		bash scripts/sandbox-run.sh $(SWIFT) test --skip-build --filter 'HostKernelTests\.' && \
		bash scripts/check-leaks.sh; fi

test: build lint test-swift test-schemas test-cli test-kernel
	$(BERTH) validate manifests/
	@echo "make test: all lanes passed"

demo: build
	@bash scripts/demo.sh $(BERTH)

bench: release
	.build/release/berth-bench parse
	@if [ "$$(id -u)" -ne 0 ]; then echo "runtime benchmark skipped: it needs root"; else \
		bash scripts/sandbox-run.sh .build/release/berth-bench runtime; fi

clean:
	rm -rf .build
