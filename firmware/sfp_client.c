/* sfp client: one request, one answer, over the caller's byte I/O (docs/protocol.md). */
#include "sfp.h"

/* Bytes a client reads while waiting for one answer before it gives up (a line that
 * streams bytes but never a frame must not hang the caller). */
#define SFP_READ_BUDGET (4u * (SFP_MAX_ANSWER + SFP_OVERHEAD) + 256u)

void sfp_client_init(sfp_client *c, sfp_io io, uint32_t timeout_ms, uint32_t idle_ms) {
    c->io = io;
    c->timeout_ms = timeout_ms;
    c->idle_ms = idle_ms;
    c->have_info = 0;
    c->last_error.code = 0;
    c->last_error.type = 0;
    c->last_error.arg = 0;
    sfp_rx_init(&c->rx, c->answer, sizeof c->answer);
}

int sfp_client_recover(sfp_client *c) {
    uint32_t n;
    uint8_t byte;
    for (n = 0; n < SFP_READ_BUDGET; ++n) {
        int r = c->io.read_byte(c->io.ctx, &byte, c->idle_ms);
        if (r < 0) return SFP_E_IO;
        if (r == 0) return SFP_OK; /* quiet for idle_ms: the device is hunting again */
    }
    return SFP_E_FRAME;
}

static int send_frame(sfp_client *c, uint8_t type, const uint8_t *payload, uint16_t len) {
    uint8_t head[SFP_HEADER_LEN], tail[2];
    uint16_t crc;
    head[0] = SFP_SYNC;
    head[1] = type;
    head[2] = (uint8_t)(len & 0xFFu);
    head[3] = (uint8_t)(len >> 8);
    crc = sfp_crc16(sfp_crc16(0xFFFFu, head + 1, 3), payload, len);
    tail[0] = (uint8_t)(crc >> 8);
    tail[1] = (uint8_t)(crc & 0xFFu);
    if (c->io.write(c->io.ctx, head, sizeof head) < 0) return SFP_E_IO;
    if (len && c->io.write(c->io.ctx, payload, len) < 0) return SFP_E_IO;
    if (c->io.write(c->io.ctx, tail, sizeof tail) < 0) return SFP_E_IO;
    return SFP_OK;
}

/* Wait for one answer frame; on success c->rx holds it. */
static int receive(sfp_client *c) {
    uint32_t n;
    uint8_t byte;
    sfp_rx_init(&c->rx, c->answer, sizeof c->answer);
    for (n = 0; n < SFP_READ_BUDGET; ++n) {
        int r = c->io.read_byte(c->io.ctx, &byte, c->timeout_ms);
        if (r < 0) return SFP_E_IO;
        if (r == 0) return SFP_E_TIMEOUT;
        r = sfp_rx_push(&c->rx, byte);
        if (r == 1) return SFP_OK;
        if (r == SFP_E_SPACE) return SFP_E_FRAME;
        if (r < 0) return r;
    }
    return SFP_E_FRAME;
}

/* Send a request and read its answer of type want; ERROR answers become SFP_E_DEVICE.
 * After any failure the client waits for a quiet line so the next request starts clean. */
static int exchange(sfp_client *c, uint8_t type, const uint8_t *payload, uint16_t len,
                    uint8_t want) {
    int st = send_frame(c, type, payload, len);
    if (st == SFP_OK) st = receive(c);
    if (st == SFP_OK && c->rx.type == SFP_ERROR) {
        st = sfp_decode_error(c->answer, c->rx.len, &c->last_error);
        if (st == SFP_OK) st = SFP_E_DEVICE;
    } else if (st == SFP_OK && c->rx.type != want) {
        st = SFP_E_FRAME;
    }
    if (st != SFP_OK && st != SFP_E_IO) {
        int r = sfp_client_recover(c);
        if (r == SFP_E_IO) return r;
    }
    return st;
}

int sfp_client_info(sfp_client *c, sfp_info *out) {
    int st;
    if (c == NULL) return SFP_E_ARG;
    st = exchange(c, SFP_INFO_REQ, NULL, 0, SFP_INFO);
    if (st != SFP_OK) return st;
    st = sfp_decode_info(c->answer, c->rx.len, &c->info);
    if (st != SFP_OK) return st;
    c->have_info = 1;
    if (out != NULL) *out = c->info;
    return SFP_OK;
}

int sfp_client_infer(sfp_client *c, const uint8_t *sample, uint16_t len, sfp_result *out) {
    int st;
    if (c == NULL || sample == NULL || out == NULL) return SFP_E_ARG;
    if (!c->have_info) return SFP_E_NOINFO;
    if (len != c->info.sample_len) return SFP_E_ARG;
    st = exchange(c, SFP_INFER_REQ, sample, len, SFP_RESULT);
    if (st != SFP_OK) return st;
    return sfp_decode_result(&c->info, c->answer, c->rx.len, out);
}
