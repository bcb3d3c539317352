# SPDX-License-Identifier: MIT
# Thin front for CMake + Ninja. `make run` and `make test` install what they
# need (scripts/deps.sh), build, and do their job.
.PHONY: all deps build run test asan fuzz bench format format-check check-layers clean demo

JOBS ?= $(shell nproc)
RUN_ARGS ?=

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake --preset default >/dev/null
	@cmake --build --preset default -j $(JOBS)

run:
	@bash scripts/deps.sh --run
	@cmake --preset default >/dev/null
	@cmake --build --preset default -j $(JOBS) --target wagate
	./build/wagate gateway $(RUN_ARGS)

# The whole suite: unit, integration, conformance and a short run of every
# fuzzer, all under ASan+UBSan. Ends with ctest's summary line.
test:
	@bash scripts/test.sh

asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

# fakewa + a gateway linked to a simulated phone + an echo bot (exec hook), all on loopback.
demo: deps
	@bash scripts/demo.sh

bench: build
	@bash scripts/deps.sh --test
	@bash bench/run.sh
	@bash bench/compare.sh

# clang-format over git ls-files '*.c' '*.h' minus src/wa/tokens_gen.h (scripts/format.sh);
# format-check is also the ctest test `format`.
format:
	@bash scripts/format.sh

format-check:
	@bash scripts/format.sh --check

# Includes follow the layers (ARCHITECTURE.md); no include cycle between modules.
check-layers:
	@bash scripts/check-layers.sh .

clean:
	rm -rf build build-asan build-fuzz
