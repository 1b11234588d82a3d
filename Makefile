# kubeburst — `make demo` runs the main job locally; `make test` sets up everything and runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: help deps build services test unit clean demo eval verify e2e-kind

help:
	@echo "make demo      run PageRank locally (no servers needed)"
	@echo "make test      install, build, start Redis/NATS (and the local control plane), run all tests"
	@echo "make build     compile TypeScript"
	@echo "make verify    generated files (crds/) match their sources"
	@echo "make e2e-kind  kind cluster + images + helm install + the e2e scenario (needs Docker, kind, helm)"
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
	npx tsc --noEmit -p tsconfig.test.json
	npm test

# The main job: PageRank with `kubeburst run` on the direct transport (no servers), progress and a summary.
KUBEBURST := node operator/dist/cli/main.js
demo: build
	$(KUBEBURST) run examples/pagerank/burstjob.yaml

eval: build services
	npm run --silent eval

# crds/ and the chart's copy are generated from operator/src/api (npm run gen:crd).
verify: build
	node operator/dist/api/gen-crd.js --check

# The e2e scenario (test/e2e/scenario.ts) on a kind cluster with the real images; `make test` runs the
# same scenario on the local control plane.
KIND ?= kind
HELM ?= helm
E2E_CLUSTER ?= kubeburst-e2e
E2E_TAG ?= e2e
e2e-kind: build
	$(KIND) get clusters | grep -qx '$(E2E_CLUSTER)' || $(KIND) create cluster --name $(E2E_CLUSTER) --wait 180s
	docker build -f operator/Dockerfile -t kubeburst/operator:$(E2E_TAG) .
	docker build -f worker-runtime/Dockerfile -t kubeburst/worker:$(E2E_TAG) .
	$(KIND) load docker-image --name $(E2E_CLUSTER) kubeburst/operator:$(E2E_TAG) kubeburst/worker:$(E2E_TAG)
	kubectl --context kind-$(E2E_CLUSTER) apply --server-side -f crds/
	$(HELM) --kube-context kind-$(E2E_CLUSTER) upgrade --install kubeburst helm/kubeburst -n kubeburst-system --create-namespace --wait \
	  --set image.repository=kubeburst/operator --set image.tag=$(E2E_TAG) --set image.pullPolicy=Never \
	  --set workerImage.repository=kubeburst/worker --set workerImage.tag=$(E2E_TAG) --set workerImage.pullPolicy=Never
	KUBEBURST_E2E_CONTEXT=kind-$(E2E_CLUSTER) KUBEBURST_E2E_WORKER_IMAGE=kubeburst/worker:$(E2E_TAG) npm test -- --config test/e2e/kind/jest.config.js

clean:
	npx tsc -b --clean
