# kubeburst — `make demo` runs the main job locally; `make test` sets up everything and runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: help deps build services test unit clean demo eval verify format e2e-kind

help:
	@echo "make demo      run PageRank locally (no servers needed)"
	@echo "make test      install, build, start Redis/NATS (and the local control plane), run all tests"
	@echo "make unit      the tests that need no Kubernetes (jest project unit; starts Redis/NATS)"
	@echo "make build     compile TypeScript"
	@echo "make verify    imports go one way, Prettier layout, ESLint, generated files (crds/, docs/api/) match their sources"
	@echo "make format    apply the Prettier layout"
	@echo "make e2e-kind  kind cluster + images + the e2e scenarios, which helm install the chart (needs Docker, kind, helm)"
	@echo "make eval      the apps at G=1 (FaaS mode) vs packed, on every transport -> docs/EVALUATION.md"

$(NODE_MODULES_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES_STAMP)

build: deps
	npx tsc -b
	node scripts/prune-dist.mjs

services:
	./scripts/ensure-services.sh

test: build services
	npx tsc --noEmit -p tsconfig.test.json
	./scripts/test.sh

# Everything but the cluster suites: unit tests beside the code, conformance on every transport, the examples.
unit: build services
	npx tsc --noEmit -p tsconfig.test.json
	npm test -- --selectProjects unit

# The main job: PageRank with `kubeburst run` on the direct transport (no servers), progress and a summary.
KUBEBURST := node cli/bin/kubeburst.js
demo: build
	$(KUBEBURST) run examples/pagerank/burstjob.yaml

eval: build services
	npm run --silent eval

# Cheapest first. crds/ and the chart's copy are generated from api/src (npm run gen:crd); docs/api/ from
# worker-runtime's TSDoc (npm run docs:api, about 20 s).
verify: build
	node scripts/check-imports.mjs
	npx prettier --check .
	npx eslint .
	node api/dist/gen-crd.js --check
	./scripts/check-api-docs.sh

format: deps
	npx prettier --write .

# The e2e scenarios (test/e2e/scenario.ts) on a kind cluster, with the images docker builds from the
# Dockerfiles (upstream base images); `make test` runs the same scenarios on its local real node. The
# scenarios install the chart themselves (helm, kubectl and kind on PATH).
KIND ?= kind
E2E_CLUSTER ?= kubeburst-e2e
E2E_TAG ?= e2e
e2e-kind: build
	$(KIND) get clusters | grep -qx '$(E2E_CLUSTER)' || $(KIND) create cluster --name $(E2E_CLUSTER) --wait 180s
	docker build -f operator/Dockerfile -t docker.io/kubeburst/operator:$(E2E_TAG) .
	docker build -f worker-runtime/Dockerfile -t docker.io/kubeburst/worker:$(E2E_TAG) .
	$(KIND) load docker-image --name $(E2E_CLUSTER) docker.io/kubeburst/operator:$(E2E_TAG) docker.io/kubeburst/worker:$(E2E_TAG)
	kubectl --context kind-$(E2E_CLUSTER) apply --server-side -f crds/
	KUBEBURST_E2E_CONTEXT=kind-$(E2E_CLUSTER) KUBEBURST_E2E_OPERATOR_IMAGE=docker.io/kubeburst/operator:$(E2E_TAG) \
	  KUBEBURST_E2E_WORKER_IMAGE=docker.io/kubeburst/worker:$(E2E_TAG) npm test -- --config test/e2e/kind/jest.config.js

clean:
	npx tsc -b --clean
