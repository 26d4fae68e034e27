/*
 * sfp: the spikefab board protocol (docs/protocol.md), version 4, in portable C99.
 *
 * No malloc, no OS calls: the caller supplies the byte I/O (sfp_io) and every buffer.
 * A frame on the wire:
 *
 *   SYNC 0xA5 | TYPE (1) | ID (2) | LEN (2) | PAYLOAD (LEN) | CRC (2, high byte first)
 *
 * ID and LEN are little-endian. ID is the request id: the host picks it (never 0), the
 * board echoes it in the answer. CRC is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF)
 * over TYPE, ID, LEN and PAYLOAD.
 * Every function returns a status (SFP_OK or a negative sfp_status) unless noted.
 */
#ifndef SFP_H
#define SFP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SFP_SYNC 0xA5u
#define SFP_VERSION 4u
#define SFP_HEADER_LEN 6u /* SYNC, TYPE, ID, LEN */
#define SFP_OVERHEAD 8u   /* header + CRC */
#define SFP_MAX_PAYLOAD 0xFFFFu
#define SFP_INFO_LEN 26u
#define SFP_ERROR_LEN 4u
#define SFP_RESULT_TAIL_LEN 6u /* prediction (u16) + cycles (u32) */
/* UART rates a board may report in INFO (and sfp_host opens): 3 Mbaud is the most the
 * boards' FTDI bridges run. */
#define SFP_MIN_BAUD 9600ul
#define SFP_MAX_BAUD 3000000ul
/* Largest INFO window (requests a board accepts outstanding) a host accepts. */
#define SFP_MAX_WINDOW 16u

/* Limits of this library's fixed-size structures (a device may be smaller). */
#ifndef SFP_MAX_CLASSES
#define SFP_MAX_CLASSES 64u
#endif
#define SFP_MAX_ACC_BYTES 8u
/* Largest answer payload the client receives: a RESULT with SFP_MAX_CLASSES 8-byte accs. */
#define SFP_MAX_ANSWER (SFP_MAX_CLASSES * SFP_MAX_ACC_BYTES + SFP_RESULT_TAIL_LEN)

enum sfp_type {
    SFP_INFO_REQ = 0x01,
    SFP_INFER_REQ = 0x02,
    SFP_INFO = 0x81,
    SFP_RESULT = 0x82,
    SFP_ERROR = 0xFF
};

/* First byte of an ERROR payload: what the device rejected. */
enum sfp_device_error {
    SFP_DEV_CRC = 0x01,     /* CRC mismatch; arg = the CRC the device computed */
    SFP_DEV_TYPE = 0x02,    /* unknown TYPE */
    SFP_DEV_LENGTH = 0x03,  /* wrong LEN for TYPE; arg = the required length */
    SFP_DEV_VALUE = 0x04,   /* input value out of range; arg = its payload offset */
    SFP_DEV_TIMEOUT = 0x05, /* the line went idle inside a frame; arg = bytes after SYNC */
    SFP_DEV_UART = 0x06     /* a stop bit was low inside a frame; arg = bytes after SYNC */
};

/* Host-side status codes (negative). */
typedef enum {
    SFP_OK = 0,
    SFP_E_ARG = -1,     /* a bad argument: NULL, wrong shape, value out of range */
    SFP_E_SPACE = -2,   /* a buffer is too small (or INFO has > SFP_MAX_CLASSES classes) */
    SFP_E_TIMEOUT = -3, /* no (complete) answer within the timeout */
    SFP_E_CRC = -4,     /* an answer frame with a bad CRC */
    SFP_E_FRAME = -5,   /* an answer of the wrong type, or a payload that breaks the rules */
    SFP_E_DEVICE = -6,  /* the device answered ERROR (see sfp_client.last_error) */
    SFP_E_IO = -7,      /* the write or read callback failed */
    SFP_E_NOINFO = -8   /* sfp_client_infer before a successful sfp_client_info */
} sfp_status;

/* The INFO payload. sfp_decode_info checks every field (docs/protocol.md, "What a host
 * accepts"); a valid INFO with more than SFP_MAX_CLASSES classes gives SFP_E_SPACE. */
typedef struct {
    uint8_t version;
    uint8_t encoding; /* 0 direct, 1 spikes */
    uint8_t in_bits;
    uint8_t acc_bytes;
    uint16_t n_in;
    uint16_t n_classes;
    uint16_t timesteps;
    uint16_t sample_len; /* bytes of an INFER_REQ payload */
    uint32_t net_id;
    uint32_t clk_hz;
    uint32_t baud;      /* the board's UART rate */
    uint8_t value_bits; /* bits per input value on the wire: 1 spikes; 4, 8 or 16 direct */
    uint8_t window;     /* requests the board accepts outstanding (board builds: 2) */
} sfp_info;

typedef struct {
    uint16_t prediction;
    uint32_t cycles;
    uint16_t n_classes;
    int64_t acc[SFP_MAX_CLASSES];
} sfp_result;

typedef struct {
    uint8_t code; /* enum sfp_device_error */
    uint8_t type; /* TYPE of the offending frame, 0 if none */
    uint16_t arg;
} sfp_error;

/* ---- codec (pure functions) ---- */

uint16_t sfp_crc16(uint16_t crc, const uint8_t *data, size_t n);
/* The request id after rid: 1, 2, ..., 65535, 1, ... (0 is never a request's). */
uint16_t sfp_next_rid(uint16_t rid);
/* Writes one frame into out[cap]; returns its length (>0) or a negative status. */
int sfp_encode_frame(uint8_t type, uint16_t rid, const uint8_t *payload, uint16_t len,
                     uint8_t *out, size_t cap);
