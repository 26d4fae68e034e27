/*
 * The shared table of answer frames (tests/vectors/protocol_answers.txt, its format is in
 * its header): the C client must judge each one exactly as the Python driver does
 * (tests/test_protocol_vectors.py). Usage: test_vectors FILE; the last line printed is
 * "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sfp.h"
#include "check.h"

#define MIN_CASES 50

typedef struct {
    uint8_t sent[256];
    size_t n_sent;
    const uint8_t *answer; /* what the board sends after the request, then silence */
    size_t n_answer, pos;
} line_dev;

static int dev_write(void *ctx, const uint8_t *data, size_t n) {
    line_dev *d = (line_dev *)ctx;
    if (d->n_sent + n > sizeof d->sent) return -1;
    memcpy(d->sent + d->n_sent, data, n);
    d->n_sent += n;
    return 0;
}

static int dev_read(void *ctx, uint8_t *byte, uint32_t timeout_ms) {
    line_dev *d = (line_dev *)ctx;
    (void)timeout_ms;
    if (d->pos == d->n_answer) return 0;
    *byte = d->answer[d->pos++];
    return 1;
}

/* hex text (no spaces) into out; returns the byte count, or -1 */
static long unhex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    while (s[0] != '\0' && s[0] != '\n' && s[0] != '\r') {
        char pair[3] = {s[0], s[1], '\0'};
        char *end;
        if (n == cap || s[1] == '\0') return -1;
        out[n++] = (uint8_t)strtoul(pair, &end, 16);
        if (end != pair + 2) return -1;
        s += 2;
    }
    return (long)n;
}

static int want_status(const char *expect) {
    if (strcmp(expect, "ok") == 0) return SFP_OK;
    if (strcmp(expect, "discard") == 0) return SFP_E_TIMEOUT;
    if (strcmp(expect, "frame") == 0) return SFP_E_FRAME;
    if (strcmp(expect, "crc") == 0) return SFP_E_CRC;
    if (strcmp(expect, "device") == 0) return SFP_E_DEVICE;
    return 1; /* no status is 1: the case fails */
}

static char line[1 << 15];
static uint8_t data[1 << 14];
static sfp_client client;

/* One case; returns 1 when the client judged it as the table says. */
static int run_case(const sfp_info *info, const char *req, unsigned rid, const char *expect,
                    unsigned discarded, const char *want, const uint8_t *bytes, size_t n) {
    line_dev d;
    sfp_io io;
    sfp_result res;
    uint8_t sample[SFP_MAX_ANSWER] = {0}, frame[SFP_MAX_ANSWER + SFP_OVERHEAD];
    char got[512];
    int infer = strcmp(req, "INFER") == 0, st, len, k, ok;
    memset(&d, 0, sizeof d);
    d.answer = bytes;
    d.n_answer = n;
    io.write = dev_write;
    io.read_byte = dev_read;
    io.ctx = &d;
    sfp_client_init(&client, io, 100, 10);
    client.next_rid = (uint16_t)rid;
    if (infer) { /* the host holds the board's INFO */
        client.info = *info;
        client.have_info = 1;
        st = sfp_client_infer(&client, sample, info->sample_len, &res);
    } else {
        st = sfp_client_info(&client, NULL);
    }
    ok = st == want_status(expect) && client.discarded == discarded;
    /* the request carried rid */
    len = sfp_encode_frame(infer ? SFP_INFER_REQ : SFP_INFO_REQ, (uint16_t)rid, sample,
                           infer ? info->sample_len : 0, frame, sizeof frame);
    ok = ok && len > 0 && d.n_sent == (size_t)len && memcmp(d.sent, frame, d.n_sent) == 0;
    if (ok && st == SFP_OK && infer) {
        size_t at = (size_t)snprintf(got, sizeof got, "%u/%lu/", res.prediction,
                                     (unsigned long)res.cycles);
        for (k = 0; k < res.n_classes && at < sizeof got; ++k)
            at += (size_t)snprintf(got + at, sizeof got - at, k ? ",%lld" : "%lld",
                                   (long long)res.acc[k]);
        ok = strcmp(got, want) == 0;
    } else if (ok && st == SFP_OK) {
        uint8_t got_p[SFP_INFO_LEN], want_p[SFP_INFO_LEN]; /* the wire form: no padding */
        sfp_encode_info(&client.info, got_p);
        sfp_encode_info(info, want_p);
        ok = strcmp(want, "info") == 0 && memcmp(got_p, want_p, SFP_INFO_LEN) == 0;
    }
    if (!ok)
        printf("case %s: status %d (%s), discarded %lu\n", req, st, sfp_strerror(st),
               (unsigned long)client.discarded);
    return ok;
}

int main(int argc, char **argv) {
    FILE *f;
    sfp_info info;
    int have_info = 0, cases = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: test_vectors FILE\n");
        return 2;
    }
    f = fopen(argv[1], "r");
    CHECK(f != NULL);
    if (f == NULL) return check_report();
    while (fgets(line, sizeof line, f) != NULL) {
        char name[64], req[8], expect[16], want[256];
        unsigned rid, discarded;
        int off = 0;
        long n;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (strncmp(line, "info ", 5) == 0) {
            n = unhex(line + 5, data, sizeof data);
            CHECK(n == SFP_INFO_LEN && sfp_decode_info(data, (size_t)n, &info) == SFP_OK);
            have_info = 1;
            continue;
        }
        if (sscanf(line, "%63s %7s %x %15s %u %255s %n", name, req, &rid, expect, &discarded,
                   want, &off) != 6 || off == 0) {
            printf("bad line: %s", line);
            CHECK(0);
            continue;
        }
        n = unhex(line + off, data, sizeof data);
        CHECK(n >= 0 && have_info);
        if (n < 0 || !have_info) continue;
        ++cases;
        if (!run_case(&info, req, rid, expect, discarded, want, data, (size_t)n)) {
            printf("FAIL %s: want %s, %u discarded\n", name, expect, discarded);
            CHECK(0);
        } else {
            CHECK(1);
        }
    }
    fclose(f);
    CHECK(cases >= MIN_CASES);
    printf("%d cases from %s\n", cases, argv[1]);
    return check_report();
}
