// Firmware in the loop: the sfp C library (firmware/sfp*.c) drives the Verilator model of
// the board top through its UART pins; no Python runs while it classifies.
//
//     board_sim fil SAMPLES OUT CLK_HZ DIVISOR TIMEOUT_MS IDLE_MS SILENT_AT DUP_AT WINDOW
//
// DIVISOR: clock cycles per UART bit, "N" or "P/Q" (clk_hz / baud exactly).
// SILENT_AT: cut the board's tx line for that sample's answer (a silent board), to check
// the library times out and recovers with the next sample. DUP_AT: the line delivers the
// answer to that sample twice (the copy right after it), to check the library takes the
// copy for no later request's answer. -1: no such fault.
// WINDOW: 1, one request at a time (sfp_client_infer); more, that many requests outstanding
// (sfp_client_infer_many: the next sample on the wire while the board computes).
// SAMPLES: one sample per line (sfp_sample_from_text). OUT gets one line per sample:
// "PREDICTION CYCLES ACC0 ACC1 ..." or "error STATUS". The last stdout line is
// "samples N errors E discarded D seconds S samples_per_s R sim_cycles C infer_cycles I";
// D counts the frames the library discarded (answers to no outstanding request), I the
// simulated cycles of the samples alone (from the end of the INFO exchange).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

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
sfp_client client;

// What the pipelined client's callbacks see: the encoded samples, the answers file, the
// faults to inject.
struct Run {
    BoardSim* board;
    std::vector<uint8_t> samples;  // sample_len bytes each
    size_t sample_len;
    FILE* out;
    long silent_at, dup_at, errors;
};

void write_answer(FILE* out, int st, const sfp_result* res) {
    if (st != SFP_OK) {
        std::fprintf(out, "error %d\n", st);
        return;
    }
    std::fprintf(out, "%u %lu", res->prediction, static_cast<unsigned long>(res->cycles));
    for (unsigned k = 0; k < res->n_classes; ++k)
        std::fprintf(out, " %lld", static_cast<long long>(res->acc[k]));
    std::fprintf(out, "\n");
}

const uint8_t* get_sample(void* ctx, size_t i) {
    Run* run = static_cast<Run*>(ctx);
    return run->samples.data() + i * run->sample_len;
}

// The answer to sample i is in. Faults: the line is cut from the answer before SILENT_AT
// (while request SILENT_AT + 1 goes out, the board answers SILENT_AT) until SILENT_AT's
// failure; the answer to DUP_AT arrives again, ahead of whatever comes next.
void put_result(void* ctx, size_t i, int st, const sfp_result* res) {
    Run* run = static_cast<Run*>(ctx);
    const long k = static_cast<long>(i);
    if (k == run->dup_at)
        run->board->received.insert(run->board->received.begin(), run->board->sent_log.begin(),
                                    run->board->sent_log.end());
    run->board->sent_log.clear();
    run->board->set_connected(k + 1 != run->silent_at);
    if (st != SFP_OK) ++run->errors;
    write_answer(run->out, st, res);
}

}  // namespace

int fil_main(int argc, char** argv) {
    if (argc != 10) {
        std::fprintf(stderr,
                     "usage: board_sim fil SAMPLES OUT CLK_HZ DIVISOR TIMEOUT_MS IDLE_MS "
                     "SILENT_AT DUP_AT WINDOW\n");
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
    const unsigned window = static_cast<unsigned>(std::atoi(argv[9]));
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
    Run run{&board, {}, client.info.sample_len, out, silent_at, dup_at, 0};
    std::vector<uint8_t> sample(run.sample_len + 1);
    long n = 0;
    while (std::fgets(line, sizeof line, in) != nullptr) {
        int len = sfp_sample_from_text(&client.info, line, values, 8192, sample.data(),
                                       sample.size());
        if (len != static_cast<int>(run.sample_len)) {
            std::fprintf(stderr, "sample %ld: %s\n", n, sfp_strerror(len < 0 ? len : SFP_E_ARG));
            return 2;
        }
        run.samples.insert(run.samples.end(), sample.begin(), sample.begin() + len);
        ++n;
    }
    const uint64_t after_info = board.cycles();
    auto t0 = std::chrono::steady_clock::now();
    if (window > 1) {
        board.set_connected(silent_at != 0);
        st = sfp_client_infer_many(&client, static_cast<size_t>(n), window, get_sample,
                                   put_result, &run);
        if (st != SFP_OK) {
            std::fprintf(stderr, "pipelined inference stopped: %s\n", sfp_strerror(st));
            return 1;
        }
    }
    for (long i = 0; window == 1 && i < n; ++i) {
        sfp_result res;
        board.set_connected(i != silent_at);
        board.sent_log.clear();
        st = sfp_client_infer(&client, get_sample(&run, static_cast<size_t>(i)),
                              static_cast<uint16_t>(run.sample_len), &res);
        if (i == dup_at)  // the answer again, ahead of whatever comes next
            board.received.insert(board.received.begin(), board.sent_log.begin(),
                                  board.sent_log.end());
        if (st != SFP_OK) ++run.errors;
        write_answer(out, st, &res);
    }
    const long errors = run.errors;
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
