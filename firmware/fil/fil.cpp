// Firmware in the loop: the sfp C library (firmware/sfp*.c) drives the Verilator model of
// the board top through its UART pins; no Python runs while it classifies.
//
//     board_sim fil SAMPLES OUT CLK_HZ DIVISOR TIMEOUT_MS IDLE_MS SILENT_AT DUP_AT
//
// DIVISOR: clock cycles per UART bit, "N" or "P/Q" (clk_hz / baud exactly).
// SILENT_AT: cut the board's tx line for that sample (a silent board), to check the
// library times out and recovers with the next sample. DUP_AT: the line delivers the
// answer to that sample twice (the copy right after it), to check the library takes the
// copy for no later request's answer. -1: no such fault.
// SAMPLES: one sample per line (sfp_sample_from_text). OUT gets one line per sample:
// "PREDICTION CYCLES ACC0 ACC1 ..." or "error STATUS". The last stdout line is
// "samples N errors E discarded D seconds S samples_per_s R sim_cycles C infer_cycles I";
// D counts the frames the library discarded (answers to no outstanding request), I the
// simulated cycles of the samples alone (from the end of the INFO exchange).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "board_sim.hpp"
#include "sfp.h"

namespace {

struct Link {
    BoardSim* board;
    uint64_t cycles_per_ms;
};

int link_write(void* ctx, const uint8_t* data, size_t n) {
    Link* link = static_cast<Link*>(ctx);
    for (size_t i = 0; i < n; ++i) link->board->send(data[i]);
    while (link->board->sending()) link->board->step();  // back once the bytes are out
    return 0;
}

// Simulated time: a timeout of t ms is t * clk_hz / 1000 clock cycles of the model.
int link_read_byte(void* ctx, uint8_t* byte, uint32_t timeout_ms) {
    Link* link = static_cast<Link*>(ctx);
    BoardSim& b = *link->board;
    const uint64_t limit = b.cycles() + timeout_ms * link->cycles_per_ms;
    while (b.received.empty() && b.cycles() < limit) b.step();
    if (b.received.empty()) return 0;
    *byte = b.received.front();
    b.received.pop_front();
    return 1;
}

char line[1 << 16];
uint16_t values[8192];
uint8_t sample[16384];
sfp_client client;

}  // namespace

int fil_main(int argc, char** argv) {
    if (argc != 9) {
        std::fprintf(stderr,
                     "usage: board_sim fil SAMPLES OUT CLK_HZ DIVISOR TIMEOUT_MS IDLE_MS "
                     "SILENT_AT DUP_AT\n");
        return 2;
    }
    FILE* in = std::fopen(argv[1], "r");
    FILE* out = std::fopen(argv[2], "w");
    if (in == nullptr || out == nullptr) {
        std::fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    const uint64_t clk_hz = std::strtoull(argv[3], nullptr, 10);
    const long silent_at = std::atol(argv[7]), dup_at = std::atol(argv[8]);
    uint64_t num, den;
    if (!parse_divisor(argv[4], &num, &den)) {
        std::fprintf(stderr, "DIVISOR must be N or P/Q, not %s\n", argv[4]);
        return 2;
    }
    BoardSim board(num, den);
    Link link{&board, clk_hz / 1000};
    sfp_io io{link_write, link_read_byte, &link};
    sfp_client_init(&client, io, static_cast<uint32_t>(std::atoi(argv[5])),
                    static_cast<uint32_t>(std::atoi(argv[6])));
    int st = sfp_client_info(&client, nullptr);
    if (st != SFP_OK) {
        std::fprintf(stderr, "INFO failed: %s\n", sfp_strerror(st));
        return 1;
    }
    long n = 0, errors = 0;
    const uint64_t after_info = board.cycles();
    auto t0 = std::chrono::steady_clock::now();
    while (std::fgets(line, sizeof line, in) != nullptr) {
        sfp_result res;
        board.set_connected(n != silent_at);
        board.sent_log.clear();
        int len = sfp_sample_from_text(&client.info, line, values, 8192, sample, sizeof sample);
        st = len < 0 ? len : sfp_client_infer(&client, sample, static_cast<uint16_t>(len), &res);
        if (n == dup_at)  // the answer again, ahead of whatever comes next
            board.received.insert(board.received.begin(), board.sent_log.begin(),
                                  board.sent_log.end());
        if (st != SFP_OK) {
            std::fprintf(out, "error %d\n", st);
            ++errors;
        } else {
            std::fprintf(out, "%u %lu", res.prediction, static_cast<unsigned long>(res.cycles));
            for (unsigned k = 0; k < res.n_classes; ++k)
                std::fprintf(out, " %lld", static_cast<long long>(res.acc[k]));
            std::fprintf(out, "\n");
        }
        ++n;
    }
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fclose(in);
    std::fclose(out);
    std::printf(
        "samples %ld errors %ld discarded %lu seconds %.6f samples_per_s %.3f sim_cycles %llu "
        "infer_cycles %llu\n",
        n, errors, static_cast<unsigned long>(client.discarded), secs,
        n / (secs > 0 ? secs : 1e-9), static_cast<unsigned long long>(board.cycles()),
        static_cast<unsigned long long>(board.cycles() - after_info));
    return errors != 0;
}
