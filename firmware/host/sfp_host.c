/*
 * POSIX host example: open a serial port, ask the board for INFO, send every sample of a
 * text file (one sample per line, see sfp_sample_from_text) with INFO's window of requests
 * outstanding (sfp_client_infer_many) and print each prediction.
 *
 *     sfp_host DEVICE SAMPLES [BAUD [TIMEOUT_MS [IDLE_MS]]]
 *
 * Prints "info: ..." once, then per sample "sample I: prediction P cycles C acc A0 A1 ..."
 * or "sample I: error ..." (a malformed line is reported first and not sent), and on
 * stderr how many stray frames (answers to no request of
 * this run) it discarded, if any. Exit status: 0 when every sample was classified, 1
 * otherwise, 2 for a usage or setup error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../sfp.h"

#define MAX_VALUES 8192
#define MAX_LINE 65536

static int port_write(void *ctx, const uint8_t *data, size_t n) {
    int fd = *(int *)ctx;
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += w;
        n -= (size_t)w;
    }
    tcdrain(fd); /* back once the bytes are out (sfp_io.write) */
    return 0;
}

static int port_read_byte(void *ctx, uint8_t *byte, uint32_t timeout_ms) {
    int fd = *(int *)ctx;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)timeout_ms);
        ssize_t n;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return 0;
        n = read(fd, byte, 1);
        if (n == 1) return 1;
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        return -1;
    }
}

/* The rates this example opens: up to 3 Mbaud (SFP_MAX_BAUD, the boards' FTDI bridges). */
static const struct {
    long baud;
    speed_t speed;
} RATES[] = {
    {9600, B9600}, {19200, B19200}, {38400, B38400}, {57600, B57600}, {115200, B115200},
    {230400, B230400},
#ifdef B460800
    {460800, B460800},
#endif
#ifdef B921600
    {921600, B921600},
#endif
#ifdef B1000000
    {1000000, B1000000},
#endif
#ifdef B1500000
    {1500000, B1500000},
#endif
#ifdef B2000000
    {2000000, B2000000},
#endif
#ifdef B3000000
    {3000000, B3000000},
#endif
};

static speed_t baud_constant(long baud) {
    size_t i;
    for (i = 0; i < sizeof RATES / sizeof RATES[0]; ++i)
        if (RATES[i].baud == baud) return RATES[i].speed;
    return 0;
}

static int open_port(const char *path, long baud) {
    struct termios t;
    speed_t speed = baud_constant(baud);
    int fd;
    if (speed == 0) {
        size_t i;
        fprintf(stderr, "baud must be one of");
        for (i = 0; i < sizeof RATES / sizeof RATES[0]; ++i) fprintf(stderr, " %ld", RATES[i].baud);
        fprintf(stderr, ", not %ld\n", baud);
        return -1;
    }
    fd = open(path, O_RDWR | O_NOCTTY);
    if (fd < 0) {
        fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (tcgetattr(fd, &t) == 0) { /* raw 8N1; a pseudo-terminal accepts the same calls */
        t.c_iflag &= (tcflag_t) ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
                                  IXON | IXOFF);
        t.c_oflag &= (tcflag_t)~OPOST;
        t.c_lflag &= (tcflag_t) ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        t.c_cflag &= (tcflag_t) ~(CSIZE | PARENB | CSTOPB);
        t.c_cflag |= CS8 | CLOCAL | CREAD;
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        cfsetispeed(&t, speed);
        cfsetospeed(&t, speed);
        tcsetattr(fd, TCSANOW, &t);
        tcflush(fd, TCIOFLUSH);
    }
    return fd;
}

static void print_result(long i, const sfp_result *r) {
    unsigned k;
    printf("sample %ld: prediction %u cycles %lu acc", i, r->prediction,
           (unsigned long)r->cycles);
    for (k = 0; k < r->n_classes; ++k) printf(" %lld", (long long)r->acc[k]);
    printf("\n");
}

static void print_error(const char *what, const sfp_client *c, int st) {
    if (st == SFP_E_DEVICE) {
        printf("%s: error %s (device %s, type 0x%02X, arg %u)\n", what, sfp_strerror(st),
               sfp_device_error_name(c->last_error.code), c->last_error.type,
               c->last_error.arg);
    } else {
        printf("%s: error %s\n", what, sfp_strerror(st));
    }
}

static sfp_client client;
static char line[MAX_LINE];
static uint16_t values[MAX_VALUES];
static uint8_t sample[2 * MAX_VALUES];

