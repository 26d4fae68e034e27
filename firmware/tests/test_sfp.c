/* Unit tests of the sfp library; the last line printed is "N passed, N failed". The
 * shared table of good and bad answers is run by test_vectors.c. */
#include <stdio.h>
#include <string.h>

#include "../sfp.h"
#include "check.h"

/* ---- a scripted device behind the sfp_io callbacks ---- */
typedef struct {
    uint8_t sent[4096];
    size_t n_sent;
    const uint8_t *answer; /* bytes the "device" sends, then silence */
    size_t n_answer, pos;
    int garbage_forever; /* after the answer, a stream of 0x00 bytes instead of silence */
    int fail_write;
    unsigned reads, timeouts;
} fake_dev;

static int fake_write(void *ctx, const uint8_t *data, size_t n) {
    fake_dev *d = (fake_dev *)ctx;
    if (d->fail_write) return -1;
    if (d->n_sent + n > sizeof d->sent) return -1;
    memcpy(d->sent + d->n_sent, data, n);
    d->n_sent += n;
    return 0;
}

static int fake_read(void *ctx, uint8_t *byte, uint32_t timeout_ms) {
    fake_dev *d = (fake_dev *)ctx;
    (void)timeout_ms;
    ++d->reads;
    if (d->pos < d->n_answer) {
        *byte = d->answer[d->pos++];
        return 1;
    }
    if (d->garbage_forever) {
        *byte = 0;
        return 1;
    }
    ++d->timeouts;
    return 0;
}

static void client_for(sfp_client *c, fake_dev *d, const uint8_t *answer, size_t n) {
    sfp_io io;
    memset(d, 0, sizeof *d);
    d->answer = answer;
    d->n_answer = n;
    io.write = fake_write;
    io.read_byte = fake_read;
    io.ctx = d;
    sfp_client_init(c, io, 100, 10);
}

/* INFO of a 64-input direct 4-bit net, 10 classes, T=4, acc 2 bytes, id 0x12345678, 12 MHz,
 * 115,200 baud, one value per byte (a board built without packing) */
static const sfp_info INFO = {4, 0, 4, 2, 64, 10, 4, 64, 0x12345678u, 12000000u, 115200u, 8, 2};
/* the same net as the board builds send it: two 4-bit values per byte, at 3 Mbaud */
static const sfp_info PACKED = {4, 0, 4, 2, 64, 10, 4, 32, 0x12345678u, 12000000u, 3000000u, 4, 2};

/* Every field alike (compared through the wire form: the struct has padding bytes). */
static int same_info(const sfp_info *a, const sfp_info *b) {
    uint8_t pa[SFP_INFO_LEN], pb[SFP_INFO_LEN];
    sfp_encode_info(a, pa);
    sfp_encode_info(b, pb);
    return memcmp(pa, pb, SFP_INFO_LEN) == 0;
}

static void test_crc(void) {
    const uint8_t check[] = "123456789";
    CHECK(sfp_crc16(0xFFFFu, check, 9) == 0x29B1u);
    CHECK(sfp_crc16(0xFFFFu, check, 0) == 0xFFFFu);
}

static void test_frame(void) {
    uint8_t out[16];
    const uint8_t info_req[] = {0xA5, 0x01, 0x01, 0x00, 0x00, 0x00, 0xCD, 0xE9};
    const uint8_t abc[] = {'a', 'b', 'c'};
    int n = sfp_encode_frame(SFP_INFO_REQ, 1, NULL, 0, out, sizeof out);
    CHECK(n == 8 && memcmp(out, info_req, 8) == 0);
    n = sfp_encode_frame(0x81, 0x1234, abc, 3, out, sizeof out);
    CHECK(n == 11 && out[2] == 0x34 && out[3] == 0x12 && out[4] == 3 && out[5] == 0);
    CHECK(memcmp(out + 6, abc, 3) == 0);
    /* the CRC over TYPE..CRC of a good frame is 0 */
    CHECK(sfp_crc16(0xFFFFu, out + 1, 10) == 0);
    CHECK(sfp_encode_frame(0x81, 1, abc, 3, out, 10) == SFP_E_SPACE);
    CHECK(sfp_encode_frame(0x81, 1, NULL, 3, out, sizeof out) == SFP_E_ARG);
    CHECK(sfp_next_rid(1) == 2 && sfp_next_rid(0xFFFE) == 0xFFFF && sfp_next_rid(0xFFFF) == 1);
}

