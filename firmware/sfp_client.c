/* sfp client over the caller's byte I/O (docs/protocol.md): one request and its answer, or
 * (sfp_client_infer_many) up to the board's window of requests outstanding. */
#include "sfp.h"

/* Bytes a client reads while waiting for one answer before it gives up (a line that
 * streams bytes but never the answer must not hang the caller): four of the longest
 * frames, as the Python driver. */
#define SFP_READ_BUDGET (4ul * (SFP_MAX_PAYLOAD + SFP_OVERHEAD))

void sfp_client_init(sfp_client *c, sfp_io io, uint32_t timeout_ms, uint32_t idle_ms) {
    c->io = io;
    c->timeout_ms = timeout_ms;
    c->idle_ms = idle_ms;
    c->have_info = 0;
    c->last_error.code = 0;
    c->last_error.type = 0;
    c->last_error.arg = 0;
    c->next_rid = 1;
    c->discarded = 0;
    sfp_rx_init(&c->rx, c->answer, sizeof c->answer);
}

int sfp_client_recover(sfp_client *c) {
    unsigned long n;
    uint8_t byte;
    for (n = 0; n < SFP_READ_BUDGET; ++n) {
        int r = c->io.read_byte(c->io.ctx, &byte, c->idle_ms);
        if (r < 0) return SFP_E_IO;
        if (r == 0) return SFP_OK; /* quiet for idle_ms: the device is hunting again */
    }
    return SFP_E_FRAME;
}

/* After a failure: wait for a quiet line, so the next request starts clean. */
static int failed(sfp_client *c, int st) {
    if (st != SFP_OK && st != SFP_E_IO && sfp_client_recover(c) == SFP_E_IO) return SFP_E_IO;
    return st;
}

static int send_frame(sfp_client *c, uint8_t type, uint16_t rid, const uint8_t *payload,
                      uint16_t len) {
    uint8_t head[SFP_HEADER_LEN], tail[2];
    uint16_t crc;
    head[0] = SFP_SYNC;
    head[1] = type;
    head[2] = (uint8_t)(rid & 0xFFu);
    head[3] = (uint8_t)(rid >> 8);
    head[4] = (uint8_t)(len & 0xFFu);
    head[5] = (uint8_t)(len >> 8);
    crc = sfp_crc16(sfp_crc16(0xFFFFu, head + 1, SFP_HEADER_LEN - 1), payload, len);
    tail[0] = (uint8_t)(crc >> 8);
    tail[1] = (uint8_t)(crc & 0xFFu);
    if (c->io.write(c->io.ctx, head, sizeof head) < 0) return SFP_E_IO;
    if (len && c->io.write(c->io.ctx, payload, len) < 0) return SFP_E_IO;
    if (c->io.write(c->io.ctx, tail, sizeof tail) < 0) return SFP_E_IO;
    return SFP_OK;
}

static int is_answer(uint8_t type) {
    return type == SFP_INFO || type == SFP_RESULT || type == SFP_ERROR;
}

/* Wait for the answer to request rid; on success c->rx holds it. Frames that do not answer
 * it (not an answer type, or another id) are discarded and counted. */
static int receive(sfp_client *c, uint16_t rid) {
    unsigned long n;
    uint8_t byte;
    sfp_rx_init(&c->rx, c->answer, sizeof c->answer);
    for (n = 0; n < SFP_READ_BUDGET; ++n) {
        int r = c->io.read_byte(c->io.ctx, &byte, c->timeout_ms);
        if (r < 0) return SFP_E_IO;
        if (r == 0) return SFP_E_TIMEOUT;
        r = sfp_rx_push(&c->rx, byte);
        if (r == SFP_RX_FRAME || r == SFP_RX_TOO_LONG) {
            if (is_answer(c->rx.type) && c->rx.rid == rid) {
                /* no valid answer is longer than the buffer: a RESULT is at most
                 * SFP_MAX_CLASSES accumulators (INFO with more is refused) */
                return r == SFP_RX_FRAME ? SFP_OK : SFP_E_FRAME;
            }
            ++c->discarded;
        } else if (r < 0) {
            return r;
        }
    }
    return SFP_E_FRAME;
}

static uint16_t take_rid(sfp_client *c) {
    uint16_t rid = c->next_rid ? c->next_rid : 1;
    c->next_rid = sfp_next_rid(rid);
    return rid;
}

/* Read the answer to request rid, of type want; ERROR answers become SFP_E_DEVICE. After
 * any failure the client waits for a quiet line. */
static int answer(sfp_client *c, uint16_t rid, uint8_t want) {
    int st = receive(c, rid);
    if (st == SFP_OK && c->rx.type == SFP_ERROR) {
        st = sfp_decode_error(c->answer, c->rx.len, &c->last_error);
        if (st == SFP_OK) st = SFP_E_DEVICE;
    } else if (st == SFP_OK && c->rx.type != want) {
        st = SFP_E_FRAME;
    }
    return failed(c, st);
}

/* Send a request with the next id and read its answer (see answer). */
static int exchange(sfp_client *c, uint8_t type, const uint8_t *payload, uint16_t len,
                    uint8_t want) {
    uint16_t rid = take_rid(c);
    int st = send_frame(c, type, rid, payload, len);
    return st == SFP_OK ? answer(c, rid, want) : failed(c, st);
}

int sfp_client_info(sfp_client *c, sfp_info *out) {
    sfp_info info;
    int st;
    if (c == NULL) return SFP_E_ARG;
    st = exchange(c, SFP_INFO_REQ, NULL, 0, SFP_INFO);
    if (st != SFP_OK) return st;
    st = failed(c, sfp_decode_info(c->answer, c->rx.len, &info));
    if (st != SFP_OK) return st; /* a held INFO stays as it was */
    c->info = info;
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
    return failed(c, sfp_decode_result(&c->info, c->answer, c->rx.len, out));
}

int sfp_client_infer_many(sfp_client *c, size_t n, unsigned window, sfp_get_sample get,
                          sfp_put_result put, void *ctx) {
    uint16_t rids[SFP_MAX_WINDOW];
    size_t sent = 0, done = 0;
    unsigned head = 0, count = 0;
    sfp_result res;
    if (c == NULL || get == NULL || put == NULL) return SFP_E_ARG;
    if (!c->have_info) return SFP_E_NOINFO;
    if (window < 1 || window > c->info.window) return SFP_E_ARG;
    while (done < n) {
        int st;
        while (sent < n && count < window) { /* fill the window, oldest request first */
            const uint8_t *sample = get(ctx, sent);
            uint16_t rid;
            if (sample == NULL) return SFP_E_ARG;
            rid = take_rid(c);
            st = send_frame(c, SFP_INFER_REQ, rid, sample, c->info.sample_len);
            if (st != SFP_OK) return st;
            rids[(head + count) % SFP_MAX_WINDOW] = rid;
            ++count;
            ++sent;
        }
        st = answer(c, rids[head], SFP_RESULT);
        head = (head + 1) % SFP_MAX_WINDOW;
        --count;
        if (st == SFP_OK) st = failed(c, sfp_decode_result(&c->info, c->answer, c->rx.len, &res));
        if (st == SFP_E_IO) return st;
        put(ctx, done, st, st == SFP_OK ? &res : NULL);
        ++done;
        if (st != SFP_OK) { /* the line is quiet now: the requests behind it again */
            sent = done;
            head = 0;
            count = 0;
        }
    }
    return SFP_OK;
}
