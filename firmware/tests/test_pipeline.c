/* Unit tests of sfp_client_infer_many (requests outstanding, answers matched in order); the
 * last line printed is "N passed, N failed". The "device" answers each request frame as it
 * is written (a RESULT whose prediction and accumulators come from the sample and the id),
 * and can break the line: a request arriving corrupted (ERROR CRC, then a drain that
 * swallows the requests behind it until a quiet read), a request lost, an answer twice. */
#include <stdio.h>
#include <string.h>

#include "../sfp.h"
#include "check.h"

#define N 8

typedef struct {
    sfp_rx rx;
    uint8_t rx_buf[64];
    uint8_t out[4096]; /* bytes the device has sent, not yet read */
    size_t n_out, pos;
    int writes;        /* frames received so far */
    int corrupt_at, drop_at, dup_at, draining;
    char log[256];     /* 'w' per request written, 'r' per answer's first byte read */
    size_t n_log;
} device;

static sfp_info INFO = {4, 0, 4, 2, 4, 3, 1, 2, 0x1u, 1000000u, 3000000u, 4, 2};

static void send_frame(device *d, uint8_t type, uint16_t rid, const uint8_t *p, uint16_t n) {
    int k = sfp_encode_frame(type, rid, p, n, d->out + d->n_out, sizeof d->out - d->n_out);
    if (k > 0) d->n_out += (size_t)k;
}

/* What the device answers to sample s with id rid: acc = {s[0], s[1], rid}, prediction
 * s[0] % 3, cycles 7. */
static void result_payload(const uint8_t *s, uint16_t rid, uint8_t p[12]) {
    memset(p, 0, 12);
    p[0] = s[0];
    p[2] = s[1];
    p[4] = (uint8_t)(rid & 0xFF);
    p[5] = (uint8_t)(rid >> 8);
    p[6] = (uint8_t)(s[0] % 3u);
    p[8] = 7;
}

static int dev_write(void *ctx, const uint8_t *data, size_t n) {
    device *d = (device *)ctx;
    size_t i;
    for (i = 0; i < n; ++i) {
        int r = sfp_rx_push(&d->rx, data[i]);
        if (r == 0) continue;
        d->log[d->n_log++] = 'w';
        if (d->draining || d->writes == d->drop_at) {
            ++d->writes;
            continue;
        }
        if (d->writes == d->corrupt_at) { /* ERROR CRC with the request's id, then drain */
            const uint8_t err[4] = {SFP_DEV_CRC, SFP_INFER_REQ, 0, 0};
            send_frame(d, SFP_ERROR, d->rx.rid, err, 4);
            d->draining = 1;
        } else if (r == SFP_RX_FRAME) {
            uint8_t p[12];
            result_payload(d->rx_buf, d->rx.rid, p);
            send_frame(d, SFP_RESULT, d->rx.rid, p, 12);
            if (d->writes == d->dup_at) send_frame(d, SFP_RESULT, d->rx.rid, p, 12);
        }
        ++d->writes;
    }
    return 0;
}

static int dev_read(void *ctx, uint8_t *byte, uint32_t timeout_ms) {
    device *d = (device *)ctx;
    (void)timeout_ms;
    if (d->pos < d->n_out) {
        if (d->out[d->pos] == SFP_SYNC) d->log[d->n_log++] = 'r';
        *byte = d->out[d->pos++];
        return 1;
    }
    d->draining = 0; /* a quiet line ends the drain */
    return 0;
}

static uint8_t samples[N][2];
static int status[N], calls;
static sfp_result got[N];

static const uint8_t *get(void *ctx, size_t i) {
    (void)ctx;
    return samples[i];
}

static void put(void *ctx, size_t i, int st, const sfp_result *res) {
    (void)ctx;
    CHECK(i == (size_t)calls); /* once per sample, in order */
    ++calls;
    status[i] = st;
    if (res != NULL) got[i] = *res;
}

static sfp_client client;

