"""Classify samples on a board over a serial port: ``python -m spikefab.driver``.

    python -m spikefab.driver /dev/ttyUSB1 samples.txt [--ir build/runs/digits/ir/net.json]

SAMPLES is a text file, one sample per line (:mod:`spikefab.driver.samples`; the C host
example reads the same files). Prints the board's INFO, then per sample its prediction,
core cycles and accumulators. With ``--ir`` it first checks the board runs that network
(INFO's ``net_id``) and then compares every answer with the golden model; the exit
status is 1 when any answer differs or fails. The samples go out with INFO's ``window``
of requests outstanding (``Board.infer_many``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..golden import run_network
from ..ir import QuantizedNetwork
from ..protocol import DEFAULT_BAUD, MAX_BAUD, ProtocolError, network_id
from .client import Board, BoardTimeout, DeviceError
from .samples import read_samples_text
from .transport import SerialTransport, TransportError


def main(argv=None, transport=None) -> int:
    p = argparse.ArgumentParser(prog="python -m spikefab.driver", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("port")
    p.add_argument("samples")
    p.add_argument("--baud", type=int, default=DEFAULT_BAUD,
                   help=f"the port's rate, up to {MAX_BAUD} ({DEFAULT_BAUD})")
    p.add_argument("--timeout", type=float, default=1.0, help="seconds of silence (1.0)")
    p.add_argument("--idle", type=float, default=0.15, help="recovery quiet time (0.15)")
    p.add_argument("--ir", help="the network the board should run (stem.json)")
    args = p.parse_args(argv)
    try:
        net = QuantizedNetwork.load(args.ir) if args.ir else None
        tr = transport if transport is not None else SerialTransport(args.port, args.baud)
        with Board(tr, timeout=args.timeout, idle=args.idle) as board:
            info = board.info()
            print(f"info: {info.encoding} in_bits {info.in_bits} n_in {info.n_in} classes "
                  f"{info.n_classes} T {info.timesteps} net_id {info.net_id:08x} "
                  f"clk_hz {info.clk_hz} baud {info.baud} value_bits {info.value_bits} "
                  f"window {info.window}")
            if info.baud != args.baud:
                print(f"warning: the board reports {info.baud} baud, the port runs "
                      f"{args.baud}", file=sys.stderr)
            if net is not None and network_id(net) != info.net_id:
                print(f"error: the board runs net_id {info.net_id:08x}, {args.ir} is "
                      f"{network_id(net):08x}")
                return 1
            xs = read_samples_text(args.samples, info)
            bad = 0
            for i, (x, res) in enumerate(zip(xs, board.infer_many(xs, errors="return"),
                                             strict=True)):
                if isinstance(res, Exception):
                    print(f"sample {i}: error {res}")
                    bad += 1
                    continue
                line = (f"sample {i}: prediction {res.prediction} cycles {res.cycles} acc "
                        + " ".join(map(str, res.acc)))
                if net is not None:
                    batch = x[None] if info.encoding == "direct" else x[:, None]
                    gold = run_network(net, batch)
                    same = (gold.prediction[0] == res.prediction
                            and np.array_equal(gold.acc[0], res.acc))
                    line += " golden " + ("equal" if same else "DIFFERS")
                    bad += not same
                print(line, flush=True)
            if board.discarded:
                print(f"discarded {board.discarded} frame(s) that answered no request")
            print(f"{len(xs) - bad} of {len(xs)} samples ok")
            return 1 if bad else 0
    except (TransportError, BoardTimeout, DeviceError, ProtocolError, ValueError,
            OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
