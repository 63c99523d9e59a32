# The thin layer over Meson: `make demo` and `make check` work on a fresh
# Debian machine (they install what is missing first).

BUILD     ?= build
TESTBUILD ?= build-test
SANBUILD  ?= build-san
PROVE_JOBS ?= 2
# the longest test files first, so that the two prove jobs end together
# (the kill-point matrix alone takes as long as a third of the rest)
SLOW_TESTS = tests/fault/t5101-kill-points.sh tests/e2e/t1002-failures.sh \
	tests/e2e/t4201-postgresql.sh
E2E_TESTS = $(filter tests/e2e/%,$(SLOW_TESTS)) \
	$(filter-out $(SLOW_TESTS),$(sort $(wildcard tests/e2e/t*.sh)))
ALL_TESTS = $(SLOW_TESTS) $(filter-out $(SLOW_TESTS),\
	$(sort $(wildcard tests/e2e/t*.sh tests/fault/t*.sh)))

.PHONY: all deps build demo check check-unit check-e2e check-full bench clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	examples/demo.sh $(BUILD)/nightshift

# the test builds honour NIGHTSHIFT_CRASH_AT / NIGHTSHIFT_FAIL_AT
$(TESTBUILD)/build.ninja:
	meson setup $(TESTBUILD) -Dtest_hooks=true --werror >/dev/null

$(SANBUILD)/build.ninja:
	meson setup $(SANBUILD) -Dtest_hooks=true --werror \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null

check: deps $(TESTBUILD)/build.ninja $(SANBUILD)/build.ninja
	ninja -C $(TESTBUILD)
	ninja -C $(SANBUILD)
	@echo "== unit tests (plain and ASan+UBSan)"
	meson test -C $(TESTBUILD) --print-errorlogs
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(SANBUILD) --print-errorlogs
	@echo "== end-to-end and fault tests (plain build)"
	NIGHTSHIFT=$(CURDIR)/$(TESTBUILD)/nightshift prove -j$(PROVE_JOBS) $(ALL_TESTS)
	@echo "== end-to-end tests under ASan+UBSan"
	NIGHTSHIFT=$(CURDIR)/$(SANBUILD)/nightshift NS_SANITIZED=1 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		prove -j$(PROVE_JOBS) $(E2E_TESTS)

# the long fault matrices and soaks
check-full: check
	NIGHTSHIFT=$(CURDIR)/$(TESTBUILD)/nightshift NS_FULL=1 prove tests/fault/t*.sh

bench: build
	@scripts/install-deps --bench
	bench/migrate $(BUILD)/nightshift
	bench/lifecycle $(BUILD)/nightshift
	bench/daemon $(BUILD)/nightshift
	bench/sql $(BUILD)/nightshift

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(SANBUILD)
