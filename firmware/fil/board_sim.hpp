// The Verilator model of the board top (module board_top, prefix Vboard) behind its two
// UART pins, clocked from C++: a host transmitter on rx, a receiver on tx (8N1, LSB first,
// `divisor` clock cycles per bit: "N" or an exact fraction "P/Q", as clk_hz / baud). The
// host sends characters back to back, each bit edge at its exact time rounded down to a
// cycle (the mean rate is exact); the receiver samples each bit at its middle. Used by
// fil.cpp (the C library in the loop) and bridge.cpp (the Python driver's simulation
// transport).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <deque>

#include "Vboard.h"
#include "verilated.h"

// "N" or "P/Q" (positive integers) into num / den; false for anything else.
inline bool parse_divisor(const char* text, uint64_t* num, uint64_t* den) {
    char* end;
    *num = std::strtoull(text, &end, 10);
    *den = 1;
    if (*end == '/') *den = std::strtoull(end + 1, &end, 10);
    return *end == '\0' && *num > 0 && *den > 0;
}

class BoardSim {
  public:
    BoardSim(uint64_t num, uint64_t den) : top_(&ctx_), num_(num), den_(den) {
        top_.rx = 1;
        top_.rst = 1;
        for (int k = 0; k < 4; ++k) step();
        top_.rst = 0;
    }

    // Queue one character for rx; stop_low sends it with a low stop bit (a UART fault).
    void send(uint8_t byte, bool stop_low = false) {
        txq_.push_back(static_cast<uint16_t>(byte | (stop_low ? 0x100 : 0)));
    }
    bool sending() const { return bit_ >= 0 || !txq_.empty(); }

    // One clock cycle: drive rx, clock, sample tx.
    void step() {
        top_.rx = rx_level();
        top_.clk = 0;
        top_.eval();
        top_.clk = 1;
        top_.eval();
        ++cycles_;
        advance_sender();
        monitor(connected_ ? top_.tx : 1);
    }

    std::deque<uint8_t> received;  // bytes decoded from tx, oldest first
    std::deque<uint8_t> sent_log;  // every byte decoded from tx (cleared by the user)
    uint64_t cycles() const { return cycles_; }
    uint64_t stop_errors() const { return stop_errors_; }
    // A silent board: the tx line is cut (reads idle high); the design keeps running.
    void set_connected(bool on) { connected_ = on; }

  private:
    uint8_t rx_level() const {
        if (bit_ < 0) return 1;
        if (bit_ == 0) return 0;                   // start bit
        if (bit_ <= 8) return (cur_ >> (bit_ - 1)) & 1;
        return (cur_ & 0x100) ? 0 : 1;             // stop bit
    }

    // Time in units of 1/den cycle: bit k of a character spans [k num, (k + 1) num).
    void advance_sender() {
        if (bit_ < 0) {
            if (txq_.empty()) return;
            cur_ = txq_.front();
            txq_.pop_front();
            bit_ = 0;
            phase_ = 0;
            return;
        }
        phase_ += den_;
        if (phase_ < 10 * num_) {
            bit_ = static_cast<int>(phase_ / num_);
        } else if (txq_.empty()) {
            bit_ = -1;
        } else {  // the next character starts at once, carrying the fraction of a cycle
            phase_ -= 10 * num_;
            cur_ = txq_.front();
            txq_.pop_front();
            bit_ = static_cast<int>(phase_ / num_);
        }
    }

    void monitor(uint8_t tx) {
        if (mon_ < 0) {
            if (tx == 0) {  // falling edge of a start bit
                mon_ = 0;
                mon_t_ = 0;
                mon_byte_ = 0;
            }
            return;
        }
        // bit mon_ (0 start, 1..8 data, 9 stop) is sampled (mon_ + 1/2) bits after the edge
        if (2 * ++mon_t_ * den_ < (2 * static_cast<uint64_t>(mon_) + 1) * num_) return;
        if (mon_ == 0) {
            if (tx != 0) mon_ = -1;  // a glitch, not a start bit
            else mon_ = 1;
            return;
        }
        if (mon_ <= 8) {
            mon_byte_ |= static_cast<uint8_t>(tx << (mon_ - 1));
            ++mon_;
            return;
        }
        if (tx) {
            received.push_back(mon_byte_);
            sent_log.push_back(mon_byte_);
        } else {
            ++stop_errors_;
        }
        mon_ = -1;
    }

    VerilatedContext ctx_;
    Vboard top_;
    uint64_t num_, den_;
    std::deque<uint16_t> txq_;
    int bit_ = -1;
    uint64_t phase_ = 0, mon_t_ = 0;
    uint16_t cur_ = 0;
    int mon_ = -1;
    uint8_t mon_byte_ = 0;
    uint64_t cycles_ = 0, stop_errors_ = 0;
    bool connected_ = true;
};