static void test_info(void) {
    uint8_t p[SFP_INFO_LEN];
    sfp_info back;
    CHECK(sfp_encode_info(&INFO, p) == SFP_OK);
    CHECK(p[0] == 4 && p[25] == 2 && p[4] == 64 && p[5] == 0 && p[12] == 0x78 && p[15] == 0x12);
    CHECK(p[20] == 0x00 && p[21] == 0xC2 && p[22] == 0x01 && p[23] == 0 && p[24] == 8);
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_OK);
    CHECK(same_info(&back, &INFO) && back.baud == 115200u && back.value_bits == 8);
    CHECK(sfp_decode_info(p, sizeof p - 1, &back) == SFP_E_FRAME);
    p[1] = 2; /* unknown encoding */
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_E_FRAME);
    p[1] = 0;
    p[10] = 63; /* sample_len inconsistent with n_in */
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_E_FRAME);
    p[10] = 64;
    p[6] = SFP_MAX_CLASSES + 1; /* valid, but more classes than sfp_result holds */
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_E_SPACE);
    p[6] = 10;
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_OK);
    p[24] = 16; /* 16 bits per value: not for 4-bit input */
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_E_FRAME);
    p[24] = 4; /* packed: sample_len must then be 32 */
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_E_FRAME);
    p[10] = 32;
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_OK && back.value_bits == 4);
    p[25] = 0; /* window 0: no request could be sent */
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_E_FRAME);
    p[25] = SFP_MAX_WINDOW + 1;
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_E_FRAME);
    p[25] = 2;
    p[20] = 0x7F; p[21] = 0x25; p[22] = 0; /* 9599 baud */
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_E_FRAME);
    sfp_encode_info(&PACKED, p); /* 3,000,000 baud is the most */
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_OK && same_info(&back, &PACKED));
    p[20] = 0xC1; p[21] = 0xC6; p[22] = 0x2D; /* 3,000,001 */
    CHECK(sfp_decode_info(p, sizeof p, &back) == SFP_E_FRAME);
    CHECK(sfp_result_len(&INFO) == 26);
}

static void test_samples(void) {
    uint16_t x[64];
    uint8_t out[128], bits[2 * 10];
    sfp_info wide = INFO, odd = PACKED, sp = {4, 1, 1, 2, 10, 3, 2, 4, 0, 1, 9600, 1, 1};
    size_t i;
    for (i = 0; i < 64; ++i) x[i] = (uint16_t)(i % 16);
    CHECK(sfp_encode_direct(&INFO, x, 64, out, sizeof out) == 64);
    CHECK(out[17] == 1 && out[15] == 15);
    CHECK(sfp_encode_direct(&INFO, x, 63, out, sizeof out) == SFP_E_ARG);
    CHECK(sfp_encode_direct(&INFO, x, 64, out, 10) == SFP_E_SPACE);
    /* packed: value 2k in the low nibble of byte k, 2k+1 in the high one */
    CHECK(sfp_encode_direct(&PACKED, x, 64, out, sizeof out) == 32);
    CHECK(out[0] == 0x10 && out[7] == 0xFE && out[8] == 0x10 && out[31] == 0xFE);
    CHECK(sfp_encode_direct(&PACKED, x, 64, out, 31) == SFP_E_SPACE);
    odd.n_in = 3; /* an odd n_in: the last byte's high nibble is padding, 0 */
    odd.sample_len = 2;
    memset(out, 0xFF, sizeof out);
    CHECK(sfp_encode_direct(&odd, x + 13, 3, out, sizeof out) == 2);
    CHECK(out[0] == 0xED && out[1] == 0x0F && out[2] == 0xFF);
    x[5] = 16;
    CHECK(sfp_encode_direct(&INFO, x, 64, out, sizeof out) == SFP_E_ARG);
    CHECK(sfp_encode_direct(&PACKED, x, 64, out, sizeof out) == SFP_E_ARG);
    wide.in_bits = 12;
    wide.value_bits = 16;
    wide.n_in = 2;
    wide.sample_len = 4;
    x[0] = 0x0ABC;
    x[1] = 0x0FFF;
    CHECK(sfp_encode_direct(&wide, x, 2, out, sizeof out) == 4);
    CHECK(out[0] == 0xBC && out[1] == 0x0A && out[2] == 0xFF && out[3] == 0x0F);
    CHECK(sfp_encode_spikes(&INFO, bits, 20, out, sizeof out) == SFP_E_ARG);
    memset(bits, 0, sizeof bits);
    bits[0] = bits[9] = bits[10 + 8] = 1; /* t=0: inputs 0 and 9; t=1: input 8 */
    CHECK(sfp_encode_spikes(&sp, bits, 20, out, sizeof out) == 4);
    CHECK(out[0] == 0x01 && out[1] == 0x02 && out[2] == 0x00 && out[3] == 0x01);
    bits[3] = 2;
    CHECK(sfp_encode_spikes(&sp, bits, 20, out, sizeof out) == SFP_E_ARG);
}

