# The two commands: `make ring N=8` starts a local ring, `make test` runs
# every test. See README.md.

N ?= 8
PORT ?= 4000
HOST ?= 127.0.0.1
BITS ?= 160
# Extra flags for every node, e.g. NODE_FLAGS="--stabilize-ms 100".
NODE_FLAGS ?=
KEYS ?= 1000
# The churn harness (make churn): its defaults are the acceptance run.
CHURN_FLAGS ?=
# The massive-failure experiment (make massive P=0.5).
P ?= 0.25

# The ring's directory (pid files, logs, the secret): .ring, or .memory for
# the ring `make memory` starts beside it; git ignores both, and no other
# can be set.
override RING := $(if $(filter .memory,$(RING)),.memory,.ring)
CHORD := target/release/chord
# What measures a ring: churn, partitions, attacks, the simulator.
LAB := target/release/chord-lab
# Where each node of the ring keeps its keys: $(RING)/data/PORT, so that
# `make stop` then `make ring` brings them back. DURABLE=0 keeps them in
# memory only (the temporary rings of other targets do); FRESH=1 deletes
# the ring's data before starting it; FSYNC is --fsync (always, everysec,
# no).
DURABLE ?= 1
FRESH ?= 0
FSYNC ?= everysec
DATA := $(RING)/data
DATA_FLAGS = $(if $(filter 1,$(DURABLE)),--data-dir $(DATA)/$$port --fsync $(FSYNC))
# The ring's cluster secret: made once per ring directory, given to every
# node this Makefile starts, so the default local ring is closed to
# outsiders (see docs/security.md).
SECRET := $(RING)/secret
MAKE_SECRET := [ -s $(SECRET) ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > $(SECRET))

# A shell function: whether a pid runs. A process that has exited but not
# yet been reaped (a zombie, as orphans are until init collects them) does
# not count; `kill -0` alone would say it is alive.
ALIVE := alive() { s=$$(ps -o stat= -p "$$1" 2>/dev/null); [ -n "$$s" ] && [ "$${s\#Z}" = "$$s" ]; }

# Inputs per target for make fuzz.
FUZZ_INPUTS ?= 1000000
# make memory: the bound, in MiB, of a 3-node ring filled with 64 KiB values.
MEMORY_MIB ?= 64

.PHONY: all build test ring stop clean join cli bench churn crash massive partition deploy fuzz attack memory locks figures screenshot screenshots hunt

all: build

# Quiet unless it matters: one line, and cargo's output only when the
# build fails.
build:
	@mkdir -p target; printf 'building (cargo build --release)... '; \
	if cargo build --release -q > target/.build.log 2>&1; then echo done; \
	else echo failed:; cat target/.build.log; exit 1; fi

test:
	cargo test --workspace --all-targets

