# Every Go module of the workspace, from go.work.
MODULES := $(shell go list -m -f '{{.Dir}}' 2>/dev/null)
GO_TEST_FLAGS ?= -race -count=1 -timeout 20m

.PHONY: test vet fmt bench build sim tidy

## test: vet, then run every module's tests with the race detector (what CI runs).
test: vet
	@set -e; for m in $(MODULES); do echo "== go test $$m"; (cd $$m && go test $(GO_TEST_FLAGS) ./...); done

## vet: gofmt check and go vet on every module.
vet:
	@bad=$$(gofmt -l $(MODULES)); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	@set -e; for m in $(MODULES); do (cd $$m && go vet ./...); done

## build: build every binary into bin/.
build:
	@mkdir -p bin
	@set -e; for m in $(MODULES); do case $$m in */services/*) (cd $$m && go build -o $(CURDIR)/bin/ .);; esac; done

## sim: serve all four simulators with a seeded inventory (see --help).
sim:
	go run ./services/sim

## bench: the sync benchmark (jms-sync serve against the simulators, separate processes; minutes at the
## default BENCH_N=10000; BENCH_N=200 is a smoke run; BENCH_LATENCY_MS, BENCH_ITEM_MS, BENCH_WORKERS,
## BENCH_CLOUD_LATENCY_MS, BENCH_CHURN, BENCH_OUT vary it; results in bench/results/), then the Go
## benchmarks of the pure code in every module. Not part of test/CI.
bench:
	go run ./services/bench
	@set -e; for m in $(MODULES); do (cd $$m && go test -run '^$$' -bench . -benchmem ./...); done

## tidy: go mod tidy in every module.
tidy:
	@set -e; for m in $(MODULES); do (cd $$m && go mod tidy); done

## fmt: gofmt -w every module.
fmt:
	gofmt -w $(MODULES)

# ---- run, demo, lint and docker compose (deploy/README.md) ----
COMPOSE ?= docker compose
# make run CONFIG=config.yaml: the Python jms-sync's config file (optional).
CONFIG ?=

.PHONY: run demo lint up down logs deploy-check

## run: the all-in-one, continuously (embedded JetStream in ./data; JMSSYNC_* variables, CONFIG=config.yaml).
run:
	go run ./services/jms-sync serve $(if $(CONFIG),-config $(CONFIG))

## demo: simulators + the whole pipeline in one process: a full sync, then a summary.
demo:
	go run ./services/jms-sync demo

## lint: vet (gofmt + go vet), then golangci-lint on every module when it is installed.
lint: vet
	@if command -v golangci-lint >/dev/null; then \
		set -e; for m in $(MODULES); do echo "== golangci-lint $$m"; (cd $$m && golangci-lint run ./...); done; \
	else echo "golangci-lint not installed: ran gofmt and go vet only"; fi

## up: build and start the docker compose stack (make up COMPOSE_PROFILES=demo for the offline demo).
up:
	$(COMPOSE) up -d --build

## down: stop and remove the stack's containers, every profile included (the NATS volume is kept).
down:
	$(COMPOSE) --profile demo --profile pinned down --remove-orphans

## logs: follow the stack's logs.
logs:
	$(COMPOSE) --profile demo --profile pinned logs -f --tail=100

## deploy-check: validate docker-compose.yml with every profile (docker compose config).
deploy-check:
	@set -e; for p in "" demo pinned "demo,pinned"; do echo "== $(COMPOSE) config (profiles: $${p:-none})"; \
		COMPOSE_PROFILES="$$p" $(COMPOSE) config -q; done
	@if $(COMPOSE) config 2>/dev/null | grep -q 'demo-only-'; then \
		echo "WARNING: demo-only NATS passwords in use: run sh deploy/init-env.sh (or set NATS_*_PASSWORD in .env)"; fi