/* The well-formed samples, encoded, and the line each came from. */
typedef struct {
    uint8_t *bytes;
    long *line_of;
    size_t n, cap, len;
    long bad;
} batch;

static int batch_add(batch *b, const uint8_t *s, long line_no) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        uint8_t *bytes = realloc(b->bytes, cap * b->len);
        long *line_of = bytes ? realloc(b->line_of, cap * sizeof *line_of) : NULL;
        if (bytes) b->bytes = bytes;
        if (line_of == NULL) return -1;
        b->line_of = line_of;
        b->cap = cap;
    }
    memcpy(b->bytes + b->n * b->len, s, b->len);
    b->line_of[b->n++] = line_no;
    return 0;
}

static const uint8_t *get_sample(void *ctx, size_t i) {
    const batch *b = (const batch *)ctx;
    return b->bytes + i * b->len;
}

static void put_result(void *ctx, size_t i, int st, const sfp_result *res) {
    batch *b = (batch *)ctx;
    char what[32];
    snprintf(what, sizeof what, "sample %ld", b->line_of[i]);
    if (st != SFP_OK) {
        print_error(what, &client, st);
        ++b->bad;
    } else {
        print_result(b->line_of[i], res);
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    long baud = argc > 3 ? strtol(argv[3], NULL, 10) : 115200;
    long timeout_ms = argc > 4 ? strtol(argv[4], NULL, 10) : 1000;
    long idle_ms = argc > 5 ? strtol(argv[5], NULL, 10) : 150;
    long i = 0;
    batch b = {NULL, NULL, 0, 0, 0, 0};
    sfp_io io;
    FILE *f;
    int fd, st;
    if (argc < 3 || argc > 6 || timeout_ms <= 0 || idle_ms <= 0) {
        fprintf(stderr, "usage: sfp_host DEVICE SAMPLES [BAUD [TIMEOUT_MS [IDLE_MS]]]\n");
        return 2;
    }
    fd = open_port(argv[1], baud);
    if (fd < 0) return 2;
    f = fopen(argv[2], "r");
    if (f == NULL) {
        fprintf(stderr, "cannot open %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    io.write = port_write;
    io.read_byte = port_read_byte;
    io.ctx = &fd;
    sfp_client_init(&client, io, (uint32_t)timeout_ms, (uint32_t)idle_ms);
    /* a random first request id: a late answer to a previous run is not taken for ours */
    client.next_rid = sfp_next_rid((uint16_t)((unsigned long)time(NULL) ^ (unsigned long)getpid()));
    st = sfp_client_info(&client, NULL);
    if (st != SFP_OK) {
        print_error("info", &client, st);
        return 2;
    }
    printf("info: encoding %s in_bits %u n_in %u classes %u timesteps %u net_id %08lx "
           "clk_hz %lu baud %lu value_bits %u window %u\n", client.info.encoding ? "spikes" : "direct",
           client.info.in_bits, client.info.n_in, client.info.n_classes, client.info.timesteps,
           (unsigned long)client.info.net_id, (unsigned long)client.info.clk_hz,
           (unsigned long)client.info.baud, client.info.value_bits, client.info.window);
    if (client.info.baud != (uint32_t)baud)
        fprintf(stderr, "sfp_host: the board reports %lu baud, the port runs %ld\n",
                (unsigned long)client.info.baud, baud);
    b.len = client.info.sample_len;
    while (fgets(line, sizeof line, f) != NULL) {
        char what[32];
        int n = sfp_sample_from_text(&client.info, line, values, MAX_VALUES, sample,
                                     sizeof sample);
        snprintf(what, sizeof what, "sample %ld", i);
        if (n < 0) {
            print_error(what, &client, n);
            ++b.bad;
        } else if (batch_add(&b, sample, i) != 0) {
            fprintf(stderr, "sfp_host: out of memory at sample %ld\n", i);
            return 2;
        }
        ++i;
    }
    fclose(f);
    st = sfp_client_infer_many(&client, b.n, client.info.window, get_sample, put_result, &b);
    close(fd);
    free(b.bytes);
    free(b.line_of);
    if (st != SFP_OK) {
        print_error("infer", &client, st);
        return 2;
    }
    if (client.discarded)
        fprintf(stderr, "sfp_host: discarded %lu frame(s) that answered no request\n",
                (unsigned long)client.discarded);
    return b.bad != 0;
}
