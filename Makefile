# hir — the two commands a user needs are `make test` and `make demo`.
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
# Warnings are errors in CI (CI=true), and wherever WERROR=ON is given.
WERROR     ?= $(if $(filter true,$(CI)),ON,OFF)
CMAKE_ARGS ?=

.PHONY: all deps configure build test demo bench clean help

all: build

help:
	@echo "make test   install missing dependencies, build, run every test"
	@echo "make demo   build, start a local hybrid deployment, send it 10,000 images, report"
	@echo "make bench  build and run the benchmarks in bench/"
	@echo "make clean  remove $(BUILD)/"

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DHIR_WERROR=$(WERROR) $(CMAKE_ARGS)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

demo: build
	$(BUILD)/hir demo

# The side-by-side comparison with nginx and HAProxy (bench/compare.sh; DURATION=10 s per run by
# default), then the router-vs-direct run and the micro-benchmarks (bench/run.sh). Not part of
# `make test`. bench/c10k.sh (10,000 concurrent requests) is run by hand: it needs raised limits.
bench: build
	@scripts/install-deps.sh --bench
	bench/compare.sh $(BUILD)
	bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD)