# Start N nodes on HOST:PORT, PORT+1, ...: the first creates the ring, the
# others join it. Pid files and logs go to .ring/. Returns once a RING walk
# from the first node lists all N.
ring: build
	@$(ALIVE); for f in $(RING)/*.pid; do [ -e "$$f" ] && { alive $$(cat $$f) || rm -f $$f; }; done; \
	if ls $(RING)/*.pid >/dev/null 2>&1; then \
	  echo "A ring is already running (pid files in $(RING)/); 'make stop' first."; exit 1; fi
	@taken=$$($(CHORD) ports --host $(HOST) --port $(PORT) --count $(N) 2>&1) || { \
	  echo "make ring: ports $(PORT) to $$(($(PORT) + $(N) - 1)) on $(HOST) must be free; $${taken##*] }"; exit 1; }
	@mkdir -p $(RING)
	@$(if $(filter 1,$(FRESH)),rm -rf $(DATA);) echo $(DURABLE) > $(RING)/durable
	@# The previous ring's logs are kept, one generation back, as *.log.1.
	@for f in $(RING)/node-*.log; do [ -e "$$f" ] && mv -f "$$f" "$$f.1"; done; true
	@echo $(HOST) > $(RING)/host; echo $(PORT) > $(RING)/port
	@$(MAKE_SECRET)
	@start=$$(date +%s%N); \
	for i in $$(seq 0 $$(($(N) - 1))); do \
	  port=$$(($(PORT) + i)); \
	  join=""; [ $$i -gt 0 ] && join="--join $(HOST):$(PORT)"; \
	  nohup $(CHORD) node --listen $(HOST):$$port --bits $(BITS) $$join \
	    --secret-file $(SECRET) $(DATA_FLAGS) $(NODE_FLAGS) \
	    > $(RING)/node-$$port.log 2>&1 & \
	  echo $$! > $(RING)/node-$$port.pid; \
	  if [ $$i -eq 0 ]; then \
	    $(CHORD) wait --addr $(HOST):$(PORT) --nodes 1 --timeout-s 10 > /dev/null 2>&1 || { \
	      echo "The first node did not start; see $(RING)/node-$(PORT).log:"; \
	      tail -n 3 $(RING)/node-$(PORT).log; exit 1; }; \
	  fi; \
	done; \
	$(ALIVE); up=""; \
	for _ in $$(seq 1 60); do \
	  if $(CHORD) wait --addr $(HOST):$(PORT) --nodes $(N) --timeout-s 1 > $(RING)/ring.txt 2> $(RING)/wait.log; then \
	    up=yes; break; fi; \
	  dead=""; for f in $(RING)/*.pid; do alive $$(cat $$f) || dead="$$dead $$f"; done; \
	  [ -n "$$dead" ] && break; \
	done; \
	if [ -z "$$up" ]; then \
	  echo "The ring did not reach $(N) nodes: $$(tail -n 1 $(RING)/wait.log)"; \
	  for f in $(RING)/*.pid; do alive $$(cat $$f) || { \
	    echo "  $${f%.pid}.log: exited: $$(tail -n 1 $${f%.pid}.log)"; rm -f $$f; }; done; \
	  echo "Nodes still running are listed in $(RING)/; 'make stop' stops them."; exit 1; \
	fi; \
	elapsed=$$(( ($$(date +%s%N) - start) / 1000000 )); \
	echo "A Chord ring of $(N) nodes (m = $(BITS) bits) is up after $$elapsed ms:"; \
	echo; printf "  %-42s %-22s %-7s %-9s %s\n" "identifier" "address" "owned" "replicas" "pid"; \
	while read -r id addr owned replicas; do \
	  printf "  %-42s %-22s %-7s %-9s %s\n" "$$id" "$$addr" "$${owned#owned=}" "$${replicas#replicas=}" "$$(cat $(RING)/node-$${addr##*:}.pid)"; \
	done < $(RING)/ring.txt; \
	echo; \
	echo "Ways in, each to node $(HOST):$(PORT) (any node answers for every key):"; \
	echo "  Redis:    redis-cli -h $(HOST) -p $(PORT)    (then: set greeting hello, get greeting)"; \
	echo "  Browser:  http://$(HOST):$(PORT)/    (the ring, live; ?key=greeting shows its lookup)"; \
	echo "  Prompt:   make cli    (the text protocol, with history; type HELP)"; \
	echo "  Raw:      nc $(HOST) $(PORT)"; \
	echo "Secret:     $(SECRET) (peers without it are refused)"; \
	echo "Kill one:   kill -9 \$$(cat $(RING)/node-$$(($(PORT) + 1)).pid), then type RING in make cli to watch it heal"; \
	echo "Add one:    make join"; \
	if [ "$(DURABLE)" = 1 ]; then \
	  echo "Data:       $(DATA)/PORT, --fsync $(FSYNC): make stop, then make ring, brings every key back"; \
	  echo "Stop all:   make stop    (make ring FRESH=1, or make clean, starts empty)"; \
	else echo "Stop all:   make stop    (DURABLE=0: the keys are held in memory only and go with the ring)"; fi

# Stop every node this Makefile started, gracefully (SIGTERM: each hands its
# keys to its successor and leaves), by the pids in .ring/.
stop:
	@$(ALIVE); stopped=0; held=""; \
	for f in $$(ls $(RING)/*.pid 2>/dev/null); do \
	  alive $$(cat $$f) || continue; p=$${f##*/node-}; \
	  held=$$($(CHORD) send --addr $$(cat $(RING)/host):$${p%.pid} COUNT 2>/dev/null | sed -n 's/^COUNT \([0-9]*\).*/\1/p'); \
	  [ -n "$$held" ] && break; \
	done; \
	for f in $$(ls -r $(RING)/*.pid 2>/dev/null); do \
	  pid=$$(cat $$f); \
	  if alive $$pid && kill -TERM $$pid; then \
	    for _ in $$(seq 1 200); do alive $$pid || break; sleep 0.05; done; \
	    if alive $$pid; then echo "$$f: pid $$pid did not leave in 10 s; killing it"; kill -9 $$pid; fi; \
	    stopped=$$((stopped + 1)); \
	  fi; \
	  rm -f $$f; \
	done; \
	echo "Stopped $$stopped nodes."; \
	if [ "$$(cat $(RING)/durable 2>/dev/null)" = 1 ] && [ -d $(DATA) ]; then \
	  if [ -n "$$held" ]; then what="The ring held $$held keys; they are"; else what="The ring's keys are"; fi; \
	  echo "$$what kept in $(DATA)/ and come back with 'make ring' (FRESH=1, or make clean, starts empty)."; \
	elif [ -n "$$held" ] && [ "$$held" -gt 0 ]; then \
	  echo "The ring held $$held keys; they are gone with it (started with DURABLE=0: memory only)."; fi

# Delete the stopped ring's data and logs, so that the next `make ring`
# starts empty. A running ring is stopped first.
clean:
	@$(MAKE) --no-print-directory stop > /dev/null
	@rm -rf $(DATA) $(RING)/*.log $(RING)/*.log.1 $(RING)/ring.txt $(RING)/wait.log; \
	echo "Deleted $(DATA)/ and the logs in $(RING)/: the next 'make ring' starts empty."

# Start one more node and join it to the running ring: on PORT if given,
# else on the port after the ring's highest. Pid files of nodes that died
# are removed first, so only live nodes count.
join: build
	@$(ALIVE); seed=""; top=0; host=$$(cat $(RING)/host 2>/dev/null || echo $(HOST)); \
	for f in $(RING)/*.pid; do [ -e "$$f" ] || continue; \
	  if alive $$(cat $$f); then p=$${f##*/node-}; p=$${p%.pid}; seed=$$p; [ $$p -gt $$top ] && top=$$p; \
	  else rm -f $$f; fi; done; \
	if [ -z "$$seed" ]; then echo "No running ring in $(RING)/; start one with 'make ring'."; exit 1; fi; \
	port=$(if $(filter command line,$(origin PORT)),$(PORT),$$((top + 1))); \
	$(CHORD) ports --host $$host --port $$port 2> /dev/null || { \
	  echo "make join: $$host:$$port is taken; pick another with PORT=..."; exit 1; }; \
	$(MAKE_SECRET); dflags=""; \
	[ "$$(cat $(RING)/durable 2>/dev/null)" = 1 ] && dflags="--data-dir $(DATA)/$$port --fsync $(FSYNC)"; \
	nohup $(CHORD) node --listen $$host:$$port --bits $(BITS) --join $$host:$$seed \
	  --secret-file $(SECRET) $$dflags $(NODE_FLAGS) \
	  > $(RING)/node-$$port.log 2>&1 & \
	echo $$! > $(RING)/node-$$port.pid; \
	n=$$(ls $(RING)/*.pid | wc -l); \
	if $(CHORD) wait --addr $$host:$$seed --nodes $$n --timeout-s 30 > /dev/null; then \
	  echo "Joined $$host:$$port (pid $$(cat $(RING)/node-$$port.pid)); the ring has $$n nodes."; \
	else echo "The ring did not grow to $$n nodes; see $(RING)/node-$$port.log"; exit 1; fi

# Talk to the running ring: chord cli (a prompt, history, line editing) at a
# live node of it.
cli: build
	@$(ALIVE); live=""; for f in $(RING)/*.pid; do \
	  [ -e "$$f" ] && alive $$(cat $$f) && { p=$${f##*/node-}; p=$${p%.pid}; \
	    if [ -z "$$live" ] || [ "$$p" -lt "$$live" ]; then live=$$p; fi; }; done; \
	if [ -z "$$live" ]; then echo "No running ring in $(RING)/; start one with 'make ring'."; exit 1; fi; \
	$(CHORD) cli --addr $$(cat $(RING)/host):$$live

