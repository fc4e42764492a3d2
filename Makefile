# Thin wrapper over Meson/Ninja for the two README commands.
#   make demo   installs what is missing, builds, runs the main job end to end
#   make test   the same set-up, then every test (once more under ASan+UBSan,
#               the volume library's threaded tests under TSan, and the fuzz
#               targets briefly)

BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
PY := /usr/bin/python3

.PHONY: all deps build demo test test-quick test-asan test-tsan test-fuzz bench clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@sh scripts/demo.sh $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false >/dev/null

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	WARD_BUILD=$(ASAN_BUILD) WARD_SANITIZED=1 sh scripts/run-tests.sh

$(TSAN_BUILD)/build.ninja:
	meson setup $(TSAN_BUILD) -Db_sanitize=thread -Db_lundef=false >/dev/null

# The volume library promises thread safety: its multi-threaded unit tests
# run under ThreadSanitizer (any report fails them). Only those are built.
TSAN_TESTS := fs-threads fs-lazy fs-lazy-rw fs-robust fs-links fs-hardlinks fs-sync
test-tsan: deps $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD) $(foreach t,$(TSAN_TESTS),tests/unit/fs/test-$(t))
	TSAN_OPTIONS=halt_on_error=1 meson test -C $(TSAN_BUILD) --no-rebuild --print-errorlogs $(TSAN_TESTS)

# Each parser of untrusted input runs briefly under libFuzzer (clang + ASan).
test-fuzz: deps
	FUZZ_SECONDS=$${FUZZ_SECONDS:-10} sh scripts/fuzz-smoke.sh

test-quick: build
	WARD_BUILD=$(BUILD) sh scripts/run-tests.sh

test: build test-asan test-tsan test-fuzz
	WARD_BUILD=$(BUILD) sh scripts/run-tests.sh

bench: build
	@sh bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz
