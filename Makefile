# The two commands: `make run` (default pipeline over the sample corpus) and `make test`
# (the whole suite). Both install missing Debian packages, configure and build first.
BUILD  ?= build/release
JOBS   ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup configure build run test fuzz soak fixtures bench format clean
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

# The libFuzzer targets (tests/fuzz/*), 60 s each (`make test` runs them 30 s each).
fuzz: setup
	@cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQKV_FUZZ=ON \
	  -DQKV_FUZZ_SECONDS=60 -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 > /dev/null
	@cmake --build build/fuzz -j $(JOBS) --target tests-fuzz
	@ctest --test-dir build/fuzz --output-on-failure -j $(JOBS) -L fuzz

# The full soak test: 100 jobs through 100 kill -9 cycles plus 64 clients x 100 requests.
soak: build
	@python3 tests/soak/soak.py --build $(BUILD) --cycles 100 --fail-on-suspects

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