# chord against Redis: redis-benchmark on redis-server, one node and an
# 8-node ring of its own (free loopback ports), alternating, then a table of
# ratios with p50 and p99 (BENCH_FLAGS adds options, e.g. --rounds 5 or
# --only "ring get"; see chord-lab bench --help). It says how to install
# redis-tools if it is missing. Then lookup path length: on the running
# ring if there is one (at its own address), else on a fresh ring of N
# nodes (default 64), stopped after.
BENCH_FLAGS ?=
bench: build
	@$(LAB) bench $(BENCH_FLAGS); versus=$$?; echo; \
	$(ALIVE); live=""; for f in $(RING)/*.pid; do \
	  [ -e "$$f" ] && alive $$(cat $$f) && { p=$${f##*/node-}; live=$${p%.pid}; }; done; \
	if [ -n "$$live" ]; then \
	  $(LAB) hops --addr $$(cat $(RING)/host):$$live --keys $(KEYS) || exit 1; \
	else \
	  $(MAKE) --no-print-directory ring DURABLE=0 N=$(if $(filter command line,$(origin N)),$(N),64) > /dev/null || exit 1; \
	  $(LAB) hops --addr $(HOST):$(PORT) --keys $(KEYS); status=$$?; \
	  $(MAKE) --no-print-directory stop > /dev/null; [ $$status -eq 0 ] || exit $$status; \
	fi; \
	exit $$versus