static void run(device *d) {
    sfp_io io;
    size_t i;
    memset(d, 0, sizeof *d);
    d->corrupt_at = d->drop_at = d->dup_at = -1;
    sfp_rx_init(&d->rx, d->rx_buf, sizeof d->rx_buf);
    io.write = dev_write;
    io.read_byte = dev_read;
    io.ctx = d;
    sfp_client_init(&client, io, 10, 1);
    client.info = INFO;
    client.have_info = 1;
    client.next_rid = 100;
    for (i = 0; i < N; ++i) {
        samples[i][0] = (uint8_t)(i * 17 + 3);
        samples[i][1] = (uint8_t)(0x10 + i);
        status[i] = 99;
    }
    calls = 0;
}

/* sample i's answer: its own accumulators (the id the device saw in acc[2]) */
static int own(size_t i) {
    return status[i] == SFP_OK && got[i].acc[0] == samples[i][0] &&
           got[i].acc[1] == samples[i][1] && got[i].prediction == samples[i][0] % 3u;
}

int main(void) {
    device d;
    size_t i;
    int all;

    /* window 2: two requests written before the first answer is read, all in order */
    run(&d);
    CHECK(sfp_client_infer_many(&client, N, 2, get, put, NULL) == SFP_OK);
    CHECK(calls == N && client.discarded == 0);
    for (all = 1, i = 0; i < N; ++i) all &= own(i) && got[i].acc[2] == (int64_t)(100 + i);
    CHECK(all);
    CHECK(d.n_log >= 3 && memcmp(d.log, "wwr", 3) == 0);

    /* window 1: one at a time */
    run(&d);
    CHECK(sfp_client_infer_many(&client, N, 1, get, put, NULL) == SFP_OK);
    CHECK(memcmp(d.log, "wrwr", 4) == 0);
    for (all = 1, i = 0; i < N; ++i) all &= own(i);
    CHECK(all);

    /* request 3 corrupted: ERROR for sample 3 only; request 4 (drained with it) is sent
     * again with a new id */
    run(&d);
    d.corrupt_at = 3;
    CHECK(sfp_client_infer_many(&client, N, 2, get, put, NULL) == SFP_OK);
    CHECK(status[3] == SFP_E_DEVICE && client.last_error.code == SFP_DEV_CRC);
    for (all = 1, i = 0; i < N; ++i) all &= i == 3 || own(i);
    CHECK(all && calls == N && d.writes == N + 1);
    CHECK(got[4].acc[2] == 100 + 5); /* its second id */

    /* request 2 lost: sample 2 times out; 3's answer, arriving meanwhile, is discarded */
    run(&d);
    d.drop_at = 2;
    CHECK(sfp_client_infer_many(&client, N, 2, get, put, NULL) == SFP_OK);
    CHECK(status[2] == SFP_E_TIMEOUT && client.discarded == 1);
    for (all = 1, i = 0; i < N; ++i) all &= i == 2 || own(i);
    CHECK(all);

    /* an answer delivered twice: the copy is discarded, nobody takes it for theirs */
    run(&d);
    d.dup_at = 1;
    CHECK(sfp_client_infer_many(&client, N, 2, get, put, NULL) == SFP_OK);
    CHECK(client.discarded == 1);
    for (all = 1, i = 0; i < N; ++i) all &= own(i);
    CHECK(all);

    /* refusals */
    run(&d);
    CHECK(sfp_client_infer_many(&client, N, 3, get, put, NULL) == SFP_E_ARG); /* > window */
    CHECK(sfp_client_infer_many(&client, N, 0, get, put, NULL) == SFP_E_ARG);
    CHECK(sfp_client_infer_many(&client, N, 2, NULL, put, NULL) == SFP_E_ARG);
    client.have_info = 0;
    CHECK(sfp_client_infer_many(&client, N, 2, get, put, NULL) == SFP_E_NOINFO);
    CHECK(calls == 0 && d.writes == 0);
    return check_report();
}
