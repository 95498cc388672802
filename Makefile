# runh: a hardened, runc-compatible OCI runtime.
#   make demo   install packages if missing, build, run a hardened container
#   make test   unit, fake-runc and real-runc integration tests (root for the latter)

SHELL   := /bin/bash
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/runh-dev/runh/runtime.Version=$(VERSION)
# Clients built from the Go module proxy for make e2e and make conformance.
CRICTL_VERSION      := v1.37.0
CONTAINERD2_VERSION := v2.4.2
E2E_BINS := bin/crictl bin/containerd2/containerd
# Tests build with the runhtest tag: it lets them point runh at a fake runc,
# a stand-in runh-init and a private state dir through the environment,
# which release builds (make build) never honour (runtime/envhooks.go).
TESTTAGS := -tags runhtest
SOURCES := $(shell find . -name '*.go' -not -path './_build/*') go.mod go.sum

.PHONY: all build demo test unit integration vet deps clean generate bench bench-go bench-clients cross fuzz conformance e2e k8s-build k8s-up k8s-down e2e-k8s

all: build

build: bin/runh bin/runh-core bin/runc bin/runh-init

# The two C programs run on every call (the front) and in every container
# (runh-init), so they are linked against musl when musl-gcc is there
# (Debian's musl-tools; make deps installs it): fork, exec and exit of a
# static glibc binary take 0.45 ms here (its start-up resolves ifuncs by
# probing the CPU with CPUID, which traps to the hypervisor on a VM), of a
# musl one 0.17 ms. Without musl-gcc, glibc still works, only slower. musl-gcc leaves out /usr/include, where runh-init's
# kernel headers (linux/seccomp.h) are, so they are added after musl's own.
STATIC_CC ?= $(shell command -v musl-gcc 2>/dev/null || echo $(CC))
KERNEL_HEADERS = $(if $(findstring musl,$(STATIC_CC)),-idirafter /usr/include -idirafter /usr/include/$(shell $(CC) -print-multiarch))

# runh is two binaries, installed side by side with runh-init and runc:
# runh, a small static C front that execs runc directly for plain
# pass-through calls (state, start, kill, delete, ...: the engines' hot
# path) and runh-core for everything else; and runh-core, pure Go (static,
# no cgo), which does all the hardening.
bin/runh: runtime/front/runh.c
	@mkdir -p $(@D)
	$(STATIC_CC) -static -Os -s -Wall -Wextra -Werror -o $@ $<

bin/runh-core: $(SOURCES)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/runh

# The seccomp fast path's init: static, tiny, and installed next to runh.
bin/runh-init: seccomp/init/runh-init.c
	@mkdir -p $(@D)
	$(STATIC_CC) -static -Os -s -Wall -Wextra -Werror $(KERNEL_HEADERS) -o $@ $<

# The real runc, from the version pinned in go.mod, so every test runs
# against a known runc.
bin/runc: go.mod go.sum
	$(GO) build -trimpath -tags seccomp -ldflags "-X main.gitCommit=$$($(GO) list -m -f '{{.Version}}' github.com/opencontainers/runc)-goproxy" \
		-o $@ github.com/opencontainers/runc

# runc's own bats suite (runc, runh compat: identical outcomes, runh
# restricted: listed deltas only) and critest through containerd 2.4.2
# (runc, runh restricted: listed deltas only). About 10 minutes, root.
conformance: build $(E2E_BINS)
	./integration/conformance/conformance.sh

# runh behind real engines (root): Docker, containerd 1.6 (Debian) and 2.4.2
# (ctr and CRI via crictl), Podman. Installs docker.io, containerd, podman
# and the CNI plugins if missing, and crictl and containerd 2.4.2 from the
# Go module proxy into bin/. runh is registered with `runh install`.
e2e: build $(E2E_BINS)
	@command -v dockerd >/dev/null && command -v containerd >/dev/null && command -v podman >/dev/null && test -x /usr/lib/cni/bridge && command -v script >/dev/null || \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io containerd podman containernetworking-plugins bsdutils >/dev/null)
	$(GO) test -count=1 -timeout 20m -tags e2e -v ./integration/e2e/ 2>&1 | grep -E '^(\s*---|ok|FAIL|PASS|panic|\s+\S+_test.go)'; exit $${PIPESTATUS[0]}

bin/crictl:
	GOBIN=$(CURDIR)/bin $(GO) install sigs.k8s.io/cri-tools/cmd/crictl@$(CRICTL_VERSION)

# no_btrfs: Debian's btrfs headers are not needed for overlayfs.
bin/containerd2/containerd:
	GOBIN=$(CURDIR)/bin/containerd2 GOFLAGS=-buildvcs=false $(GO) install -tags no_btrfs \
		github.com/containerd/containerd/v2/cmd/containerd@$(CONTAINERD2_VERSION) \
		github.com/containerd/containerd/v2/cmd/ctr@$(CONTAINERD2_VERSION) \
		github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$(CONTAINERD2_VERSION)