# The random hunt of tests/random.rs: SEEDS seeds from FIRST, in chunks of
# 1,000 on every core, a line as each chunk passes. It stops at the first
# failing seed and names it; replay one with CHORD_SEED_FIRST=<seed>
# CHORD_SEED_COUNT=1 CHORD_TRACE=1 cargo test --release --test random.
SEEDS ?= 10000
FIRST ?= 1
hunt:
	@cargo test --release --test random --no-run -q
	@export START=$$(date +%s) FIRST=$(FIRST) SEEDS=$(SEEDS); \
	chunks=$$(( ($(SEEDS) + 999) / 1000 )); \
	echo "The hunt: seeds $(FIRST) to $$(($(FIRST) + $(SEEDS) - 1)), $$chunks chunks on $$(nproc) cores"; \
	seq 0 $$((chunks - 1)) | xargs -P $$(nproc) -I{} sh -c ' \
	  first=$$((FIRST + {} * 1000)); count=$$((FIRST + SEEDS - first)); \
	  [ $$count -gt 1000 ] && count=1000; last=$$((first + count - 1)); \
	  if out=$$(CHORD_SEED_FIRST=$$first CHORD_SEED_COUNT=$$count \
	      cargo test --release -q --test random -- acknowledged 2>&1); then \
	    echo "  seeds $$first to $$last passed ($$(( $$(date +%s) - START )) s)"; \
	  else \
	    echo "  seeds $$first to $$last: FAILED"; echo "$$out" | grep -E "^seed [0-9]+" ; exit 255; \
	  fi' && echo "All $(SEEDS) seeds passed in $$(( $$(date +%s) - START )) s."

# The churn harness: 16 node processes on loopback, R = 3, one node killed
# (SIGKILL) and one started every 2 s for 60 s under a checked workload.
# Exits non-zero if an acknowledged write was lost. CHURN_FLAGS adds
# options, e.g. CHURN_FLAGS="--nodes 32 --at-once 2 --seed 7";
# CHURN_FLAGS=--freeze stops nodes (SIGSTOP) for 5 to 15 s instead, and
# CHURN_FLAGS=--restart starts each killed node again at once on its port.
# Nodes log warnings only; CHORD_NODE_LOG=info make churn logs more into .churn/.
churn: build
	@$(LAB) churn $(CHURN_FLAGS)

# The whole ring crashing: 8 nodes with data directories, written to by 4
# clients, all killed with SIGKILL at once and started again, 3 times for
# each --fsync policy; reports the acknowledged writes lost (CRASH_FLAGS
# adds options, see chord-lab crash --help).
CRASH_FLAGS ?=
crash: build
	@$(LAB) crash $(CRASH_FLAGS)

# A partition healed: 8 nodes in two network namespaces joined by a veth
# pair (created and removed by the harness; needs root), split 4/4 for
# 40 s by dropping every packet across (PARTITION_FLAGS="--cut
# unreachable" refuses them instead), 4 writers on each side, then healed;
# reports per side and per second the writes tried and acknowledged and
# the slowest, and the time to one ring and to every key agreeing on all
# 8 nodes. PARTITION_FLAGS adds options (see chord-lab partition --help).
partition: build
	@$(LAB) partition $(PARTITION_FLAGS)

