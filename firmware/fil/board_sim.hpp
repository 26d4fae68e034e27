// The Verilator model of the board top (module board_top, prefix Vboard) behind its two
// UART pins, clocked from C++: a host transmitter on rx, a receiver on tx (8N1, LSB first,
// `divisor` clock cycles per bit). Used by fil.cpp (the C library in the loop) and
// bridge.cpp (the Python driver's simulation transport).
#pragma once

#include <cstdint>
#include <deque>

#include "Vboard.h"
#include "verilated.h"

class BoardSim {
  public:
    BoardSim(int divisor) : top_(&ctx_), divisor_(divisor) {
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

    void advance_sender() {
        if (bit_ < 0) {
            if (txq_.empty()) return;
            cur_ = txq_.front();
            txq_.pop_front();
            bit_ = 0;
            left_ = divisor_;
            return;
        }
        if (--left_ == 0) {
            left_ = divisor_;
            if (++bit_ == 10) bit_ = -1;
        }
    }

    void monitor(uint8_t tx) {
        if (mon_ < 0) {
            if (tx == 0) {  // falling edge of a start bit
                mon_ = 0;
                mon_wait_ = divisor_ / 2;
                mon_byte_ = 0;
            }
            return;
        }
        if (--mon_wait_ > 0) return;
        mon_wait_ = divisor_;
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
    int divisor_;
    std::deque<uint16_t> txq_;
    int bit_ = -1, left_ = 0;
    uint16_t cur_ = 0;
    int mon_ = -1, mon_wait_ = 0;
    uint8_t mon_byte_ = 0;
    uint64_t cycles_ = 0, stop_errors_ = 0;
    bool connected_ = true;
};