static void test_result(void) {
    /* 10 accumulators of 2 bytes: 0, -1, 300, -300, 32767, -32768, 0.. ; pred 4, cycles */
    uint8_t p[26] = {0};
    sfp_result r;
    sfp_info eight = INFO;
    uint8_t q[3 * 8 + 6] = {0};
    p[2] = 0xFF; p[3] = 0xFF;
    p[4] = 0x2C; p[5] = 0x01;
    p[6] = 0xD4; p[7] = 0xFE;
    p[8] = 0xFF; p[9] = 0x7F;
    p[10] = 0x00; p[11] = 0x80;
    p[20] = 4; p[22] = 0x40; p[23] = 0x42; p[24] = 0x0F;
    CHECK(sfp_decode_result(&INFO, p, sizeof p, &r) == SFP_OK);
    CHECK(r.acc[0] == 0 && r.acc[1] == -1 && r.acc[2] == 300 && r.acc[3] == -300);
    CHECK(r.acc[4] == 32767 && r.acc[5] == -32768 && r.n_classes == 10);
    CHECK(r.prediction == 4 && r.cycles == 1000000u);
    CHECK(sfp_decode_result(&INFO, p, sizeof p - 1, &r) == SFP_E_FRAME);
    p[20] = 10; /* a prediction past the last class */
    CHECK(sfp_decode_result(&INFO, p, sizeof p, &r) == SFP_E_FRAME);
    eight.acc_bytes = 8;
    eight.n_classes = 3;
    q[7] = 0x80;            /* INT64_MIN */
    memset(q + 8, 0xFF, 8); /* -1 */
    memset(q + 16, 0xFF, 7); /* INT64_MAX */
    q[23] = 0x7F;
    CHECK(sfp_decode_result(&eight, q, sizeof q, &r) == SFP_OK);
    CHECK(r.acc[0] == INT64_MIN && r.acc[1] == -1 && r.acc[2] == INT64_MAX);
}

