# loginjail — build, run and test.
#   make build   build bin/loginjail and bin/loginjail-session
#   make run     install dependencies, build, serve SSH on :2222 with the
#                embedded defaults (every login jailed)
#   make shell   the same build, then a jailed shell for $SUDO_USER
#                (JAIL_USER=name for another user), no SSH needed
#   make test    install dependencies, build, tidy-check, vulncheck, go vet and
#                the whole test suite but the VM tests (end-to-end tests need
#                root: sudo make test)
#   make vm-test the VM test bed (test/vm): the .deb in Debian 12 and 13
#                guests under qemu, systemd as PID 1 on cgroup v2 (root)
#   make tidy-check  fail when `go mod tidy` would change go.mod or go.sum
#   make vulncheck   govulncheck: fail on vulnerable code the program calls
#   make bench   run bench/*.sh
#   make deps    install build/run/test dependencies (packaging/deps.sh, root)
#   make man     man pages loginjail(8), loginjail.toml(5) from docs/man/*.md
#   make deb     a .deb of the binaries, unit, PAM file, config and man pages
#   make install install the two binaries (PREFIX=/usr/local, DESTDIR) as
#                the .deb lays them out: sbin/loginjail and
#                lib/loginjail/loginjail-session

GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
BIN := bin/loginjail
# The per-login processes (per-connection process, jail init, PAM holder)
# run this smaller binary: loginjail finds it next to itself, or in
# ../lib/loginjail/ (the installed layout).
SESSION_BIN := bin/loginjail-session

# cgo is required (PAM, the nsenter constructor of `loginjail enter`).
export CGO_ENABLED := 1
# go.mod's toolchain line (a Go with the standard library's security fixes,
# which govulncheck checks net/http against) is fetched through the module
# proxy when the installed go is older; Debian's go.env says "local".
export GOTOOLCHAIN := auto
# Let tests and scripts that run `go` find the same toolchain.
ifneq ($(findstring /,$(GO)),)
export PATH := $(patsubst %/,%,$(dir $(GO))):$(PATH)
endif

# Prerequisites run in the order written (deps before build before tests).
.NOTPARALLEL:

.PHONY: all deps build run shell test vm-test tidy-check vulncheck bench clean man deb install

all: build

deps:
	bash packaging/deps.sh

# The revision is stamped by hand: this machine's GOFLAGS has -buildvcs=false,
# and Go does not stamp builds from a git worktree either.
REVISION := $(shell git rev-parse HEAD 2>/dev/null)
build:
	$(GO) build -ldflags "-X main.revision=$(REVISION)" -o $(BIN) ./cmd/loginjail
	$(GO) build -o $(SESSION_BIN) ./cmd/loginjail-session

# The installed layout: the session binary under lib/, where the listener
# looks when it is not beside it. Both root-owned and 0755 (loginjail
# refuses a session binary anyone but root could write).
PREFIX ?= /usr/local
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/loginjail
	install -D -m 0755 $(SESSION_BIN) $(DESTDIR)$(PREFIX)/lib/loginjail/loginjail-session

run: deps build
	./$(BIN) sshd

# A jailed shell for the user who ran sudo (JAIL_USER=name to pick another).
JAIL_USER ?= $(SUDO_USER)
shell: deps build
	@[ -n "$(JAIL_USER)" ] || { echo "make shell: set JAIL_USER=name (the user to jail)"; exit 2; }
	./$(BIN) run --user $(JAIL_USER)

# LOGINJAIL_BIN hands the binary built above to the end-to-end tests, so
# test/testutil.Binary does not build it again in every test package.
# test/vm is left to `make vm-test`: it builds VM images and boots guests.
test: deps build tidy-check vulncheck
	$(GO) vet ./...
	LOGINJAIL_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -p 1 -timeout 40m $$($(GO) list ./... | grep -v /test/vm)

# The VM test bed: builds the .deb, then test/vm builds (or reuses from
# /var/cache/loginjail-vm) a bookworm and a trixie image with mmdebstrap,
# boots both with qemu and proves the package in them.
vm-test: deps deb
	LOGINJAIL_DEB=$$(ls -t $(CURDIR)/bin/loginjail_*.deb | head -n1) $(GO) test -count=1 -timeout 40m -v ./test/vm/

tidy-check:
	@$(GO) mod tidy -diff || { echo "tidy-check: go.mod/go.sum are not tidy (the diff above): run go mod tidy"; exit 1; }

# govulncheck at a pinned version, from the module proxy; it exits 3 when
# the code calls a vulnerable function. Its database comes through the
# module proxy too (vuln.go.dev may be out of reach where only the proxy
# is): golang.org/x/vulndb at VULNDB_VERSION (latest: the newest
# advisories) is the database's source, data/osv/*.json, which vulndb's own
# indexdb (pinned with the tool) turns into the file:// layout govulncheck
# reads, once per data version under bin/vulndb/.
GOVULNCHECK_VERSION ?= v1.9.0
VULNDB_TOOLS_VERSION ?= v0.0.0-20261105234957-e22db6528018
VULNDB_VERSION ?= latest
vulncheck:
	@set -e; \
	data=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"\(Version\|Dir\)": "\(.*\)",$$/\2/p' | tr '\n' ' '); \
	set -- $$data; version=$$1; dir=$$2; \
	[ -n "$$version" ] && [ -d "$$dir/data/osv" ] || { echo "vulncheck: no vulndb data from the module proxy"; exit 1; }; \
	db=$(CURDIR)/bin/vulndb/$$version; \
	if [ ! -s "$$db/index/modules.json" ]; then \
		echo "vulncheck: indexing golang.org/x/vulndb@$$version"; \
		rm -rf "$$db" "$$db.tmp"; mkdir -p "$$(dirname "$$db")"; \
		$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_TOOLS_VERSION) -vulns "$$dir/data/osv" -out "$$db.tmp"; \
		mv "$$db.tmp" "$$db"; \
	fi; \
	echo "vulncheck: govulncheck $(GOVULNCHECK_VERSION), database golang.org/x/vulndb@$$version"; \
	$(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) -db "file://$$db" ./...

bench: build
	@found=0; \
	for f in bench/*.sh; do \
		[ -e "$$f" ] || continue; \
		found=1; \
		echo "== $$f"; \
		LOGINJAIL_BIN=$(CURDIR)/$(BIN) bash "$$f" || exit 1; \
	done; \
	[ "$$found" -eq 1 ] || echo "bench: no bench/*.sh scripts"

# Man pages: go-md2man from the Go module proxy, a build tool only (not a
# dependency of the binary).
GO_MD2MAN ?= $(GO) run github.com/cpuguy83/go-md2man/v2@v2.0.7
MAN_SRC := docs/man/loginjail.8.md docs/man/loginjail.toml.5.md
man:
	@mkdir -p bin/man
	@for f in $(MAN_SRC); do \
		out=bin/man/$$(basename $$f .md); \
		$(GO_MD2MAN) -in $$f -out $$out || exit 1; \
		echo "man: $$out"; \
	done

# The .deb: packaging/build-deb.sh builds the binary (version from git
# describe or VERSION) and the man pages, and writes bin/loginjail_VERSION_ARCH.deb.
deb: man
	GO="$(GO)" bash packaging/build-deb.sh

clean:
	rm -rf bin
