# cabridge: EPICS Channel Access server library and bridge daemon.
# Run `make help` for the list of targets.

GO        ?= go
BIN       ?= bin/cabridge
PKGS      ?= ./...
# Time per fuzz target for `make fuzz`.
FUZZTIME  ?= 60s
# Total time budget of the short fuzz pass that `make test` runs.
FUZZBUDGET ?= 100
# Arguments passed to the daemon by `make run`.
RUNARGS   ?=
# Configuration file `make run` serves.
CONFIG    ?= configs/demo.yaml
# Numbers of PVs the load tool connects in `make bench`.
BENCH_N   ?= 1000,10000,100000
GOLANGCI_LINT_VERSION ?= v2.15.0
# Version stamped into the binary (cabridge_build_info, the VERSION status PV).
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
GOLANGCI_LINT ?= $(shell command -v golangci-lint 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/golangci-lint)

.DEFAULT_GOAL := help
.PHONY: help build test test-go fuzz-short run peers bench fuzz lint lint-tools tidy-check clean

help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the static daemon binary into bin/cabridge.
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-X main.buildVersion=$(VERSION)' -o $(BIN) ./cmd/cabridge

test: ## Run all tests with -race, then a short fuzz pass (installs peers first when CI=true).
ifeq ($(CI),true)
	$(MAKE) peers
endif
	$(MAKE) test-go
	$(MAKE) fuzz-short

test-go:
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

fuzz-short:
	FUZZBUDGET=$(FUZZBUDGET) scripts/fuzz.sh short

run: build ## Build and run the daemon on CONFIG (default configs/demo.yaml: simulated devices, no hardware).
	$(BIN) run --config $(CONFIG) $(RUNARGS)

peers: ## Install the interop peers (pyepics, pymodbus, mbpoll, socat, mosquitto) with apt-get, or print the command.
	scripts/peers.sh

bench: build ## Run the Go benchmarks of the hot paths, both load tools (Go client, libca) against `cabridge bench-server`, then bench-modbus.
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 200ms ./ca/...
	$(GO) run ./bench/caload -server $(BIN) -n $(BENCH_N)
	scripts/libcaload.sh -n $(BENCH_N)
	$(MAKE) bench-modbus

.PHONY: bench-modbus
bench-modbus: build ## Bridge 1,000 scattered Modbus registers (in-process server) to PVs at 10 Hz: requests/cycle, CPU, change-to-monitor latency.
	$(GO) run ./bench/modbusbench -server $(BIN) $(MODBUSBENCH_ARGS)

fuzz: ## Fuzz every Fuzz* target for FUZZTIME each (default 60s).
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh long

lint: ## gofmt check, go vet, and golangci-lint when installed (see lint-tools).
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if [ -x "$(GOLANGCI_LINT)" ]; then \
		$(GOLANGCI_LINT) run $(PKGS); \
	else \
		echo "golangci-lint not installed: run 'make lint-tools' to install $(GOLANGCI_LINT_VERSION)"; \
	fi

lint-tools: ## Install the pinned golangci-lint into GOPATH/bin.
	$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

tidy-check: ## Fail if go.mod/go.sum are not tidy (changes nothing).
	$(GO) mod tidy -diff

# Docker images: FROM scratch around the static binary, which is built on
# the host; nothing is pulled. The builds use --no-cache because the legacy
# builder's cache ignores the platform (see the Dockerfile).
DOCKER    ?= docker
IMAGE     ?= cabridge
IMAGE_TAG ?= $(VERSION)
HOSTARCH  ?= $(shell $(GO) env GOARCH)
# platform:GOARCH:GOARM:tag suffix of each image docker-multiarch builds.
DOCKER_ARCHS ?= linux/amd64:amd64::amd64 linux/arm64:arm64::arm64 linux/arm/v7:arm:7:armv7
# Build flags of the binaries copied into the images.
DOCKER_GOFLAGS ?= -trimpath -ldflags '-s -w -X main.buildVersion=$(VERSION)'

.PHONY: docker docker-multiarch
docker: ## Build the image cabridge:latest (and :<git describe>) for this machine's architecture: FROM scratch, nothing pulled.
	CGO_ENABLED=0 $(GO) build $(DOCKER_GOFLAGS) -o bin/docker/linux-$(HOSTARCH)/cabridge ./cmd/cabridge
	$(DOCKER) build --no-cache --build-arg BINARY=bin/docker/linux-$(HOSTARCH)/cabridge \
		--build-arg VERSION=$(IMAGE_TAG) -t $(IMAGE):latest -t $(IMAGE):$(IMAGE_TAG) .

docker-multiarch: ## Cross-build the binary and one image per architecture: cabridge:latest-amd64, -arm64, -armv7.
	@set -e; for a in $(DOCKER_ARCHS); do \
		IFS=:; set -- $$a; unset IFS; \
		bin=bin/docker/$$(echo $$1 | tr / -)/cabridge; \
		echo "== $$1 -> $(IMAGE):latest-$$4"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$2 GOARM=$$3 $(GO) build $(DOCKER_GOFLAGS) -o $$bin ./cmd/cabridge; \
		$(DOCKER) build -q --no-cache --platform $$1 --build-arg BINARY=$$bin --build-arg VERSION=$(IMAGE_TAG) \
			-t $(IMAGE):latest-$$4 -t $(IMAGE):$(IMAGE_TAG)-$$4 .; \
	done
	@$(DOCKER) image ls $(IMAGE)

clean: ## Remove build outputs.
	rm -rf bin coverage.out coverage.html
