# The two commands: `make run` (default pipeline over the sample corpus) and `make test`
# (the whole suite). Both install missing Debian packages, configure and build first.
BUILD  ?= build/release
JOBS   ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup configure build run test fixtures bench format clean
all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) > /dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@bash scripts/run-demo.sh $(BUILD)

test: setup
	@bash scripts/test.sh

# Regenerates the PyTorch fixtures (needs Debian's python3-torch) and shows what changed.
fixtures: setup
	@bash scripts/setup.sh --peers
	@bash scripts/fixtures.sh

# Full benchmarks against the peers (PyTorch, HF tokenizers, tiktoken, Redis).
bench: build
	@bash scripts/setup.sh --peers
	@bash bench/run.sh $(BUILD)

format:
	@git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' | grep -v '^tests/abi/v1' | xargs clang-format -i

clean:
	rm -rf build
