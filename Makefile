# berth: `make demo` shows it working, `make test` runs every test lane.
SHELL := /bin/bash
SWIFT ?= swift
# Debian's python3 carries the apt-installed jsonschema/pytest (not a pyenv one).
PYTHON ?= /usr/bin/python3
BERTH := .build/debug/berth

.PHONY: all deps build release test test-swift test-schemas test-cli test-kernel test-vm deps-vm lint demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

# Release builds link the Swift runtime and Foundation statically: the berth
# binary starts in ~9 ms instead of ~15 ms (start-up counts in every CLI call).
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

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

deps-vm:
	@bash scripts/install-vm-deps.sh

# Lane 3: lane 2's tests on cgroup v2, in a VM (virtme-ng, Debian's kernel,
# qemu without KVM). Runs when its tools are present (make deps-vm installs
# them; .ci/run always does).
test-vm: build
	@if [ -x .build-venv/bin/vng ] && ls /boot/vmlinuz-* >/dev/null 2>&1; then \
		$(SWIFT) build --build-tests && bash scripts/vm-lane.sh; \
	else echo "lane 3 skipped: run 'make deps-vm' for the cgroup v2 VM"; fi

test: build lint test-swift test-schemas test-cli test-kernel test-vm
	$(BERTH) validate manifests/
	@echo "make test: all lanes passed"

demo: build
	@bash scripts/demo.sh $(BERTH)

bench: release
	.build/release/berth-bench parse
	@if [ "$$(id -u)" -ne 0 ]; then echo "runtime benchmark skipped: it needs root"; else \
		bash scripts/sandbox-run.sh .build/release/berth-bench runtime && \
		bash scripts/sandbox-run.sh .build/release/berth-bench network; fi

clean:
	rm -rf .build
