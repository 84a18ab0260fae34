# 数信签 server. `make run` serves on the embedded default (SQLite + sandbox providers);
# `make test` runs every test (the Postgres suites when TEST_DATABASE_URL or DATABASE_URL is set).
GO            ?= go
BIN           := bin/shuxinqian
GOLANGCI_VER  := v2.15.0
GOLANGCI      := $(shell $(GO) env GOPATH)/bin/golangci-lint

.PHONY: run build test test-short bench generate check-generate lint vet fuzz clean load web check-web

run:
	$(GO) run ./bootstrap/cmd/shuxinqian serve

build:
	$(GO) build -trimpath -o $(BIN) ./bootstrap/cmd/shuxinqian

# -race instruments our code and every dependency except modernc.org/* (SQLite and its libc,
# machine-translated C: instrumented, every SQLite call runs ~4x slower and the suite outgrows CI;
# SQLite's own locking is not Go's to check). -timeout: the component suites run long on 2 cores.
RACE_FLAGS    := -race -gcflags='modernc.org/...=-race=false'

test:
	$(GO) test $(RACE_FLAGS) -count=1 -timeout 30m ./...

test-short:
	$(GO) test -count=1 ./...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# The load harness (README "Load and performance"): SQLite, and Postgres when TEST_DATABASE_URL is
# set; shorten with LOAD_DURATION=10s LOAD_PAIRS=3. Not part of make test.
load:
	$(GO) run ./tests/load

# Regenerates wire_gen.go and the gomock mocks; check-generate fails if that changes the tree.
generate:
	$(GO) generate ./...

check-generate: generate
	@git diff --exit-code -- '*.go' || (echo "generated code is stale: run make generate and commit" && exit 1)
	@test -z "$$(git status --porcelain --untracked-files=all -- '*.go')" || (git status --porcelain -- '*.go'; echo "make generate created files: commit them" && exit 1)

# The H5 client (adapters/h5/web): make web rebuilds the committed bundle adapters/h5/dist from the
# locked package-lock.json; check-web fails when the committed bundle is not what the source builds.
web:
	cd adapters/h5/web && npm ci --no-audit --no-fund && npm run build

check-web: web
	@git diff --exit-code -- adapters/h5/dist || (echo "the H5 bundle is stale: run make web and commit" && exit 1)
	@test -z "$$(git status --porcelain --untracked-files=all -- adapters/h5/dist)" || (git status --porcelain -- adapters/h5/dist; echo "make web created files: commit them" && exit 1)

vet:
	$(GO) vet ./...

$(GOLANGCI):
	$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VER)

lint: $(GOLANGCI)
	$(GOLANGCI) run ./...

fuzz:
	for f in FuzzParsePhone FuzzParseIDNumber FuzzParseCreditCode FuzzParseYuan; do \
		$(GO) test -run='^$$' -fuzz=$$f -fuzztime=15s ./domain/kernel/ || exit 1; done

clean:
	rm -rf bin var
