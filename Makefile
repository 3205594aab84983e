# strata: the Makefile drives CMake and installs what a fresh Debian 12
# machine is missing. Targets:
#   make            build (build/strata, build/libstrata.a)
#   make test       build and run every test through CTest
#   make test SAN=address|thread   the same under ASan+UBSan or TSan (build-address/, build-thread/)
#   make test-long  the long runs (crash loops, large model runs)
#   make fuzz       libFuzzer targets (clang), each for FUZZ_SECONDS
#   make serve      build and start the server on 127.0.0.1:9410 with data in ./strata-data
#   make deps       install the Debian packages the build needs (the other
#                   targets check with one dpkg-query and call it only when
#                   a package is missing)
#   make install    install into PREFIX (default /usr/local): strata,
#                   strata-bench, libstrata.so/.a, strata.h, strata.pc, man page
#   make ui         rebuild the web UI's bundle ui/dist from ui/src (Node.js and
#                   npm from Debian when missing; packages pinned by
#                   ui/package-lock.json); the bundle is committed, so the
#                   other targets need no Node.js
#   make ui-check   make ui, then fail if ui/dist differs from what is committed
#   make test-ui    the web UI in a real browser (Debian's chromium, driven by
#                   playwright-core) against a real `strata serve`; screenshots
#                   in build/ui-screenshots/

SAN ?=
ifeq ($(SAN),)
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
else
BUILD_DIR ?= build-$(SAN)
BUILD_TYPE ?= Debug
endif
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60
CTEST_ARGS ?=

# Debian packages: tool chain, libraries the code links, and what the tests use.
PKGS = cmake make gcc clang libclang-rt-14-dev pkg-config python3 \
       libcmocka-dev libpcre2-dev libre2-dev g++ libmicrohttpd-dev libsnappy-dev \
       libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libjansson-dev curl man-db

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps need-deps test test-long fuzz serve install clean ui ui-check ui-deps test-ui need-ui-tools

PREFIX ?= /usr/local

all: build

# One dpkg-query for every package; apt-get (with sudo when not root) only
# when something is missing.
need-deps:
	@if dpkg-query -W -f='$${Status}\n' $(PKGS) 2>/dev/null | grep -qv '^install ok installed$$' || \
	    ! dpkg-query -W $(PKGS) >/dev/null 2>&1; then $(MAKE) --no-print-directory deps; fi

deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: need-deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSTRATA_SAN=$(SAN) -DSTRATA_WERROR=ON >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -LE long $(CTEST_ARGS)

test-long: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L long $(CTEST_ARGS)

fuzz: need-deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_FUZZ=ON -DSTRATA_WERROR=ON >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	@set -e; for f in build-fuzz/fuzz_*; do \
	  [ -x "$$f" ] || continue; n=$$(basename $$f); mkdir -p build-fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build-fuzz/corpus/$$n 2>&1 | tail -n 3; done

serve: build
	./$(BUILD_DIR)/strata serve -d ./strata-data --listen 127.0.0.1:9410

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf build build-address build-thread build-fuzz

# ---- the web UI (ui/). Node.js and npm are needed only here, and chromium
# only by test-ui: each is installed from Debian when its command is missing.
UI_TOOLS = node:nodejs npm:npm
need-ui-tools:
	@missing=""; for t in $(UI_TOOLS) $(if $(filter test-ui,$(MAKECMDGOALS)),chromium:chromium); do \
	  command -v $${t%%:*} >/dev/null 2>&1 || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# ui/node_modules as package-lock.json pins it (npm ci only when the lock changed)
ui-deps: need-ui-tools
	@if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then \
	  cd ui && npm ci --no-audit --no-fund; fi

ui: ui-deps
	cd ui && node build.mjs

ui-check: ui
	@if ! git diff --quiet -- ui/dist || [ -n "$$(git status --porcelain -- ui/dist)" ]; then \
	  git status --short -- ui/dist; \
	  echo "ui-check: ui/dist differs from a rebuild of ui/src: run make ui and commit ui/dist"; exit 1; fi
	@echo "ui-check: ui/dist is the rebuild of ui/src"

test-ui: build ui-deps
	node tests/ui/matrix_test.mjs
	STRATA_BIN=$(BUILD_DIR)/strata STRATA_BUILD=$(BUILD_DIR) node tests/ui/ui_browser.mjs
