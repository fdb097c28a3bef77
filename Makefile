# HCS developer entry points. `make run` and `make test` do all set-up themselves.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
# Packages checked by mypy --strict (the pure-decision ones, as they land).
STRICT := packages/hcs-envtest/src/hcs_envtest packages/hcs-api/src/hcs_api packages/hcs-exchange/src/hcs_exchange packages/hcs-scheduler/src/hcs_scheduler packages/hcs-agent/src/hcs_agent packages/hcs-webhook/src/hcs_webhook

.PHONY: run test lint venv bazel ebpf-toolchain resume-demo controlplane helm crds wheels check-install lock clean reliability images mutation mutation-sample

## run: set up, then the main job: the simulator on its bundled scenarios (policy comparison on
## a mixed 4-vendor cluster and an Alibaba trace sample, then vendor-neutral vs vendor-locked)
run: venv
	@$(BIN)/hcs-scheduler simulate --report reports/default
	@echo
	@$(BIN)/hcs-scheduler simulate --protocol vendor-lock --report reports/default

## test: set up (virtualenv, bazel, the eBPF toolchain, the Kubernetes control plane, Helm),
## then every test through `bazel test //...`; the real-API tests find the control plane through
## HCS_CONTROLPLANE_BIN, the chart's tests Helm through HCS_HELM
test: venv bazel ebpf-toolchain
	@bin=$$(tools/controlplane/build.sh) && helm=$$(tools/bootstrap/helm.sh) && \
	  HCS_CONTROLPLANE_BIN=$$bin HCS_HELM=$$helm tools/bazel_test.sh

## controlplane: build (or reuse) kube-apiserver, kube-scheduler, kube-controller-manager and
## etcd from the Go modules pinned in tools/controlplane; prints the folder they are in
controlplane:
	@tools/controlplane/build.sh

## helm: fetch (once) Helm v3 for the chart's tests and `helm install`; prints its path
helm:
	@tools/bootstrap/helm.sh

## images: build the agent, scheduler and webhook images with buildah (root; vfs storage,
## chroot isolation) on a Debian base made from Debian's packages; see images/README.md
images:
	@tools/images/build.sh

## reliability: the reliability suite at full size, each part printing its table row
## (1,000 concurrent binds, 10 x kill -9 of the extender, 100,000 fuzzed bodies per server,
## 8 processes racing one VRAM quota); `make test` runs a short version of each
reliability: venv
	@bin=$$(tools/controlplane/build.sh) && export HCS_CONTROLPLANE_BIN=$$bin && \
	  for part in binds restarts fuzz interceptor_race; do \
	    $(BIN)/python bench/reliability/$$part.py || exit 1; \
	  done

## mutation: mutmut over the decision modules (tools/mutation/modules.toml), every mutant; prints
## the score per module and every live mutant not listed as equivalent (tools/mutation/README.md)
mutation: venv
	@$(BIN)/python tools/mutation/run.py

## mutation-sample: CI's time-boxed sample: MUTATION_SAMPLE random mutants of each decision
## module changed in the last MUTATION_COMMITS commits; fails on a live one
MUTATION_COMMITS ?= 20
MUTATION_SAMPLE ?= 30
mutation-sample: venv
	@base=$$(git rev-list --max-count=$(MUTATION_COMMITS) HEAD | tail -1) && \
	  $(BIN)/python tools/mutation/run.py --changed-since "$$base" \
	    --sample $(MUTATION_SAMPLE) --time-box 240

## lint: ruff (lint + format), mypy --strict on the pure packages, the package-arrow contracts
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict $(STRICT)
	$(BIN)/lint-imports

venv: $(VENV)/.installed

$(VENV)/.installed: requirements/lock.txt $(wildcard packages/*/pyproject.toml) tools/bootstrap/venv.sh
	@tools/bootstrap/venv.sh $(VENV)
	@touch $@

bazel:
	@tools/bootstrap/bazel.sh

## ebpf-toolchain: clang, bpftool, libbpf, libelf and zlib for native/ebpf (apt-get on Debian)
ebpf-toolchain:
	@tools/bootstrap/ebpf.sh

## resume-demo: a PyTorch CPU run killed mid-training resumes from the checkpoint hcs-health
## picks, with the same loss curve (examples/resume-demo; installs PyPI's torch, about 5 GB,
## into .venv-torch, apart from .venv)
resume-demo:
	@py=$$(tools/bootstrap/torch_venv.sh .venv-torch) && $$py examples/resume-demo/run_demo.py

## crds: regenerate deploy/crds from the hcs_api models
crds: venv
	$(BIN)/hcs-api crds --output-dir deploy/crds

## wheels: build every package's wheel into dist/ (HCS packages are not on PyPI; pip finds
## them with --find-links dist)
wheels: venv
	@rm -rf dist && mkdir -p dist
	@for package in packages/*/; do $(BIN)/pip wheel -q --no-deps --no-build-isolation -w dist "$$package"; done
	@ls dist

## check-install: each package installs with plain pip into a fresh virtualenv
check-install: wheels
	@tools/check_install.sh

## lock: re-resolve requirements/top.txt into requirements/lock.txt
lock:
	rm -rf .venv-lock && python3 -m venv .venv-lock
	.venv-lock/bin/pip install -q -r requirements/top.txt
	{ grep '^#' requirements/lock.txt; .venv-lock/bin/pip freeze --all | grep -v '^pip==' | sed 's/+cpu$$//'; } > requirements/lock.new
	mv requirements/lock.new requirements/lock.txt && rm -rf .venv-lock

clean:
	-bazel clean
	rm -rf $(VENV) dist