# The recipe for a ring on several machines (docs/protocols.md), followed
# to the letter between two network namespaces over IPv6 (needs root;
# the namespaces are removed after).
deploy: build
	@$(LAB) deploy

# The paper's massive-failure experiment: 32 nodes, a fraction P killed at
# once; failed lookups before and after stabilization, keys lost next to P^R.
massive: build
	@$(LAB) massive --fraction $(P) $(CHURN_FLAGS)

# Feed FUZZ_INPUTS random and mutated inputs to each parser (frame decoder,
# peer requests at a node, text protocol, handshake). Inputs that panic are
# saved in tests/fuzz/<target>/, which make test replays for good.
fuzz: build
	@$(LAB) fuzz --inputs $(FUZZ_INPUTS)

# Attack the running ring (make ring first) as a stranger would: every
# attack must be withstood and no canary key changed. ATTACK_FLAGS adds
# options, e.g. ATTACK_FLAGS="--as-member .ring/secret".
ATTACK_FLAGS ?=
attack: build
	@$(LAB) attack --addr $(HOST):$(PORT) --bits $(BITS) $(ATTACK_FLAGS)

# A 3-node ring with --max-memory MEMORY_MIB on PORT+100, filled with
# 64 KiB values until a write is refused, then every key rewritten three
# times; prints each node's RSS idle and full. It stops the ring it started.
memory: build
	@$(MAKE) --no-print-directory ring RING=.memory DURABLE=0 N=3 PORT=$$(($(PORT) + 100)) \
	  NODE_FLAGS="--max-memory $(MEMORY_MIB) $(NODE_FLAGS)" > /dev/null
	@rss() { for f in .memory/*.pid; do \
	    printf "%s=%s " "$${f#.memory/}" "$$(awk '/VmRSS/ {print $$2}' /proc/$$(cat $$f)/status)"; done; }; \
	echo "idle RSS (KiB):  $$(rss)"; \
	$(LAB) fill --addr $(HOST):$$(($(PORT) + 100)) --kib 64; status=$$?; \
	echo "full RSS (KiB):  $$(rss)"; \
	$(MAKE) --no-print-directory stop RING=.memory > /dev/null; exit $$status

# The longest store-lock hold of each kind of work at a node holding
# LOCK_KEYS keys (three in-memory nodes, R = 3).
LOCK_KEYS ?= 1000000
locks: build
	@RUST_LOG=warn $(LAB) locks --keys $(LOCK_KEYS)

# The paper's simulation experiments, from the real node code on the
# in-memory network: CSV and SVG into figures/ (see docs/figures.md).
SEED ?= 1
figures: build
	@RUST_LOG=warn $(LAB) sim --figure all --seed $(SEED) --out figures

# Headless Chromium (Debian: apt-get install chromium) as a shell
# function: shoot URL PNG WIDTH HEIGHT. A fresh profile each time, and no
# background networking, which a closed network refuses.
SHOOT := shoot() { command -v chromium > /dev/null || { echo "chromium is not installed (apt-get install chromium)"; return 1; }; \
  profile=$$(mktemp -d); \
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir=$$profile --window-size=$$3,$$4 --virtual-time-budget=3000 \
    --screenshot="$$2" "$$1" > /dev/null 2>&1; status=$$?; rm -rf $$profile; \
  [ $$status -eq 0 ] || { echo "chromium failed on $$1 ($$status)"; return 1; }; }

# A screenshot of the running ring's page (make ring first), with the
# lookup path of KEY drawn: target/page.png. The committed ones in
# figures/screenshots/ are updated only by copying over them on purpose.
KEY ?= hello
screenshot:
	@$(SHOOT); shoot "http://$(HOST):$(PORT)/?key=$(KEY)" target/page.png 1000 1250 && echo target/page.png

# Screenshots of every picture in figures/, as a browser shows them:
# target/screenshots/NAME.png.
screenshots:
	@$(SHOOT); mkdir -p target/screenshots; \
	for svg in figures/*.svg; do name=$$(basename $$svg .svg); \
	  size=$$(head -c 300 $$svg | sed -n 's/.*width="\([0-9]*\)" height="\([0-9]*\)".*/\1 \2/p'); \
	  shoot "file://$$PWD/$$svg" target/screenshots/$$name.png $${size:-1000 1000} || exit 1; done; \
	echo "target/screenshots/: $$(ls target/screenshots | wc -l) pictures"
