# TelemetryStore: the two commands of the README (`make run`, `make test`) and helpers.
# Every target installs what is missing first (Debian packages, as root or through sudo).

SWIFT        ?= swift
DATA         ?= ./data
PORT         ?= 7400
HOST         ?= 127.0.0.1
# Built once from the swift-protobuf checkout the package already resolves, outside the repo.
PROTOC_GEN_SWIFT ?= /tmp/protoc-gen-swift/release/protoc-gen-swift
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test build deps proto proto-check defaults bench-storage bench-load bench-mapping clean

## Install the C libraries the store links against, if they are missing.
deps:
	@if [ ! -f /usr/include/leveldb/c.h ] || [ ! -f /usr/include/snappy-c.h ]; then \
		echo "installing libleveldb-dev and libsnappy-dev"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libleveldb-dev libsnappy-dev; \
	fi

## Build the server and the command-line tool (release).
build: deps
	$(SWIFT) build -c release --product telemetryd
	$(SWIFT) build -c release --product telemetryctl

## Start telemetryd on $(DATA), listening on $(HOST):$(PORT). Stop it with Ctrl-C.
run: build
	mkdir -p $(DATA)
	./.build/release/telemetryd --data $(DATA) --listen $(HOST) --port $(PORT)

## Run every test (unit and loopback integration tests).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## The protobuf plugin: about 2-10 minutes the first time, then reused.
$(PROTOC_GEN_SWIFT):
	$(SWIFT) package resolve
	$(SWIFT) build -c release --package-path .build/checkouts/swift-protobuf --scratch-path $(dir $(patsubst %/,%,$(dir $(PROTOC_GEN_SWIFT)))) --product protoc-gen-swift

## Regenerate Sources/TelemetryWire/Generated from protocol/ (docs/wire-protocol.md).
proto: $(PROTOC_GEN_SWIFT)
	@command -v protoc >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq protobuf-compiler; }
	protoc --plugin=protoc-gen-swift=$(PROTOC_GEN_SWIFT) \
		--swift_opt=Visibility=Package --swift_opt=UseAccessLevelOnImports=true --swift_opt=FileNaming=PathToUnderscores \
		--swift_out=Sources/TelemetryWire/Generated -I protocol protocol/telemetry/v1/telemetry.proto

## Regenerate Sources/TelemetryMapping/Config/DefaultFiles+Embedded.swift from the default
## mapping files in Sources/TelemetryMapping/Defaults (compiled into the binaries).
defaults:
	python3 tools/embed-defaults.py

## Fail when the committed generated code differs from what `make proto` makes.
proto-check: proto
	git diff --exit-code -- Sources/TelemetryWire/Generated

## Storage benchmark beside raw LevelDB (docs/BENCHMARKS.md).
bench-storage: deps
	bash tools/bench/storage.sh 3

## Ingest and query benchmark over TCP beside VictoriaMetrics (docs/BENCHMARKS.md).
bench-load: deps
	bash tools/bench/load.sh 3

## Ingest with the Navixy mapping against the identity mapping, same records (docs/BENCHMARKS.md).
bench-mapping: deps
	bash tools/bench/mapping.sh 3

clean:
	rm -rf .build
