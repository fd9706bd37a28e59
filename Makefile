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
