# longrun: make run | make test | make bench
GO      ?= go
ADDR    ?= 127.0.0.1:8080
DATA    ?= ./data
# Browser screenshots and other artefacts of make test land here.
export LONGRUN_TEST_OUTPUT ?= $(CURDIR)/test-output

# Fuzz targets make test runs briefly (go test -fuzz), beyond their seed corpus.
# A count, not a duration: Go 1.26's fuzz coordinator can report "context
# deadline exceeded" at the end of a -fuzztime duration with no failing
# input (golang/go#75804, fixed in Go 1.27).
FUZZ_TARGETS = FuzzCreateBody FuzzIfMatch FuzzSessionToken
FUZZTIME    ?= 20000x

.PHONY: run run-aws-local test bench build deps generate deploy build-ApiFunction build-RenderFunction build-NotifyFunction

## run: build, then start the local system (SQLite, images, mailbox, WebSocket
## hub) and print its URL; Ctrl-C stops it cleanly (status 0). A built binary,
## not go run: go run answers an interrupt with status 1, which make reports.
run:
	@echo "building bin/longrun and bin/longrun-serve (the first build compiles every dependency: a minute or more)…"
	$(GO) build -o bin/ ./cmd/longrun ./cmd/longrun-serve
	@echo "starting the local system; Ctrl-C stops it"
	./bin/longrun serve --addr $(ADDR) --data $(DATA)

RIE_VERSION = v0.0.0-20261030222936-bef5c4ba774d
LOCALAWS    = infra/localaws
# Lighthouse, pinned (12.2.3: the last that npm ci takes on Node 20), for
# the page's audit (e2e/lighthouse_test.go).
LIGHTHOUSE  = e2e/lighthouse

## run-aws-local: the same page on the AWS adapters, against local servers that
## speak the AWS protocols (DynamoDB Local, fauxqs, aws-ses-v2-local, gofakes3)
run-aws-local: deps
	ADDR=$(ADDR) bash $(LOCALAWS)/run.sh

## deps: fetch what the build and tests need: Go modules, the local servers
## that speak the AWS protocols (npm, pinned by package-lock.json), and the
## Lambda Runtime Interface Emulator
deps: $(LOCALAWS)/node_modules/.installed $(LIGHTHOUSE)/node_modules/.installed bin/aws-lambda-rie
	$(GO) mod download

