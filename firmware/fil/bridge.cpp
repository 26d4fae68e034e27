// The board top's Verilator model behind a pipe: what the Python driver's SimTransport
// talks to (spikefab.driver.transport). Simulated time passes inside 'W', 'E' and 'R'.
//
//     board_sim bridge DIVISOR        (clock cycles per UART bit: "N" or "P/Q")
//
// Commands on stdin (integers little-endian); answers on stdout:
//   'W' n:u32 bytes[n]   send n bytes on rx, running until sent     -> t:u64 (cycles run)
//   'E' byte:u8          the same for one byte with a low stop bit  -> t:u64
//   'R' n:u32 c:u64      run until n bytes came from tx or c cycles  -> k:u32 bytes[k] t:u64
//                        (k <= n bytes, t = cycles run)
//   'C' on:u8            connect (1) or cut (0) the tx line          -> nothing
//   'Q'                  quit
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "board_sim.hpp"

namespace {

bool get(void* p, size_t n) { return std::fread(p, 1, n, stdin) == n; }

template <typename T>
bool get_le(T* v) {
    uint8_t b[sizeof(T)];
    if (!get(b, sizeof b)) return false;
    T r = 0;
    for (size_t i = 0; i < sizeof b; ++i) r |= static_cast<T>(b[i]) << (8 * i);
    *v = r;
    return true;
}

template <typename T>
void put_le(T v) {
    for (size_t i = 0; i < sizeof(T); ++i) std::fputc(static_cast<int>((v >> (8 * i)) & 0xFF), stdout);
}

}  // namespace

int bridge_main(int argc, char** argv) {
    uint64_t num, den;
    if (argc != 2 || !parse_divisor(argv[1], &num, &den)) {
        std::fprintf(stderr, "usage: board_sim bridge DIVISOR (N or P/Q)\n");
        return 2;
    }
    BoardSim board(num, den);
    std::vector<uint8_t> buf;
    for (;;) {
        int cmd = std::fgetc(stdin);
        if (cmd == EOF || cmd == 'Q') return 0;
        if (cmd == 'W') {
            uint32_t n;
            if (!get_le(&n)) return 1;
            buf.resize(n);
            if (n && !get(buf.data(), n)) return 1;
            const uint64_t start = board.cycles();
            for (uint8_t b : buf) board.send(b);
            while (board.sending()) board.step();  // like tcdrain: back when they are out
            put_le(static_cast<uint64_t>(board.cycles() - start));
            std::fflush(stdout);
        } else if (cmd == 'E') {
            uint8_t b;
            if (!get(&b, 1)) return 1;
            const uint64_t start = board.cycles();
            board.send(b, true);
            while (board.sending()) board.step();
            put_le(static_cast<uint64_t>(board.cycles() - start));
            std::fflush(stdout);
        } else if (cmd == 'C') {
            uint8_t on;
            if (!get(&on, 1)) return 1;
            board.set_connected(on != 0);
        } else if (cmd == 'R') {
            uint32_t n;
            uint64_t limit;
            if (!get_le(&n) || !get_le(&limit)) return 1;
            const uint64_t start = board.cycles();
            while (board.received.size() < n && board.cycles() - start < limit) board.step();
            uint32_t k = static_cast<uint32_t>(board.received.size() < n ? board.received.size() : n);
            put_le(k);
            for (uint32_t i = 0; i < k; ++i) {
                std::fputc(board.received.front(), stdout);
                board.received.pop_front();
            }
            put_le(static_cast<uint64_t>(board.cycles() - start));
            std::fflush(stdout);
        } else {
            std::fprintf(stderr, "bridge: unknown command 0x%02X\n", cmd);
            return 1;
        }
    }
}
