# reachyd: make run (the daemon on the simulated robot), make test.
GO      ?= go
ADDR    ?= 127.0.0.1
PORT    ?= 8000
BIN     := bin/reachyd
PKGS    := ./...

.PHONY: run build test test-short race fuzz bench lint vet fmt clean media-deps run-mujoco test-mujoco

run: build media-deps
	$(BIN) --backend sim --fastapi-host $(ADDR) --fastapi-port $(PORT)

# GStreamer runs the media pipelines (camera stream, microphone, speaker,
# sounds). On a fresh Debian or Ubuntu machine without it, install it (with
# sudo when not root); elsewhere reachyd runs without media and says so.
GST_PKGS := gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
media-deps:
	@command -v gst-launch-1.0 >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing GStreamer for the media pipelines: $(GST_PKGS)"; \
	    SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get install -y --no-install-recommends $(GST_PKGS) || echo "could not install GStreamer: reachyd will run without media"; \
	  else echo "no GStreamer (gst-launch-1.0): reachyd will run without media"; fi; }

build:
	$(GO) build -o $(BIN) ./cmd/reachyd
	$(GO) build -o bin/reachyctl ./cmd/reachyctl

# The full suite: vet, formatting, every test with the race detector, and a
# short run of each fuzz target.
test: lint
	$(GO) test -race -count=1 $(PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s

test-short:
	$(GO) test -count=1 -short $(PKGS)

# A crasher found fails at once (it is kept in testdata). Go's fuzzing
# engine also fails a run now and then with "context deadline exceeded"
# and no crasher, more often on a busy machine: such a run is tried again,
# three times at most.
FUZZTIME ?= 30s
fuzz:
	@set -e; for spec in $$($(GO) list -f '{{.ImportPath}}' $(PKGS)); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$spec 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$spec $$f"; \
	    for try in 1 2 3; do \
	      if $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$spec >/tmp/reachyd-fuzz.log 2>&1; then break; fi; \
	      cat /tmp/reachyd-fuzz.log; \
	      if [ $$try = 3 ] || grep -q 'Failing input written' /tmp/reachyd-fuzz.log || ! grep -q 'context deadline exceeded' /tmp/reachyd-fuzz.log; then \
	        echo "fuzz $$spec $$f failed"; exit 1; \
	      fi; \
	      echo "fuzz $$spec $$f: the engine's deadline error, no crasher; once more"; \
	    done; \
	  done; \
	done

# Benchmarks, recorded in docs/benchmarks.md.
BENCHTIME ?= 1s
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)
	$(GO) run ./cmd/reachyd-bench

lint: vet fmt

vet:
	$(GO) vet $(PKGS)

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# MuJoCo physics for --sim (sim/mujoco), behind the mujoco build tag: it
# needs cgo and Debian's libmujoco-dev (and libosmesa6-dev for the camera);
# the default build and `make test` stay pure Go. MUJOCO_MODEL is the
# reference's MJCF (a scene file or its mjcf folder) or builtin, reachyd's
# simplified model.
MUJOCO_MODEL ?= builtin
MUJOCO_PKGS  := ./sim/mujoco/... ./cmd/reachyd
run-mujoco: media-deps
	$(GO) build -tags mujoco -o bin/reachyd-mujoco ./cmd/reachyd
	bin/reachyd-mujoco --sim --mujoco-model $(MUJOCO_MODEL) --fastapi-host $(ADDR) --fastapi-port $(PORT)

# The tagged tests: the simulation itself, and the daemon on it.
test-mujoco:
	$(GO) vet -tags mujoco $(MUJOCO_PKGS)
	$(GO) test -race -count=1 -tags mujoco ./sim/mujoco/...
	$(GO) test -race -count=1 -tags mujoco -run MuJoCo ./cmd/reachyd

clean:
	rm -rf bin
