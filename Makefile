# TrustyClaw — build, run and test.
#
# The two commands a newcomer needs:
#   make dev    build hostd and run the whole host locally (docs/local-mode.md)
#   make test   the whole offline test suite (vet, staticcheck, gofmt, go test -race)

SHELL        := /bin/bash
GO           ?= go
BIN          := $(CURDIR)/bin
CACHE        := $(CURDIR)/.cache
STATICCHECK  := $(BIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
# Pinned agent CLIs (see docs/runtimes.md for why these versions).
CODEX_VERSION  := 0.169.0
CLAUDE_VERSION := 2.1.328
AGENT_CLI_DIR  := $(CACHE)/agent-clis
TEST_TIMEOUT   ?= 60m
GOTESTFLAGS    ?=

# Tests find the installed CLIs here; they skip with a reason when absent.
export TRUSTYCLAW_AGENT_CLI_DIR := $(AGENT_CLI_DIR)

.PHONY: all build dev test test-go lint vet staticcheck fmt fmt-check bench \
        tools agent-clis bench-tools browser clean

all: build

build:
	$(GO) build -o $(BIN)/hostd ./hostd/cmd/hostd

## dev: build and run `hostd dev` with its defaults (state in ./.trustyclaw-dev)
dev: build
	$(BIN)/hostd dev

## test: everything CI checks. Installs the test tools it needs first.
test: tools agent-clis lint test-go

test-go:
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) ./...

lint: vet staticcheck fmt-check

vet:
	$(GO) vet ./...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## tools: Go-based test tools, pinned, into ./bin
tools: $(STATICCHECK)

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## agent-clis: the pinned Codex and Claude Code CLIs from npm into .cache/agent-clis
agent-clis: $(AGENT_CLI_DIR)/.installed-$(CODEX_VERSION)-$(CLAUDE_VERSION)

$(AGENT_CLI_DIR)/.installed-$(CODEX_VERSION)-$(CLAUDE_VERSION):
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "agent-clis: npm not found; install Node.js + npm (apt-get install -y nodejs npm). Real-CLI tests will skip."; \
	else \
		mkdir -p $(AGENT_CLI_DIR) && \
		npm install --no-audit --no-fund --include=optional --prefix $(AGENT_CLI_DIR) \
			@openai/codex@$(CODEX_VERSION) @anthropic-ai/claude-code@$(CLAUDE_VERSION) \
		&& touch $@ \
		|| echo "agent-clis: npm install failed (registry unreachable?); real-CLI tests will skip."; \
	fi

## bench-tools: peers the benchmarks compare against (mitmproxy, from Debian)
bench-tools:
	@command -v mitmdump >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mitmproxy; \
		else echo "bench-tools: install mitmproxy (apt-get install mitmproxy) to compare against it"; fi; }

## browser: Debian chromium for the UI's browser smoke test (ui/browser_test.go
## skips with one line without it). Installs only as root with apt-get.
browser:
	@if [ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1; then \
		echo "browser: chromium is installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "browser: install Debian chromium (sudo apt-get install -y chromium) to run the UI browser test; it skips without it"; \
	fi

## bench: benchmarks; results and how to read them are in docs/benchmarks.md
bench: build bench-tools agent-clis
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./... 2>&1 | tee $(CACHE)/bench.txt

clean:
	rm -rf $(BIN) $(CACHE)
