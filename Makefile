# SPDX-License-Identifier: Apache-2.0
# sstream: one non-recursive Makefile.
#   make               build libsstream (static + shared) and the tools
#   make check         install missing Debian packages, build, run every test
#   make check SANITIZE=1   the same under ASan + UBSan (in build-san/)
#   make bench         benchmarks, as ratios against reference tools
#   make demo          query the bundled example tree
#   make install PREFIX=/usr/local DESTDIR=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
DESTDIR ?=
VERSION := 0.1.0
SOVER   := 0

CC      ?= cc
CFLAGS  ?= -O2 -g
BUILD   ?= build
ifeq ($(SANITIZE),1)
BUILD   := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ifeq ($(FUZZ),1)
BUILD   := build-fuzz
CC      := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
ifeq ($(WERROR),1)
WFLAGS  := -Werror
endif

PKGS     = libcurl jansson libpcre2-8 libcrypto gpgme libarchive yaml-0.1 libgit2 libsquashfs1
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC $(WARN) $(WFLAGS) $(CFLAGS) $(SANFLAGS) -Ilib -Itools $(PKG_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
LIBS     = $(PKG_LIBS) -lpthread -lm

LIB_SRC  = $(wildcard lib/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOLS    = sstream-query sstream-mirror sstream-verify sstream-publish
TOOL_BIN = $(TOOLS:%=$(BUILD)/bin/%)
TOOL_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/*.c))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY = $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/replay-%)
FUZZ_SECONDS ?= 60
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# Goals that need the Debian packages install them first.
ifneq ($(filter check demo bench,$(MAKECMDGOALS)),)
DEPS_STAMP := $(BUILD)/.deps-ok
endif

all: $(BUILD)/libsstream.a $(BUILD)/libsstream.so $(TOOL_BIN)

$(BUILD)/.deps-ok: scripts/install-deps.sh
	@mkdir -p $(@D)
	sh scripts/install-deps.sh
	@touch $@

$(BUILD)/%.o: %.c tools/tool.h lib/sstream.h lib/internal.h lib/model_internal.h lib/download.h lib/curl_internal.h lib/mirror_internal.h lib/s3_internal.h lib/s3_client.h lib/squashfs_internal.h lib/verify_internal.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# the download engine's own header
$(BUILD)/lib/download.o $(BUILD)/lib/download_loop.o $(BUILD)/lib/download_writer.o $(BUILD)/lib/download_rate.o $(BUILD)/tests/unit/test_download.o: lib/download_internal.h
# the catalogue's (the page's buffer and parts), also used by the mirror's page
$(BUILD)/lib/catalogue.o $(BUILD)/lib/catalogue_html.o $(BUILD)/lib/catalogue_page.o $(BUILD)/lib/mirror_page.o $(BUILD)/lib/publish.o $(BUILD)/tests/unit/test_catalogue.o: lib/catalogue_internal.h

$(BUILD)/libsstream.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libsstream.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libsstream.so.$(SOVER) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Tools link the static library: they run from the build tree as installed.
$(BUILD)/bin/sstream-%: $(BUILD)/sstream-%/main.o $(TOOL_OBJ) $(BUILD)/libsstream.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LIBS)

$(TOOL_OBJ) $(patsubst %.c,$(BUILD)/%.o,$(wildcard sstream-*/*.c)): tools/options.h