static void test_rx(void) {
    uint8_t frame[64], buf[8];
    sfp_rx rx;
    const uint8_t abc[] = {'a', 'b', 'c'}, twenty[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int n = sfp_encode_frame(0x81, 0xBEEF, abc, 3, frame, sizeof frame), i, r = 0, frames = 0;
    sfp_rx_init(&rx, buf, sizeof buf);
    CHECK(sfp_rx_push(&rx, 0x00) == 0 && sfp_rx_push(&rx, 0x13) == 0); /* skipped */
    for (i = 0; i < n; ++i) r = sfp_rx_push(&rx, frame[i]);
    CHECK(r == SFP_RX_FRAME && rx.type == 0x81 && rx.rid == 0xBEEF && rx.len == 3);
    CHECK(memcmp(buf, abc, 3) == 0);
    frame[7] ^= 0x10; /* corrupt a payload byte */
    for (i = 0; i < n; ++i) r = sfp_rx_push(&rx, frame[i]);
    CHECK(r == SFP_E_CRC);
    frame[7] ^= 0x10;
    for (i = 0; i < n; ++i) frames += sfp_rx_push(&rx, frame[i]) == SFP_RX_FRAME;
    CHECK(frames == 1); /* recovered */
    /* LEN 20 > cap 8: received whole (CRC checked), the first cap bytes kept */
    n = sfp_encode_frame(0x82, 7, twenty, 20, frame, sizeof frame);
    for (i = 0; i < n; ++i) r = sfp_rx_push(&rx, frame[i]);
    CHECK(r == SFP_RX_TOO_LONG && rx.len == 20 && rx.rid == 7 && rx.state == 0);
    CHECK(memcmp(buf, twenty, 8) == 0);
    frame[n - 1] ^= 1;
    for (i = 0; i < n; ++i) r = sfp_rx_push(&rx, frame[i]);
    CHECK(r == SFP_E_CRC);
}

static void test_client(void) {
    sfp_client c;
    fake_dev d;
    sfp_info info;
    sfp_result res;
    uint8_t ans[256], payload[SFP_INFO_LEN], sample[64] = {0}, rp[26] = {0}, rp2[26] = {0};
    const uint8_t info_req[] = {0xA5, 0x01, 0x01, 0x00, 0x00, 0x00, 0xCD, 0xE9};
    const uint8_t err[] = {SFP_DEV_VALUE, SFP_INFER_REQ, 7, 0};
    int n, k;

    sfp_encode_info(&INFO, payload);
    n = sfp_encode_frame(SFP_INFO, 1, payload, SFP_INFO_LEN, ans, sizeof ans);
    client_for(&c, &d, ans, (size_t)n);
    CHECK(c.next_rid == 1 && c.discarded == 0);
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_E_NOINFO);
    CHECK(sfp_client_info(&c, &info) == SFP_OK);
    CHECK(d.n_sent == 8 && memcmp(d.sent, info_req, 8) == 0);
    CHECK(info.n_in == 64 && info.clk_hz == 12000000u && c.have_info && c.next_rid == 2);

    rp[2] = 0x05;  /* acc[1] = 5 */
    rp[20] = 1;    /* prediction 1 */
    rp[22] = 99;   /* cycles 99 */
    n = sfp_encode_frame(SFP_RESULT, 2, rp, sizeof rp, ans, sizeof ans);
    d.answer = ans; d.n_answer = (size_t)n; d.pos = 0; d.n_sent = 0;
    sample[0] = 15;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_OK);
    CHECK(res.prediction == 1 && res.cycles == 99 && res.acc[1] == 5 && res.acc[0] == 0);
    CHECK(d.n_sent == 72 && d.sent[1] == SFP_INFER_REQ && d.sent[2] == 2 && d.sent[3] == 0);
    CHECK(d.sent[4] == 64 && d.sent[6] == 15);
    CHECK(sfp_crc16(0xFFFFu, d.sent + 1, 71) == 0);
    CHECK(sfp_client_infer(&c, sample, 63, &res) == SFP_E_ARG);
    CHECK(c.next_rid == 3); /* a bad argument sends nothing */

    /* the board sends its answer twice: the copy is not the next request's result */
    rp2[0] = 0x09; /* acc[0] = 9 */
    rp2[20] = 0;
    n = sfp_encode_frame(SFP_RESULT, 3, rp2, sizeof rp2, ans, sizeof ans);
    memcpy(ans + n, ans, (size_t)n); /* the copy */
    k = sfp_encode_frame(SFP_RESULT, 4, rp, sizeof rp, ans + 2 * n, sizeof ans - 2 * (size_t)n);
    d.answer = ans; d.n_answer = (size_t)(2 * n + k); d.pos = 0;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_OK && res.acc[0] == 9);
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_OK);
    CHECK(res.acc[0] == 0 && res.acc[1] == 5 && res.prediction == 1 && c.discarded == 1);

    /* ids wrap from 65535 to 1; an id of 0 set by hand is not sent */
    c.next_rid = 0xFFFF; d.n_answer = 0; d.n_sent = 0;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_E_TIMEOUT);
    CHECK(d.sent[2] == 0xFF && d.sent[3] == 0xFF && c.next_rid == 1);
    c.next_rid = 0; d.n_sent = 0;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_E_TIMEOUT);
    CHECK(d.sent[2] == 1 && d.sent[3] == 0 && c.next_rid == 2);

    /* the device answers ERROR */
    n = sfp_encode_frame(SFP_ERROR, c.next_rid, err, 4, ans, sizeof ans);
    d.answer = ans; d.n_answer = (size_t)n; d.pos = 0;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_E_DEVICE);
    CHECK(c.last_error.code == SFP_DEV_VALUE && c.last_error.arg == 7);
    CHECK(c.last_error.type == SFP_INFER_REQ);

    /* a silent board: timeout, then the recovery wait sees silence too */
    d.n_answer = 0; d.pos = 0; d.timeouts = 0;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_E_TIMEOUT);
    CHECK(d.timeouts == 2);

    /* a truncated answer: the first half, then silence */
    n = sfp_encode_frame(SFP_RESULT, c.next_rid, rp, sizeof rp, ans, sizeof ans);
    d.answer = ans; d.n_answer = (size_t)n / 2; d.pos = 0;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_E_TIMEOUT);

    /* a corrupted answer */
    n = sfp_encode_frame(SFP_RESULT, c.next_rid, rp, sizeof rp, ans, sizeof ans);
    ans[10] ^= 0x01;
    d.n_answer = (size_t)n; d.pos = 0;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_E_CRC);

    /* an answer of the wrong type (INFO to an INFER) */
    n = sfp_encode_frame(SFP_INFO, c.next_rid, payload, SFP_INFO_LEN, ans, sizeof ans);
    d.answer = ans; d.n_answer = (size_t)n; d.pos = 0;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_E_FRAME);

    /* a broken INFO answer leaves the INFO the client holds as it was */
    payload[0] = 1; /* version 1 */
    n = sfp_encode_frame(SFP_INFO, c.next_rid, payload, SFP_INFO_LEN, ans, sizeof ans);
    d.answer = ans; d.n_answer = (size_t)n; d.pos = 0; d.timeouts = 0;
    CHECK(sfp_client_info(&c, &info) == SFP_E_FRAME);
    CHECK(c.have_info && c.info.version == 4 && d.timeouts == 1); /* and it recovered */

    /* a line that never stops sending garbage: bounded, no hang */
    d.n_answer = 0; d.pos = 0; d.garbage_forever = 1; d.reads = 0;
    CHECK(sfp_client_infer(&c, sample, 64, &res) == SFP_E_FRAME);
    CHECK(d.reads <= 2u * 4u * (0xFFFFu + 8u) + 2u);
    d.garbage_forever = 0;

    /* a failing write callback */
    d.fail_write = 1;
    CHECK(sfp_client_info(&c, &info) == SFP_E_IO);
    CHECK(strcmp(sfp_strerror(SFP_E_TIMEOUT), "timeout: no answer from the board") == 0);
    CHECK(strcmp(sfp_device_error_name(SFP_DEV_CRC), "CRC") == 0);
}

static void test_error_codes(void) {
    uint8_t p[4] = {SFP_DEV_UART, 1, 0, 0};
    sfp_error e;
    CHECK(sfp_decode_error(p, 4, &e) == SFP_OK && e.code == SFP_DEV_UART);
    p[0] = 0;
    CHECK(sfp_decode_error(p, 4, &e) == SFP_E_FRAME);
    p[0] = SFP_DEV_UART + 1;
    CHECK(sfp_decode_error(p, 4, &e) == SFP_E_FRAME);
}

int main(void) {
    test_crc();
    test_frame();
    test_info();
    test_samples();
    test_result();
    test_rx();
    test_client();
    test_error_codes();
    return check_report();
}
