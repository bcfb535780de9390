# zplan: build, test, lint, fmt. The lab targets live in lab/lab.mk.
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test test-unit lint fmt bench demo docs deb
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/zplan ./cmd/zplan

# Everything, including the real-ZFS tests in the lab guest (see README).
test:
	./scripts/test

# Fast tests only: no lab guest, no sshd.
test-unit:
	ZPLAN_LAB=off ZPLAN_SSHD=skip $(GO) test ./...

lint:
	test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...

fmt:
	gofmt -w .

# Real OpenZFS in the lab VM: zplan plan, apply, plan (see README).
demo:
	./scripts/demo

# Man pages and bash/zsh/fish completions from the cobra commands, into
# dist/docs/{man1,completions}.
docs:
	$(GO) run ./internal/gendocs -out dist/docs -version $(VERSION)

# Debian package (nfpm, installed by go install into bin/tools on first
# use): dist/zplan_VERSION-1_ARCH.deb. See scripts/deb.
deb:
	./scripts/deb dist

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./diff ./observe

-include lab/lab.mk
