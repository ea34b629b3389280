# Everything a fresh Debian 12 machine needs, as root: `make demo` and `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

# The lab tests that run under the sanitizers (make asan / make tsan), with sanitized daemons.
SANITIZE_E2E ?= test_ztunnel_datapath test_ztunnel_policy test_ztunnel_resilience
FUZZ_SECONDS ?= 60
SOAK_SECONDS ?= 600
# The scale run (bench/scale.sh): nodes, real pods, synthetic workloads:services per stage.
SCALE_NODES ?= 10
SCALE_PODS ?= 1000
SCALE_STAGES ?= 1000:1000,10000:2000

.PHONY: all deps build test unit e2e e2e-fastpath demo bench bench-profile scale images clean format asan tsan fuzz soak

all: build

deps:
	@scripts/deps.sh

# A new build dir gets Ninja (scripts/deps.sh installs it): it keeps both cores busy across
# target boundaries where CMake's Makefiles wait. An existing one keeps its generator.
generator = $$([ -f $(1)/CMakeCache.txt ] || echo -G Ninja)

build: deps
	@cmake -S . -B $(BUILD) $(call generator,$(BUILD)) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

# All tiers: unit (ctest), fuzz corpora replay, end-to-end in the lab (root).
test: build
	@scripts/test.sh $(BUILD)

unit: build
	@scripts/test.sh $(BUILD) unit

e2e: build
	@scripts/test.sh $(BUILD) e2e

# The whole e2e tier with the agent's sk_msg fast path on in every lab (issue 12: every e2e
# test passes with the fast paths on); ~10 min.
e2e-fastpath: build
	@WARREN_E2E_AGENT_FLAGS=--sockmap-fast-path scripts/test.sh $(BUILD) e2e

# Everything built with ASan + UBSan (build-asan/) or TSan (build-tsan/), then the unit tier,
# the fuzz corpora and the data-path lab tests with sanitized daemons; a report fails a test.
asan tsan: deps
	@cmake -S . -B build-$@ $(call generator,build-$@) -DWARREN_SANITIZE=$(if $(filter asan,$@),address,thread) -DWARREN_DEBUG_INFO=lines $(CMAKE_FLAGS) >/dev/null
	cmake --build build-$@ -j$(JOBS)
	@WARREN_E2E_JOBS=1 WARREN_E2E_TESTS="$(SANITIZE_E2E)" WARREN_TIMEOUT_SCALE=4 scripts/test.sh build-$@ unit fuzz e2e

# libFuzzer (clang-19): every fuzz/*_fuzz.cc for FUZZ_SECONDS each; executions, coverage and
# findings per target (fuzz/README.md).
fuzz:
	@scripts/fuzz.sh --seconds $(FUZZ_SECONDS)

# The soak (tests/e2e/test_soak.sh, which make test runs for 45 s) for SOAK_SECONDS (default 10
# minutes): mixed load with sha256 integrity while agents restart, ztunnels roll and
# certificates rotate; 0 failures, RSS/fd growth reported (summary JSON in $(BUILD)/soak.json).
soak: build
	@SOAK_SECONDS=$(SOAK_SECONDS) SOAK_OUT=$(abspath $(BUILD))/soak.json \
	  WARREN_TIMEOUT_SCALE=$$(( ($(SOAK_SECONDS) + 240) / 240 + 1 )) tests/e2e/run.sh $(BUILD) test_soak

demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@bench/run.sh $(BUILD)

# Only the perf profile of the cross-node path (proven captured first), into $(BUILD)/bench-profile.
bench-profile: build
	@BENCH_PROFILE_ONLY=1 BENCH_OUT=$(BUILD)/bench-profile bench/run.sh $(BUILD)

# The scale run (not in make test; tests/e2e/test_scale_smoke.sh runs a small one there): a lab of
# SCALE_NODES nodes with SCALE_PODS pause pods and a synthetic model of SCALE_STAGES; xDS push time
# to every ztunnel, ztunnel and agent memory, label and policy to enforcement. Stops by itself
# within 15 minutes; results in bench/results/<date>-<commit>-scale.{json,md} (bench/README.md).
scale: build
	@SCALE_NODES=$(SCALE_NODES) SCALE_PODS=$(SCALE_PODS) SCALE_STAGES=$(SCALE_STAGES) bench/scale.sh $(BUILD)

# OCI images (buildah, no Docker daemon) from the build: warren-node, warren-controller (and
# warren-waypoint once it exists), tagged git-<commit>; REGISTRY=host/path pushes them.
# Writes $(BUILD)/deploy/install, the overlay to `kubectl apply -k` (deploy/README.md).
images: build
	@scripts/images.sh $(BUILD)

format:
	@git ls-files '*.cc' '*.h' | grep -v '^bpf/' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