int sfp_decode_info(const uint8_t *payload, size_t len, sfp_info *info);
int sfp_encode_info(const sfp_info *info, uint8_t out[SFP_INFO_LEN]);
uint16_t sfp_result_len(const sfp_info *info);
/* Direct sample: n_in values in [0, 2^in_bits), value_bits each (4: two per byte, value 2k
 * in the low nibble of byte k). Returns sample_len or a negative status. */
int sfp_encode_direct(const sfp_info *info, const uint16_t *x, size_t n, uint8_t *out,
                      size_t cap);
/* Spike sample: timesteps * n_in bits (0 or 1), row-major [t][i]. */
int sfp_encode_spikes(const sfp_info *info, const uint8_t *x, size_t n, uint8_t *out,
                      size_t cap);
/* Checks LEN and that prediction < n_classes. */
int sfp_decode_result(const sfp_info *info, const uint8_t *payload, size_t len,
                      sfp_result *res);
/* Checks LEN and that code is a known enum sfp_device_error. */
int sfp_decode_error(const uint8_t *payload, size_t len, sfp_error *err);
const char *sfp_strerror(int status);
const char *sfp_device_error_name(uint8_t code);

/* A sample as text: whitespace-separated integers, n_in values (direct) or timesteps * n_in
 * bits (spikes, row-major). scratch holds n values while parsing. Returns sample_len. */
int sfp_sample_from_text(const sfp_info *info, const char *line, uint16_t *scratch,
                         size_t scratch_n, uint8_t *out, size_t cap);

/* ---- incremental receiver ---- */

typedef struct {
    uint8_t *buf; /* payload storage, cap bytes */
    size_t cap;
    uint8_t state;
    uint8_t type;
    uint16_t rid;
    uint16_t len;
    uint16_t got;
    uint16_t crc;
    uint8_t crc_hi;
} sfp_rx;

#define SFP_RX_FRAME 1    /* a frame is complete: rx->type, rx->rid, rx->buf[0..len) */
#define SFP_RX_TOO_LONG 2 /* a frame is complete, but LEN > cap: its payload was not kept */

void sfp_rx_init(sfp_rx *rx, uint8_t *buf, size_t cap);
/* Feed one byte: 0 = need more, SFP_RX_FRAME or SFP_RX_TOO_LONG = a frame with a good
 * CRC is complete, SFP_E_CRC = a frame with a bad CRC was dropped; then hunting restarts. */
int sfp_rx_push(sfp_rx *rx, uint8_t byte);

/* ---- client over caller-supplied byte I/O ---- */

typedef struct {
    /* Send n bytes and return once they are on the line (tcdrain, or a UART FIFO that
     * empties faster than the device's T_idle): 0, or a negative value on failure. */
    int (*write)(void *ctx, const uint8_t *data, size_t n);
    /* Wait up to timeout_ms for one byte: return 1 (got it), 0 (timeout) or < 0 (failure). */
    int (*read_byte)(void *ctx, uint8_t *byte, uint32_t timeout_ms);
    void *ctx;
} sfp_io;

typedef struct {
    sfp_io io;
    uint32_t timeout_ms; /* longest silence while waiting for an answer */
    uint32_t idle_ms;    /* T_idle of the device plus margin (recovery after an error) */
    sfp_info info;
    int have_info;
    sfp_error last_error; /* valid after SFP_E_DEVICE */
    /* The next request's id (1 after init; 1 more per request, 65535 wrapping to 1). A
     * host that may restart while its board still answers sets a random one after init. */
    uint16_t next_rid;
    /* Frames received that answered no outstanding request (another request's id, or
     * not an answer at all): discarded while waiting, counted here. */
    uint32_t discarded;
    uint8_t answer[SFP_MAX_ANSWER];
    sfp_rx rx;
} sfp_client;

void sfp_client_init(sfp_client *c, sfp_io io, uint32_t timeout_ms, uint32_t idle_ms);
/* Each request carries c->next_rid; only an answer (INFO, RESULT or ERROR) with that id
 * ends the wait, every other frame is discarded (c->discarded). After any failure the
 * client waits for idle_ms of quiet (sfp_client_recover) before it returns. */
/* INFO_REQ -> INFO; stores the answer in c->info. */
int sfp_client_info(sfp_client *c, sfp_info *out);
/* INFER_REQ with an encoded sample (sample_len bytes) -> RESULT. */
int sfp_client_infer(sfp_client *c, const uint8_t *sample, uint16_t len, sfp_result *out);
/* Wait until the line has been quiet for idle_ms (discarding bytes): after an error. */
int sfp_client_recover(sfp_client *c);

/* Pipelined inference of n samples with up to `window` requests outstanding (1 .. the
 * INFO window; 2 keeps the next sample on the wire while the board computes).
 * get(ctx, i) returns sample i encoded (info.sample_len bytes; read before get is called
 * again). put(ctx, i, status, res) is called once per sample, in order: status SFP_OK with
 * the result, or the sample's failure (res NULL; SFP_E_DEVICE sets last_error). Answers are
 * matched in order: only the oldest outstanding request's id ends a wait, every other frame
 * is discarded (c->discarded). After a failure the client waits for a quiet line and sends
 * the requests behind the failed one again, with new ids. Returns SFP_OK, SFP_E_ARG (a bad
 * window, or get returned NULL), SFP_E_NOINFO or SFP_E_IO (the I/O failed: stopped). */
typedef const uint8_t *(*sfp_get_sample)(void *ctx, size_t index);
typedef void (*sfp_put_result)(void *ctx, size_t index, int status, const sfp_result *res);
int sfp_client_infer_many(sfp_client *c, size_t n, unsigned window, sfp_get_sample get,
                          sfp_put_result put, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* SFP_H */