# sstream-publish: one file per subcommand (cmd_*.c) besides main.c.
PUBLISH_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(filter-out %/main.c,$(wildcard sstream-publish/*.c)))
$(BUILD)/bin/sstream-publish: $(PUBLISH_OBJ)
MIRROR_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(filter-out %/main.c,$(wildcard sstream-mirror/*.c)))
$(BUILD)/bin/sstream-mirror: $(MIRROR_OBJ)
$(BUILD)/sstream-mirror/main.o $(MIRROR_OBJ): sstream-mirror/mirror.h
$(BUILD)/sstream-publish/main.o $(PUBLISH_OBJ): sstream-publish/publish.h

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libsstream.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libsstream.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

check: all $(UNIT_BIN) $(FUZZ_REPLAY)
	BUILD=$(BUILD) sh tests/run.sh

bench: all $(BENCH_BIN)
	BUILD=$(BUILD) sh bench/run.sh

demo: all
	@rm -rf $(BUILD)/demo-mirror
	@echo '$$ sstream-mirror -v --max 1 examples/foocloud $(BUILD)/demo-mirror arch=amd64'
	@$(BUILD)/bin/sstream-mirror -v --max 1 examples/foocloud $(BUILD)/demo-mirror arch=amd64
	@echo '$$ sstream-mirror -v --max 1 examples/foocloud $(BUILD)/demo-mirror arch=amd64   # again: nothing to do'
	@$(BUILD)/bin/sstream-mirror -v --max 1 examples/foocloud $(BUILD)/demo-mirror arch=amd64
	@echo '$$ sstream-query $(BUILD)/demo-mirror'
	@$(BUILD)/bin/sstream-query $(BUILD)/demo-mirror
	@echo '$$ sstream-query examples/foocloud arch=amd64 --max 1'
	@$(BUILD)/bin/sstream-query examples/foocloud arch=amd64 --max 1
	@echo '$$ sstream-query --format "%(version_name)s %(item_url)s" examples/foocloud ftype=disk1.img'
	@$(BUILD)/bin/sstream-query --format '%(version_name)s %(item_url)s' examples/foocloud ftype=disk1.img

# Requires, not Requires.private: the Debian package ships only the static
# library, whose users must link the dependencies too.
$(BUILD)/sstream.pc: Makefile
	@mkdir -p $(@D)
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: sstream\nDescription: simplestreams library\nVersion: %s\nRequires: %s\nLibs: -L$${libdir} -lsstream -lpthread -lm\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(LIBDIR)' '$(INCDIR)' '$(VERSION)' '$(PKGS)' > $@

install: all $(BUILD)/sstream.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR)
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(BINDIR)/
	install -m 644 $(BUILD)/libsstream.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libsstream.so $(DESTDIR)$(LIBDIR)/libsstream.so.$(VERSION)
	ln -sf libsstream.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libsstream.so.$(SOVER)
	ln -sf libsstream.so.$(SOVER) $(DESTDIR)$(LIBDIR)/libsstream.so
	install -m 644 lib/sstream.h $(DESTDIR)$(INCDIR)/
	install -m 644 $(BUILD)/sstream.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

# ---- fuzzing (tests/fuzz/README.md) ----
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="products tree"]
# builds the libFuzzer targets with clang in build-fuzz/ and runs each for
# FUZZ_SECONDS; crashes land in tests/fuzz/crashes/<target>/.  make check
# replays every corpus file and past crash through replay.c instead, with
# the normal compiler (and under SANITIZE=1), via tests/cli/fuzz.sh.

$(BUILD)/tests/fuzz/replay-%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(BUILD)/tests/fuzz/fuzzutil.o $(BUILD)/libsstream.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/fuzzutil.o $(BUILD)/libsstream.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz:
	sh scripts/install-deps.sh fuzz
	$(MAKE) FUZZ=1 fuzz-run

fuzz-run: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/new-$$t tests/fuzz/crashes/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=tests/fuzz/crashes/$$t/ $(BUILD)/fuzz/new-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

# ---- Operating it: version, man pages, completion, data files, Debian package ----
#   make deb           build/deb/sstream_*.deb and libsstream-dev_*.deb (dpkg-buildpackage)
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
MAN_SRC  = $(wildcard man/*.1 man/*.7)
MAN_OUT  = $(MAN_SRC:man/%=$(BUILD)/man/%)
all: $(MAN_OUT)
install: install-data

$(BUILD)/lib/version.o: ALL_CFLAGS += -DSS_VERSION_STR='"$(VERSION)"'
$(BUILD)/lib/version.o: Makefile

# mdoc sources; the build stamps the version into them
$(BUILD)/man/%: man/% Makefile
	@mkdir -p $(@D)
	sed 's/@VERSION@/$(VERSION)/g' $< >$@

install-data: $(MAN_OUT)
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR)/sstream/schemas \
		$(DESTDIR)$(DATADIR)/bash-completion/completions $(DESTDIR)$(SYSTEMDDIR)
	install -m 644 $(filter %.1,$(MAN_OUT)) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(filter %.7,$(MAN_OUT)) $(DESTDIR)$(MANDIR)/man7/
	install -m 644 schemas/*.json $(DESTDIR)$(DATADIR)/sstream/schemas/
	install -m 644 contrib/bash-completion/sstream $(DESTDIR)$(DATADIR)/bash-completion/completions/sstream-mirror
	for t in sstream-publish sstream-verify sstream-query; do \
		ln -sf sstream-mirror $(DESTDIR)$(DATADIR)/bash-completion/completions/$$t; done
	for u in contrib/systemd/*.service contrib/systemd/*.timer; do \
		sed 's|/usr/bin/|$(BINDIR)/|g' $$u >$(DESTDIR)$(SYSTEMDDIR)/$${u##*/}; done

# dpkg-buildpackage writes to the parent directory: build from a copy of
# the tracked files under build/, so the tree (and its parent) stay clean.
deb:
	rm -rf $(BUILD)/debsrc $(BUILD)/deb
	mkdir -p $(BUILD)/debsrc/sstream $(BUILD)/deb
	if git rev-parse --git-dir >/dev/null 2>&1; then git ls-files -z --cached --others --exclude-standard; \
	else find . -path ./build -prune -o -path ./build-san -prune -o -type f -print0; fi | \
		tar --null --no-recursion -T - -cf - | tar -C $(BUILD)/debsrc/sstream -xf -
	@# (one tar reading the list: xargs would split a long list into several
	@# archives, and the extracting tar stops at the end of the first)
	cd $(BUILD)/debsrc/sstream && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u SANITIZE -u WERROR \
		dpkg-buildpackage -us -uc -b
	mv $(BUILD)/debsrc/*.deb $(BUILD)/debsrc/*.buildinfo $(BUILD)/debsrc/*.changes $(BUILD)/deb/
	rm -rf $(BUILD)/debsrc

clean:
	rm -rf build build-san build-fuzz

.PHONY: all check bench demo install install-data deb clean fuzz fuzz-run
.SECONDARY:
