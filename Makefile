# kubeburst — `make demo` runs the main job locally; `make test` sets up everything and runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: help deps build services test unit clean demo eval

help:
	@echo "make demo      run PageRank locally (no servers needed)"
	@echo "make test      install, build, start Redis/NATS (and the local control plane), run all tests"
	@echo "make build     compile TypeScript"
	@echo "make eval      the apps at G=1 (FaaS mode) vs packed, on every transport -> docs/EVALUATION.md"

$(NODE_MODULES_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES_STAMP)

build: deps
	npx tsc -b

services:
	./scripts/ensure-services.sh

test: build services
	npm test

# Until the `kubeburst run` CLI lands, the demo runs the same manifest through runLocalFlare.
demo: build
	node examples/dist/pagerank/demo.js examples/pagerank/burstjob.yaml

eval: build services
	npm run --silent eval

clean:
	npx tsc -b --clean
