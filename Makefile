# The thin layer over Meson: `make demo` and `make check` work on a fresh
# Debian machine (they install what is missing first).

BUILD     ?= build
TESTBUILD ?= build-test
SANBUILD  ?= build-san
FUZZBUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = manifest package trigger sealed text config state
PROVE_JOBS ?= 2
# the longest test files first, so that the two prove jobs end together
# (the kill-point matrix alone takes as long as a third of the rest)
SLOW_TESTS = tests/fault/t5101-kill-points.sh tests/e2e/t1002-failures.sh \
	tests/e2e/t4201-postgresql.sh tests/fault/t5102-multisite-kill-points.sh
E2E_TESTS = $(filter tests/e2e/%,$(SLOW_TESTS)) \
	$(filter-out $(SLOW_TESTS),$(sort $(wildcard tests/e2e/t*.sh)))
ALL_TESTS = $(SLOW_TESTS) $(filter-out $(SLOW_TESTS),\
	$(sort $(wildcard tests/e2e/t*.sh tests/fault/t*.sh)))
# each end-to-end test again under ASan+UBSan: a wrapper in $(SANBUILD)/e2e
# per test, so that one prove run takes both (the two jobs stay busy to
# the end); the slow ones first, the sanitized before the plain
SAN_E2E = $(patsubst tests/e2e/%,$(SANBUILD)/e2e/%,$(E2E_TESTS))
CHECK_TESTS = $(foreach t,$(SLOW_TESTS),\
	$(patsubst tests/e2e/%,$(SANBUILD)/e2e/%,$(filter tests/e2e/%,$(t))) $(t)) \
	$(filter-out $(SLOW_TESTS),$(ALL_TESTS)) \
	$(filter-out $(patsubst tests/e2e/%,$(SANBUILD)/e2e/%,$(SLOW_TESTS)),$(SAN_E2E))
SAN_ENV = NIGHTSHIFT=$(CURDIR)/$(SANBUILD)/nightshift NS_SANITIZED=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: all deps build demo check check-full bench fuzz clean FORCE

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

check: deps $(TESTBUILD)/build.ninja $(SANBUILD)/build.ninja $(SAN_E2E)
	ninja -C $(TESTBUILD)
	ninja -C $(SANBUILD)
	@echo "== unit tests (plain and ASan+UBSan)"
	meson test -C $(TESTBUILD) --print-errorlogs
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(SANBUILD) --print-errorlogs
	@echo "== end-to-end and fault tests, and the end-to-end tests again" \
		"under ASan+UBSan ($(SANBUILD)/e2e/)"
	NIGHTSHIFT=$(CURDIR)/$(TESTBUILD)/nightshift prove -j$(PROVE_JOBS) \
		$(CHECK_TESTS)

# tests/e2e/T run with the sanitized build (made anew with each check)
$(SANBUILD)/e2e/%.sh: tests/e2e/%.sh FORCE
	@mkdir -p $(@D)
	@printf '#!/bin/sh\n# %s under ASan+UBSan (made by make check)\nexport %s\nexec %s %s\n' \
		'$<' '$(SAN_ENV)' "$$(sed -n '1s/^#!//p' $<)" '$(CURDIR)/$<' >$@
	@chmod +x $@
FORCE:

# the long fault matrices and soaks
check-full: check
	NIGHTSHIFT=$(CURDIR)/$(TESTBUILD)/nightshift NS_FULL=1 prove tests/fault/t*.sh

# the libFuzzer targets of tests/fuzz (clang, ASan+UBSan), FUZZ_SECONDS
# each; the corpora grow in $(FUZZBUILD)/corpus, a crash stops the run
# and leaves its input as $(FUZZBUILD)/TARGET-crash-*
$(FUZZBUILD)/build.ninja:
	CC=clang meson setup $(FUZZBUILD) -Dfuzz=true -Dtests=disabled --werror \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null

fuzz: build
	@scripts/install-deps --fuzz
	$(MAKE) $(FUZZBUILD)/build.ninja
	ninja -C $(FUZZBUILD) $(addprefix fuzz-,$(FUZZ_TARGETS))
	test -d $(FUZZBUILD)/corpus || \
		tests/fuzz/seeds.sh $(BUILD)/nightshift $(FUZZBUILD)/corpus
	for t in $(FUZZ_TARGETS); do \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
		$(FUZZBUILD)/fuzz-$$t -max_total_time=$(FUZZ_SECONDS) \
			-timeout=10 -max_len=65536 -print_final_stats=1 \
			-artifact_prefix=$(FUZZBUILD)/$$t- \
			$(FUZZBUILD)/corpus/$$t || exit 1; \
	done

bench: build
	@scripts/install-deps --bench
	bench/migrate $(BUILD)/nightshift
	bench/lifecycle $(BUILD)/nightshift
	bench/daemon $(BUILD)/nightshift
	bench/sql $(BUILD)/nightshift

clean:
	rm -rf $(BUILD) $(TESTBUILD) $(SANBUILD) $(FUZZBUILD)
