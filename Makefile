# berth: `make demo` shows it working, `make test` runs every test lane.
SHELL := /bin/bash
SWIFT ?= swift
# Debian's python3 carries the apt-installed jsonschema/pytest (not a pyenv one).
PYTHON ?= /usr/bin/python3
BERTH := .build/debug/berth

.PHONY: all deps build release install test test-swift test-schemas test-cli test-kernel test-vm test-vm-criu deps-vm lint demo bench bench-short fuzz fuzz-short clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build

# Release builds are tuned for start-up, which every CLI call pays (berth run
# included): the Swift runtime and Foundation linked statically (~2 ms), and
# libstdc++ too (~0.9 ms: the loader no longer maps it and resolves its ~4300
# symbol relocations; nothing berth loads later uses C++). The toolchain names
# -lstdc++ itself, so a directory that holds only the static archive comes
# first in the search path. Linked by lld with packed relative relocations
# (DT_RELR, glibc >= 2.36: a 8 KiB table instead of 1 MiB); type metadata
# reached through direct accessors instead of mangled names that the runtime
# demangles on first use (~1 ms per `berth run`; larger code); no $ORIGIN
# rpath (nothing is loaded from beside the binary, so the loader need not
# look there for every library); and no dynamic symbol table of berth's own
# ~10,800 symbols (the toolchain's static-stdlib arguments export them all):
# the Swift runtime's start-up dladdr scans that table, and the loader's
# symbol lookups start in it (~0.3 ms of every berth process; nothing
# looks a berth symbol up by name: dlsym only on the libraries' handles).
# And not position-independent (-no-pie): a PIE's ~46,000 relative
# relocations (Swift metadata, witness tables) are applied by the loader at
# every start, a copy-on-write fault for each of the ~145 pages they touch;
# at a fixed address the linker resolves them (a bare berth process 1.08 ->
# 0.80 ms of CPU, 253 -> 117 page faults). The price: berth's own code and
# data are not at a random address (its libraries, heap and stack still are):
# `make release PIE=1` keeps a position-independent berth, for a site that
# wants its image randomised too.
# libgcc's unwinder is linked in too (-static-libgcc): one library less for
# the loader to map, relocate and initialise (libgcc_s.so's cpu-feature
# constructor; a bare berth process ~0.05-0.1 ms).
STATIC_CXX := $(CURDIR)/.build/static-libstdc++
PIE ?= 0
ifeq ($(PIE),1)
NO_PIE :=
else
NO_PIE := -Xswiftc -Xclang-linker -Xswiftc -no-pie
endif
RELEASE_FLAGS := --static-swift-stdlib --disable-local-rpath \
	-Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors \
	-Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic \
	-Xswiftc -L$(STATIC_CXX) $(NO_PIE) \
	-Xswiftc -Xclang-linker -Xswiftc -static-libgcc
