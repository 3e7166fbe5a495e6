# tokentail: build, lint and test. `make test` is what CI runs (.ci/run).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Tools and the influxd the tests run live outside the repository, built once per machine.
CACHE ?= $(or $(TOKENTAIL_CACHE),$(HOME)/.cache/tokentail)
# staticcheck 2026.2.2 (module v0.8.2): the first release verified on this module with Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(CACHE)/bin/staticcheck

.PHONY: build tools lint test fuzz bench chaos testenv-start testenv-stop demo

build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/tokentail ./cmd/tokentail

# Rebuilt when the pinned version or the Go toolchain changed: staticcheck built by an older Go
# cannot load packages of a newer one.
tools:
	@mkdir -p "$(CACHE)/bin"
	@if ! "$(STATICCHECK)" -version 2>/dev/null | grep -qF "($(STATICCHECK_VERSION:v%=%))" || \
	    [[ "$$(go version -m "$(STATICCHECK)" 2>/dev/null | head -1 | awk '{print $$2}')" != "$$(go env GOVERSION)" ]]; then \
		echo "installing staticcheck $(STATICCHECK_VERSION) into $(CACHE)/bin"; \
		GOBIN="$(CACHE)/bin" go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); \
	fi

# gofmt over every Go file but fixtures, which may be malformed on purpose.
lint: tools
	@unformatted=$$(find . \( -path ./.git -o -path ./.testenv -o -path ./bin -o -name testdata \) -prune \
		-o -name '*.go' -print | xargs -r gofmt -l); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt: not formatted (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	"$(STATICCHECK)" ./...

# Servers up, fuzz (FUZZTIME each, default 15s), outage tests alone, then go test -race ./...
# last, so that the output ends with its summary; servers stopped whatever happens.
test: tools lint
	@scripts/test.sh

fuzz:
	@FUZZTIME=$${FUZZTIME:-5m} scripts/fuzz.sh

bench:
	@scripts/bench.sh

# The long chaos run: 1M records, 100 kill -9, each database down twice; rewrites RELIABILITY.md.
chaos:
	@scripts/chaos.sh

testenv-start:
	@scripts/testenv.sh start

testenv-stop:
	@scripts/testenv.sh stop

demo:
	@scripts/demo.sh