# A single-node Kubernetes cluster (root): etcd, kube-apiserver,
# controller-manager, scheduler, kubelet and kube-proxy, built from the Go
# module proxy (integration/k8s/go.mod pins Kubernetes and etcd), on
# containerd 2.4.2 with the CNI bridge. runh goes in through the installer
# DaemonSet (deploy/kubernetes). The first build takes long (see README);
# later ones use the Go build cache. k8s-up reuses a running cluster and
# prints export KUBECONFIG=... last; k8s-down removes everything it made.
K8S_MOD  := integration/k8s
K8S_CMDS := k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy \
	k8s.io/kubernetes/cmd/kubectl
# The version the binaries report (the kubelet's node version, kubectl
# version); a build from the module proxy has no git tree to read it from.
K8S_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" && $$2 ~ /^v/ { print $$2; exit }' $(K8S_MOD)/go.mod)
K8S_LDFLAGS := -s -w $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X $(p).gitVersion=$(K8S_VERSION) -X $(p).gitMajor=1 -X $(p).gitTreeState=clean \
	-X $(p).gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION))))
k8s-build: bin/k8s/.built bin/k8s/runh-k8s

bin/k8s/.built: $(K8S_MOD)/go.mod $(K8S_MOD)/go.sum
	@mkdir -p bin/k8s
	cd $(K8S_MOD) && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(K8S_LDFLAGS)' -o $(CURDIR)/bin/k8s/ $(K8S_CMDS)
	cd $(K8S_MOD) && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(CURDIR)/bin/k8s/etcd go.etcd.io/etcd/server/v3
	cp bin/k8s/kubectl bin/kubectl
	touch $@

bin/k8s/runh-k8s: $(wildcard $(K8S_MOD)/cluster/*.go) $(K8S_MOD)/go.mod
	cd $(K8S_MOD) && $(GO) build -o $(CURDIR)/$@ ./cluster

k8s-up: build $(E2E_BINS) k8s-build
	@test -x /usr/lib/cni/bridge || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins >/dev/null
	./bin/k8s/runh-k8s up

k8s-down:
	@if [ -x bin/k8s/runh-k8s ]; then ./bin/k8s/runh-k8s down; fi

# up, the tests of integration/k8s, down (also when up or the tests fail).
e2e-k8s: build $(E2E_BINS) k8s-build
	@test -x /usr/lib/cni/bridge || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins >/dev/null
	./bin/k8s/runh-k8s up || { ./bin/k8s/runh-k8s down; exit 1; }
	cd $(K8S_MOD) && $(GO) test -count=1 -timeout 30m -tags k8s -v ./... 2>&1 | grep -E '^(\s*---|ok|FAIL|PASS|panic|\s+\S+_test.go)'; \
		rc=$${PIPESTATUS[0]}; cd $(CURDIR) && ./bin/k8s/runh-k8s down || rc=1; exit $$rc

# Each fuzz target for FUZZTIME: decoders, the harden pipeline, create's
# rewrite of a bundle, the update path. Crashers land in testdata/fuzz/ and
# become regression tests of `go test`.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run XXX -fuzz '^FuzzHardenSpec$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./sandbox/
	$(GO) test -run XXX -fuzz '^FuzzHardenProcess$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./sandbox/
	$(GO) test $(TESTTAGS) -run XXX -fuzz '^FuzzCreateBundle$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./runtime/
	$(GO) test $(TESTTAGS) -run XXX -fuzz '^FuzzUpdateResources$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./runtime/
	$(GO) test -run XXX -fuzz '^FuzzCodec$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/specjson/

# Interleaved runh vs runc timings (root). Results go to bench-results.md;
# the README shows the latest. A benchmark, not a test.
bench: build
	$(GO) run ./scripts/bench -out bench-results.md

# Engine round trips (root): docker run, ctr run and a CRI pod cycle, runc
# vs runh, interleaved; writes bench-clients.md. ROUNDS=15 by default.
bench-clients: build $(E2E_BINS)
	RUNH_BENCH_ROUNDS=$(or $(ROUNDS),15) $(GO) test -count=1 -timeout 30m -tags e2e -run '^$$' -bench BenchmarkClients -benchtime 1x ./integration/e2e/

# Go benchmark of runh's own work on the create path.
bench-go:
	$(GO) test -run XXX -bench . -benchmem ./profiles/

# runh and runh-init for linux/arm64 and linux/arm (armv7), static.
cross:
	./scripts/cross.sh

deps:
	./scripts/deps.sh

demo: deps build
	./scripts/demo.sh

# Regenerate seccomp/default.json and the precompiled filters from the Go
# profile (needs libseccomp-dev), and the spec codec (internal/specjson).
# Tests fail when they are stale.
generate:
	$(GO) generate ./seccomp ./internal/specjson

vet:
	$(GO) vet ./...
	$(GO) vet $(TESTTAGS) ./runtime/

unit:
	$(GO) test $(TESTTAGS) -count=1 ./sandbox/ ./seccomp/ ./profiles/ ./runtime/ ./install/ ./deploy/...

integration: build
	$(GO) test -count=1 -v ./integration/ 2>&1 | grep -E '^(---|===|ok|FAIL|PASS|panic|\s+\S+_test.go)' ; exit $${PIPESTATUS[0]}

test: deps build vet
	$(GO) test $(TESTTAGS) -count=1 ./...

clean:
	rm -rf bin _build