release: deps
	@archive=$$(clang -print-file-name=libstdc++.a); \
	if [[ $$archive != /* ]]; then echo "release: no static libstdc++ (apt-get install libstdc++-12-dev)" >&2; exit 1; fi; \
	mkdir -p $(STATIC_CXX) && ln -sfn "$$archive" $(STATIC_CXX)/libstdc++.a
	$(SWIFT) build -c release $(RELEASE_FLAGS)
	@if readelf -d .build/release/berth | grep -q 'NEEDED.*libstdc'; then \
		echo "release: berth still loads libstdc++.so" >&2; exit 1; fi
	@if readelf -d .build/release/berth | grep -q 'NEEDED.*libgcc_s'; then \
		echo "release: berth still loads libgcc_s.so" >&2; exit 1; fi
	@if [ "$$(readelf --dyn-syms -W .build/release/berth | wc -l)" -gt 2000 ]; then \
		echo "release: berth still exports its symbols (--no-export-dynamic came before -export-dynamic)" >&2; exit 1; fi
	@if [ "$(PIE)" != 1 ] && ! readelf -h .build/release/berth | grep -q 'Type: *EXEC'; then \
		echo "release: berth is still position-independent (-no-pie did not reach the linker)" >&2; exit 1; fi

# The agent under systemd (README: "Running the agent under systemd"): the
# release binary, the unit and the journal catalog. Then, as root:
#   systemctl daemon-reload && systemctl enable --now berth
PREFIX ?= /usr/local
install: release
	install -D -m 0755 .build/release/berth $(DESTDIR)$(PREFIX)/bin/berth
	install -d -m 0755 $(DESTDIR)/etc/systemd/system
	sed 's|/usr/local/|$(PREFIX)/|g' dist/berth.service > $(DESTDIR)/etc/systemd/system/berth.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/berth.service
	@# The operator's flags are kept across reinstalls.
	[ -e $(DESTDIR)/etc/default/berth ] || install -D -m 0644 dist/berth.default $(DESTDIR)/etc/default/berth
	install -D -m 0644 dist/berth.catalog $(DESTDIR)/usr/lib/systemd/catalog/berth.catalog
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/berth/README.md
	@# berth(1) from swift-argument-parser's generate-manual, and completions
	@# (container names from the state dir, manifest files and directories).
	bash scripts/generate-docs.sh $(CURDIR)/.build/release/berth $(CURDIR)/.build/docs
	install -D -m 0644 .build/docs/berth.1 $(DESTDIR)$(PREFIX)/share/man/man1/berth.1
	install -D -m 0644 .build/docs/berth.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/berth
	install -D -m 0644 .build/docs/berth.zsh $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_berth
	install -D -m 0644 .build/docs/berth.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/berth.fish
	install -d -m 0755 $(DESTDIR)/etc/berth/manifests
	@if [ -z "$(DESTDIR)" ]; then journalctl --update-catalog; systemctl daemon-reload 2>/dev/null || true; fi

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests fuzz Package.swift

test-swift: build
	$(SWIFT) test

test-schemas: deps
	$(PYTHON) -m pytest -q Tests/schema

test-cli: build
	BERTH=$(BERTH) $(PYTHON) -m pytest -q Tests/cli

# Lane 2: the real kernel, as root, inside a sandbox host (own net and mount
# namespaces, cgroups under a parent each test names): the kernel suites and
# the CLI tests marked `sandbox`, then a leak check.
test-kernel: build
	@if [ "$$(id -u)" -ne 0 ]; then echo "lane 2 skipped: it needs root"; else \
		bash scripts/sandbox-run.sh $(SWIFT) test --skip-build --filter 'HostKernelTests\.' && \
		BERTH=$(BERTH) bash scripts/sandbox-run.sh $(PYTHON) -m pytest -q -p no:cacheprovider -m sandbox Tests/cli && \
		bash scripts/check-leaks.sh; fi

deps-vm:
	@bash scripts/install-vm-deps.sh

# Lane 3: lane 2's cgroup-dependent suites on cgroup v2, and the CRIU suites
# (criu check passes on Debian's kernel there), in a VM (virtme-ng, Debian's kernel,
# qemu without KVM). Runs when its tools are present (make deps-vm installs
# them; .ci/run always does).
test-vm: build
	@if [ -x .build-venv/bin/vng ] && ls /boot/vmlinuz-* >/dev/null 2>&1; then \
		$(SWIFT) build --build-tests && bash scripts/vm-lane.sh; \
	else echo "lane 3 skipped: run 'make deps-vm' for the cgroup v2 VM"; fi

# The CRIU suites alone in the VM (they are in test-vm's list too): ~8 min
# under qemu TCG, seconds with KVM (vm-run.sh uses it where the CPU has it).
test-vm-criu: build
	$(SWIFT) build --build-tests
	BERTH_VM_SUITES='CheckpointTests|CheckpointTCPTests|MigrateTests' BERTH_CRIU_REQUIRED=1 bash scripts/vm-lane.sh

test: build lint test-swift test-schemas test-cli test-kernel test-vm
	$(BERTH) validate manifests/
	@echo "make test: all lanes passed"

demo: build
	@bash scripts/demo.sh $(BERTH)

# The checkpoint figures (freeze, dump, restore) come from the VM of lane 3
# where this host's `criu check` fails (scripts/bench-checkpoint.sh), and
# say they were measured under qemu TCG.
bench: release
	.build/release/berth-bench parse
	@if [ "$$(id -u)" -ne 0 ]; then echo "runtime benchmark skipped: it needs root"; else \
		bash scripts/sandbox-run.sh .build/release/berth-bench runtime && \
		bash scripts/sandbox-run.sh .build/release/berth-bench network && \
		bash scripts/sandbox-run.sh .build/release/berth-bench reconcile && \
		bash scripts/sandbox-run.sh .build/release/berth-bench scale 1000 && \
		bash scripts/bench-checkpoint.sh .build/release/berth-bench; fi

# CI's bounded pass of the fleet benchmark: 20 containers through the berth
# binary and the peers (seconds); it checks that the path runs, its figures
# are not targets.
bench-short: release
	@if [ "$$(id -u)" -ne 0 ]; then echo "scale benchmark skipped: it needs root"; else \
		bash scripts/bench-short.sh; fi

# libFuzzer targets (fuzz/): the manifest parser, decoder and validator, and
# the netlink decoders, 10^6 executions each from the seed corpora; the
# figures go to fuzz/last-run.txt for the README's hostile-input table.
# CI runs a short pass (fuzz-short). Their own scratch path: .build-fuzz.
FUZZ_RUNS ?= 1000000
fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_RUNS)

fuzz-short: deps
	FUZZ_SEED=1 bash scripts/fuzz.sh 20000

clean:
	rm -rf .build .build-fuzz
