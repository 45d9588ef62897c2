# loginjail — build, run and test.
#   make build   build bin/loginjail
#   make run     install dependencies, build, serve SSH on :2222 with the
#                embedded defaults (every login jailed)
#   make shell   the same build, then a jailed shell for $SUDO_USER
#                (JAIL_USER=name for another user), no SSH needed
#   make test    install dependencies, build, go vet and the whole test suite
#                but the VM tests (end-to-end tests need root: sudo make test)
#   make vm-test the VM test bed (test/vm): the .deb in Debian 12 and 13
#                guests under qemu, systemd as PID 1 on cgroup v2 (root)
#   make bench   run bench/*.sh
#   make deps    install build/run/test dependencies (packaging/deps.sh, root)
#   make man     man pages loginjail(8), loginjail.toml(5) from docs/man/*.md
#   make deb     a .deb of the binary, unit, PAM file, config and man pages

GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
BIN := bin/loginjail

# cgo is required (PAM, the nsenter constructor of `loginjail enter`).
export CGO_ENABLED := 1
# Let tests and scripts that run `go` find the same toolchain.
ifneq ($(findstring /,$(GO)),)
export PATH := $(patsubst %/,%,$(dir $(GO))):$(PATH)
endif

# Prerequisites run in the order written (deps before build before tests).
.NOTPARALLEL:

.PHONY: all deps build run shell test vm-test bench clean man deb

all: build

deps:
	bash packaging/deps.sh

build:
	$(GO) build -o $(BIN) ./cmd/loginjail

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
test: deps build
	$(GO) vet ./...
	LOGINJAIL_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -p 1 -timeout 40m $$($(GO) list ./... | grep -v /test/vm)

# The VM test bed: builds the .deb, then test/vm builds (or reuses from
# /var/cache/loginjail-vm) a bookworm and a trixie image with mmdebstrap,
# boots both with qemu and proves the package in them.
vm-test: deps deb
	LOGINJAIL_DEB=$$(ls -t $(CURDIR)/bin/loginjail_*.deb | head -n1) $(GO) test -count=1 -timeout 40m -v ./test/vm/

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
