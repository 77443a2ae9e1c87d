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

.PHONY: all build host-binary dev test test-go lint vet staticcheck fmt fmt-check bench \
        tools agent-clis codex-schema bench-tools browser host-test-tools clean

all: build

build:
	$(GO) build -o $(BIN)/hostd ./hostd/cmd/hostd

## host-binary: the static linux/amd64 hostd that `pulumi up` ships to the
## host (infra's default trustyclaw:hostdBinary; docs/deploy.md)
host-binary:
	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/linux-amd64/hostd ./hostd/cmd/hostd

CODEX_BIN  := $(AGENT_CLI_DIR)/node_modules/.bin/codex
CLAUDE_BIN := $(AGENT_CLI_DIR)/node_modules/.bin/claude

## dev: build and run `hostd dev` with its defaults (state in ./.trustyclaw-dev),
## using the pinned agent CLIs from .cache/agent-clis when they are installed
## (`make agent-clis`), else codex/claude from PATH.
dev: build
	$(BIN)/hostd dev \
		$$( [ -x $(CODEX_BIN) ] && echo --codex-bin $(CODEX_BIN) ) \
		$$( [ -x $(CLAUDE_BIN) ] && echo --claude-bin $(CLAUDE_BIN) ) \
		$(DEV_ARGS)

## test: everything CI checks. Installs the test tools it needs first.
test: tools agent-clis browser host-test-tools lint test-go

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
## (idempotent; verifies both binaries run and report the pinned versions)
AGENT_CLI_STAMP := $(AGENT_CLI_DIR)/.installed-$(CODEX_VERSION)-$(CLAUDE_VERSION)
CODEX_SCHEMA_DIR := hostd/agentrt/codex/testdata/app-server-schema-$(CODEX_VERSION)

agent-clis:
	@set -u; dir='$(AGENT_CLI_DIR)'; bin="$$dir/node_modules/.bin"; \
	ok() { [ -f '$(AGENT_CLI_STAMP)' ] \
		&& "$$bin/codex" --version 2>/dev/null | grep -qx 'codex-cli $(CODEX_VERSION)' \
		&& "$$bin/claude" --version 2>/dev/null | grep -q '^$(CLAUDE_VERSION) '; }; \
	if ok; then echo "agent-clis: codex $(CODEX_VERSION) and claude $(CLAUDE_VERSION) present in $$dir"; exit 0; fi; \
	if ! command -v npm >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "agent-clis: npm not found; installing Node.js + npm with apt-get"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; } || true; fi; \
	if ! command -v npm >/dev/null 2>&1; then \
		echo "agent-clis: npm not found; install Node.js + npm (apt-get install -y nodejs npm). Real-CLI tests will skip."; exit 0; fi; \
	echo "agent-clis: installing @openai/codex@$(CODEX_VERSION) @anthropic-ai/claude-code@$(CLAUDE_VERSION) into $$dir"; \
	rm -f '$(AGENT_CLI_STAMP)'; mkdir -p "$$dir" && \
	if ! npm install --no-audit --no-fund --loglevel=error --include=optional --prefix "$$dir" \
		@openai/codex@$(CODEX_VERSION) @anthropic-ai/claude-code@$(CLAUDE_VERSION); then \
		echo "agent-clis: npm install failed (registry unreachable?); real-CLI tests will skip."; exit 0; fi; \
	if ! "$$bin/claude" --version >/dev/null 2>&1; then \
		echo "agent-clis: placing Claude Code's native binary (its postinstall did not run)"; \
		(cd "$$dir/node_modules/@anthropic-ai/claude-code" && node install.cjs) || true; fi; \
	if ok || { touch '$(AGENT_CLI_STAMP)' && ok; }; then echo "agent-clis: ready in $$dir"; \
	else rm -f '$(AGENT_CLI_STAMP)'; echo "agent-clis: installed CLIs do not run or report other versions; real-CLI tests will skip."; fi

## codex-schema: record the app-server JSON schema of the pinned Codex (testdata)
codex-schema: agent-clis
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	HOME="$$tmp" '$(AGENT_CLI_DIR)/node_modules/.bin/codex' app-server generate-json-schema --out "$$tmp/schema" >/dev/null 2>&1 && \
	mkdir -p $(CODEX_SCHEMA_DIR) && \
	gzip -9 -n -c "$$tmp/schema/codex_app_server_protocol.schemas.json" > $(CODEX_SCHEMA_DIR)/codex_app_server_protocol.schemas.json.gz && \
	echo "codex-schema: recorded in $(CODEX_SCHEMA_DIR)"

## bench-tools: peers the benchmarks compare against (mitmproxy, from Debian)
bench-tools:
	@command -v mitmdump >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mitmproxy; } \
				|| echo "bench-tools: apt-get could not install mitmproxy; that comparison will be skipped"; \
		else echo "bench-tools: install mitmproxy (apt-get install mitmproxy) to compare against it"; fi; }

## host-test-tools: nftables, sudo (visudo) and shellcheck, which the
## bootstrap tests use to check the firewall rules, the sudoers file and the
## scripts for real (they skip with a reason without them). Installs only as
## root with apt-get.
HOST_TEST_TOOLS := nft:nftables visudo:sudo shellcheck:shellcheck
host-test-tools:
	@missing=; for tp in $(HOST_TEST_TOOLS); do \
		command -v $${tp%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${tp%%:*} ] || missing="$$missing $${tp#*:}"; done; \
	if [ -z "$$missing" ]; then echo "host-test-tools: nftables, sudo and shellcheck are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; } \
			|| echo "host-test-tools: apt-get could not install$$missing; those bootstrap checks will skip"; \
	else echo "host-test-tools: install$$missing (apt-get install -y$$missing) to run every bootstrap check; they skip without"; fi

## browser: Debian chromium for the UI's browser smoke test (ui/browser_test.go
## skips with one line without it). Installs only as root with apt-get.
browser:
	@if [ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1; then \
		echo "browser: chromium is installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
			|| echo "browser: apt-get could not install chromium; the UI browser test will skip"; \
	else \
		echo "browser: install Debian chromium (sudo apt-get install -y chromium) to run the UI browser test; it skips without it"; \
	fi

## bench: benchmarks; results and how to read them are in docs/benchmarks.md
bench: build bench-tools agent-clis
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./... 2>&1 | tee $(CACHE)/bench.txt

clean:
	rm -rf $(BIN) $(CACHE)