$(LOCALAWS)/node_modules/.installed: $(LOCALAWS)/package-lock.json
	cd $(LOCALAWS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(LIGHTHOUSE)/node_modules/.installed: $(LIGHTHOUSE)/package-lock.json
	cd $(LIGHTHOUSE) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

bin/aws-lambda-rie:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## test: install what the tests need and run every test
test: deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	mkdir -p $(LONGRUN_TEST_OUTPUT)
	rm -f $(LONGRUN_TEST_OUTPUT)/lighthouse/scores.txt
	$(GO) test -count=1 -timeout 15m ./...
	@# The page's pure modules (the merge of two tabs, the URL) under node --test.
	node --no-warnings --experimental-default-type=module --test web/jstest/
	@# Lighthouse's timings suffer from other work: its audit runs alone.
	LONGRUN_LIGHTHOUSE=1 $(GO) test -count=1 -run '^TestLighthouse$$' ./e2e
	@# The amd64 assembly is what its generator (avo) writes, byte for byte.
	@tmp=$$(mktemp -d) && mkdir -p $$tmp/julia/internal && cp -r julia/internal/asm $$tmp/julia/internal/ && \
		(cd $$tmp/julia/internal/asm && $(GO) run . -out ../../kernel_amd64.s -stubs ../../kernel_amd64.go -pkg julia) && \
		cmp $$tmp/julia/kernel_amd64.s julia/kernel_amd64.s && cmp $$tmp/julia/kernel_amd64.go julia/kernel_amd64.go && \
		rm -rf $$tmp && echo "julia/kernel_amd64.s is its generator's output"
	@# The kernels' fallback: a build without assembly (purego) renders the same.
	$(GO) test -count=1 -tags purego -run 'Exact|Standard|Golden' ./julia
	@# The arm64 (NEON) kernel, and the classifier's training bit for bit,
	@# under qemu-user: what Lambda runs on Graviton.
	@if command -v qemu-aarch64 >/dev/null; then \
		echo "julia and classifier on arm64, under qemu-aarch64"; \
		GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64 ./julia || exit 1; \
		GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64 -run 'Reproducible|Resume|Math|Gradients' ./kinds/classifier || exit 1; \
	elif [ -n "$$CI" ]; then \
		echo "qemu-aarch64 is missing: .ci/run installs qemu-user"; exit 1; \
	else \
		echo "skipped the arm64 kernel's tests: no qemu-aarch64 here (apt-get install qemu-user)"; \
	fi
	@for target in $(FUZZ_TARGETS); do \
		echo "fuzz $$target, $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) ./web || exit 1; \
	done
	@cat $(LONGRUN_TEST_OUTPUT)/lighthouse/scores.txt 2>/dev/null || echo "Lighthouse did not run (no Chromium at /usr/bin/chromium)"
	@echo "test artefacts (screenshots, the Lighthouse report): $(LONGRUN_TEST_OUTPUT)"

## bench: the renderer's and the API's benchmarks, one run
bench:
	$(GO) test -run '^$$' -bench '^Benchmark[^G]' -benchtime 20x ./julia
	@# The grid: 256² to 4096² × depths 64 to 4096, CPU per iteration beside the roofline.
	$(GO) test -run '^$$' -bench '^BenchmarkGrid$$' -benchtime 300ms ./julia
	$(GO) test -run '^$$' -bench RenderCommand -benchtime 21x ./cmd/longrun
	$(GO) test -run '^$$' -bench 'APIList|APICreate' -benchtime 2000x ./local
	$(GO) test -run '^$$' -bench EndToEnd -benchtime 20x ./local
	$(GO) test -run '^$$' -bench Drain -benchtime 1x ./local
	$(GO) test -run '^$$' -bench Fairness -benchtime 1x ./local
	$(GO) test -run '^$$' -bench Floods -benchtime 1x ./local
	$(GO) test -run '^$$' -bench Tiles -benchtime 3x ./local
	@# A poster killed with SIGKILL mid-render: the restart renders only the missing tiles.
	$(GO) test -count=1 -run '^TestKilledMidTiledRenderRendersOnlyTheMissingTiles$$' -v ./e2e
	@# The page's Lighthouse performance, held to 95 here (make test only prints it).
	LONGRUN_LIGHTHOUSE=1 LONGRUN_LIGHTHOUSE_PERF=1 $(GO) test -count=1 -run '^TestLighthouse$$' -v ./e2e

## build: the command line tool, longrun, and the server its serve runs,
## longrun-serve (render links only the renderer: a short start)
build:
	$(GO) build -o bin/ ./cmd/longrun ./cmd/longrun-serve

## deploy: build the Lambdas and deploy the stack with the SAM CLI
## (samconfig.toml; the first time: sam deploy --guided)
deploy:
	sam build
	sam deploy

## build-ApiFunction, build-RenderFunction, build-NotifyFunction: the Lambda
## bootstraps, for sam build (BuildMethod: makefile); ARTIFACTS_DIR is SAM's.
LAMBDA_BUILD = GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags=-s -o $(ARTIFACTS_DIR)/bootstrap
build-ApiFunction:
	$(LAMBDA_BUILD) ./functions/api
build-RenderFunction:
	$(LAMBDA_BUILD) ./functions/render
build-NotifyFunction:
	$(LAMBDA_BUILD) ./functions/notify

## generate: regenerate the kernels, and the colormap tables where
## python3-matplotlib is installed (apt-get install python3-matplotlib)
generate:
	cd julia && $(GO) run internal/gen/kernels.go
	cd julia/internal/asm && $(GO) run . -out ../../kernel_amd64.s -stubs ../../kernel_amd64.go -pkg julia
	@if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then \
		cd julia && /usr/bin/python3 internal/gen/colormaps.py && gofmt -w colormaps.go; \
	else \
		echo "colormaps.go kept: the colormap tables need python3-matplotlib"; \
	fi
