/* sfp: the spikefab board protocol (docs/protocol.md). See sfp.h. */
#include "sfp.h"

enum { RX_HUNT, RX_TYPE, RX_ID0, RX_ID1, RX_LEN0, RX_LEN1, RX_PAYLOAD, RX_CRC0, RX_CRC1 };

static void put_u16le(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v & 0xFFu);
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32le(uint8_t *p, uint32_t v) {
    put_u16le(p, (uint16_t)(v & 0xFFFFu));
    put_u16le(p + 2, (uint16_t)(v >> 16));
}

static uint16_t get_u16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get_u32le(const uint8_t *p) {
    return (uint32_t)get_u16le(p) | ((uint32_t)get_u16le(p + 2) << 16);
}

uint16_t sfp_crc16(uint16_t crc, const uint8_t *data, size_t n) {
    size_t i;
    int k;
    for (i = 0; i < n; ++i) {
        crc ^= (uint16_t)(data[i] << 8);
        for (k = 0; k < 8; ++k) {
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

uint16_t sfp_next_rid(uint16_t rid) { return (uint16_t)(rid % 0xFFFFu + 1u); }

int sfp_encode_frame(uint8_t type, uint16_t rid, const uint8_t *payload, uint16_t len,
                     uint8_t *out, size_t cap) {
    uint16_t crc;
    size_t i;
    if (out == NULL || (payload == NULL && len != 0)) return SFP_E_ARG;
    if (cap < (size_t)len + SFP_OVERHEAD) return SFP_E_SPACE;
    out[0] = SFP_SYNC;
    out[1] = type;
    put_u16le(out + 2, rid);
    put_u16le(out + 4, len);
    for (i = 0; i < len; ++i) out[SFP_HEADER_LEN + i] = payload[i];
    crc = sfp_crc16(0xFFFFu, out + 1, (size_t)len + SFP_HEADER_LEN - 1u);
    out[SFP_HEADER_LEN + len] = (uint8_t)(crc >> 8);
    out[SFP_HEADER_LEN + len + 1] = (uint8_t)(crc & 0xFFu);
    return (int)(len + SFP_OVERHEAD);
}

/* In 32 bits: n_in * 2 or timesteps * ceil(n_in / 8) may exceed a u16. */
static uint32_t expected_sample_len(const sfp_info *info) {
    if (info->encoding == 0) return ((uint32_t)info->n_in * info->value_bits + 7u) / 8u;
    return (uint32_t)info->timesteps * (((uint32_t)info->n_in + 7u) / 8u);
}

/* value_bits: 1 for spikes; direct 4 or 8 (in_bits <= 4), 8 (<= 8), 16 (<= 16). */
static int value_bits_ok(const sfp_info *info) {
    if (info->encoding == 1) return info->value_bits == 1;
    if (info->in_bits <= 4 && info->value_bits == 4) return 1;
    return info->value_bits == (info->in_bits <= 8 ? 8 : 16);
}

/* The INFO rules of docs/protocol.md, in the order the Python driver checks them. */
static int check_info(const sfp_info *info) {
    if (info->version != SFP_VERSION) return SFP_E_FRAME;
    if (info->encoding > 1) return SFP_E_FRAME;
    if (info->in_bits < 1 || info->in_bits > (info->encoding == 0 ? 16 : 1)) return SFP_E_FRAME;
    if (!value_bits_ok(info)) return SFP_E_FRAME;
    if (info->acc_bytes < 1 || info->acc_bytes > SFP_MAX_ACC_BYTES) return SFP_E_FRAME;
    if (info->n_in < 1 || info->n_classes < 1 || info->timesteps < 1) return SFP_E_FRAME;
    if (info->clk_hz < 1) return SFP_E_FRAME;
    if (info->baud < SFP_MIN_BAUD || info->baud > SFP_MAX_BAUD) return SFP_E_FRAME;
    if (info->window < 1 || info->window > SFP_MAX_WINDOW) return SFP_E_FRAME;
    if ((uint32_t)info->n_classes * info->acc_bytes + SFP_RESULT_TAIL_LEN > SFP_MAX_PAYLOAD)
        return SFP_E_FRAME;
    if (info->sample_len != expected_sample_len(info)) return SFP_E_FRAME;
    if (info->n_classes > SFP_MAX_CLASSES) return SFP_E_SPACE; /* valid, but too large here */
    return SFP_OK;
}

int sfp_decode_info(const uint8_t *p, size_t len, sfp_info *info) {
    if (p == NULL || info == NULL) return SFP_E_ARG;
    if (len != SFP_INFO_LEN) return SFP_E_FRAME;
    info->version = p[0];
    info->encoding = p[1];
    info->in_bits = p[2];
    info->acc_bytes = p[3];
    info->n_in = get_u16le(p + 4);
    info->n_classes = get_u16le(p + 6);
    info->timesteps = get_u16le(p + 8);
    info->sample_len = get_u16le(p + 10);
    info->net_id = get_u32le(p + 12);
    info->clk_hz = get_u32le(p + 16);
    info->baud = get_u32le(p + 20);
    info->value_bits = p[24];
    info->window = p[25];
    return check_info(info);
}

int sfp_encode_info(const sfp_info *info, uint8_t out[SFP_INFO_LEN]) {
    if (info == NULL || out == NULL) return SFP_E_ARG;
    out[0] = info->version;
    out[1] = info->encoding;
    out[2] = info->in_bits;
    out[3] = info->acc_bytes;
    put_u16le(out + 4, info->n_in);
    put_u16le(out + 6, info->n_classes);
    put_u16le(out + 8, info->timesteps);
    put_u16le(out + 10, info->sample_len);
    put_u32le(out + 12, info->net_id);
    put_u32le(out + 16, info->clk_hz);
    put_u32le(out + 20, info->baud);
    out[24] = info->value_bits;
    out[25] = info->window;
    return SFP_OK;
}

uint16_t sfp_result_len(const sfp_info *info) {
    return (uint16_t)(info->n_classes * info->acc_bytes + SFP_RESULT_TAIL_LEN);
}

int sfp_encode_direct(const sfp_info *info, const uint16_t *x, size_t n, uint8_t *out,
                      size_t cap) {
    size_t i;
    uint32_t hi;
    if (info == NULL || x == NULL || out == NULL || info->encoding != 0) return SFP_E_ARG;
    if (n != info->n_in) return SFP_E_ARG;
    if (cap < info->sample_len) return SFP_E_SPACE;
    hi = (1u << info->in_bits) - 1u;
    if (info->value_bits == 4) out[info->sample_len - 1] = 0; /* an odd n_in's padding */
    for (i = 0; i < n; ++i) {
        if (x[i] > hi) return SFP_E_ARG;
        if (info->value_bits == 4) {
            if (i % 2 == 0) out[i / 2] = (uint8_t)x[i];
            else out[i / 2] = (uint8_t)(out[i / 2] | (x[i] << 4));
        } else if (info->value_bits == 8) {
            out[i] = (uint8_t)x[i];
        } else {
            put_u16le(out + 2 * i, x[i]);
        }
    }
    return (int)info->sample_len;
}

int sfp_encode_spikes(const sfp_info *info, const uint8_t *x, size_t n, uint8_t *out,
                      size_t cap) {
    size_t t, i, row;
    if (info == NULL || x == NULL || out == NULL || info->encoding != 1) return SFP_E_ARG;
    if (n != (size_t)info->timesteps * info->n_in) return SFP_E_ARG;
    if (cap < info->sample_len) return SFP_E_SPACE;
    row = (info->n_in + 7u) / 8u;
    for (i = 0; i < info->sample_len; ++i) out[i] = 0;
    for (t = 0; t < info->timesteps; ++t) {
        for (i = 0; i < info->n_in; ++i) {
            uint8_t bit = x[t * info->n_in + i];
            if (bit > 1) return SFP_E_ARG;
            out[t * row + i / 8] |= (uint8_t)(bit << (i % 8));
        }
    }
    return (int)info->sample_len;
}

int sfp_decode_result(const sfp_info *info, const uint8_t *p, size_t len, sfp_result *res) {
    size_t k, b, nb;
    if (info == NULL || p == NULL || res == NULL) return SFP_E_ARG;
    if (info->n_classes > SFP_MAX_CLASSES || info->n_classes == 0 ||
        info->acc_bytes > SFP_MAX_ACC_BYTES || info->acc_bytes == 0)
        return SFP_E_ARG;
    if (len != sfp_result_len(info)) return SFP_E_FRAME;
    nb = info->acc_bytes;
    for (k = 0; k < info->n_classes; ++k) {
        uint64_t u = 0;
        for (b = 0; b < nb; ++b) u |= (uint64_t)p[k * nb + b] << (8 * b);
        if (nb < 8 && (u >> (8 * nb - 1)) & 1u) u |= ~(uint64_t)0 << (8 * nb); /* sign */
        res->acc[k] = (u >> 63) ? -(int64_t)(~u) - 1 : (int64_t)u;
    }
    res->n_classes = info->n_classes;
    res->prediction = get_u16le(p + info->n_classes * nb);
    res->cycles = get_u32le(p + info->n_classes * nb + 2);
    if (res->prediction >= info->n_classes) return SFP_E_FRAME;
    return SFP_OK;
}

int sfp_decode_error(const uint8_t *p, size_t len, sfp_error *err) {
    if (p == NULL || err == NULL) return SFP_E_ARG;
    if (len != SFP_ERROR_LEN) return SFP_E_FRAME;
    err->code = p[0];
    err->type = p[1];
    err->arg = get_u16le(p + 2);
    if (err->code < SFP_DEV_CRC || err->code > SFP_DEV_UART) return SFP_E_FRAME;
    return SFP_OK;
}

const char *sfp_strerror(int status) {
    switch (status) {
    case SFP_OK: return "ok";
    case SFP_E_ARG: return "bad argument";
    case SFP_E_SPACE: return "buffer too small";
    case SFP_E_TIMEOUT: return "timeout: no answer from the board";
    case SFP_E_CRC: return "answer frame with a bad CRC";
    case SFP_E_FRAME: return "unexpected answer frame";
    case SFP_E_DEVICE: return "the board answered ERROR";
    case SFP_E_IO: return "I/O callback failed";
    case SFP_E_NOINFO: return "no INFO yet: call sfp_client_info first";
    default: return "unknown status";
    }
}

const char *sfp_device_error_name(uint8_t code) {
    switch (code) {
    case SFP_DEV_CRC: return "CRC";
    case SFP_DEV_TYPE: return "TYPE";
    case SFP_DEV_LENGTH: return "LENGTH";
    case SFP_DEV_VALUE: return "VALUE";
    case SFP_DEV_TIMEOUT: return "TIMEOUT";
    case SFP_DEV_UART: return "UART";
    default: return "UNKNOWN";
    }
}

void sfp_rx_init(sfp_rx *rx, uint8_t *buf, size_t cap) {
    rx->buf = buf;
    rx->cap = cap;
    rx->state = RX_HUNT;
    rx->type = 0;
    rx->rid = 0;
    rx->len = 0;
    rx->got = 0;
    rx->crc = 0xFFFFu;
    rx->crc_hi = 0;
}

static void rx_crc(sfp_rx *rx, uint8_t byte) { rx->crc = sfp_crc16(rx->crc, &byte, 1); }

int sfp_rx_push(sfp_rx *rx, uint8_t byte) {
    switch (rx->state) {
    case RX_HUNT:
        if (byte == SFP_SYNC) {
            rx->state = RX_TYPE;
            rx->crc = 0xFFFFu;
            rx->got = 0;
        }
        return 0;
    case RX_TYPE:
        rx->type = byte;
        rx_crc(rx, byte);
        rx->state = RX_ID0;
        return 0;
    case RX_ID0:
        rx->rid = byte;
        rx_crc(rx, byte);
        rx->state = RX_ID1;
        return 0;
    case RX_ID1:
        rx->rid = (uint16_t)(rx->rid | (byte << 8));
        rx_crc(rx, byte);
        rx->state = RX_LEN0;
        return 0;
    case RX_LEN0:
        rx->len = byte;
        rx_crc(rx, byte);
        rx->state = RX_LEN1;
        return 0;
    case RX_LEN1:
        rx->len = (uint16_t)(rx->len | (byte << 8));
        rx_crc(rx, byte);
        rx->state = rx->len ? RX_PAYLOAD : RX_CRC0;
        return 0;
    case RX_PAYLOAD: /* a payload longer than cap is received whole, but not kept */
        if (rx->got < rx->cap) rx->buf[rx->got] = byte;
        ++rx->got;
        rx_crc(rx, byte);
        if (rx->got == rx->len) rx->state = RX_CRC0;
        return 0;
    case RX_CRC0:
        rx->crc_hi = byte;
        rx->state = RX_CRC1;
        return 0;
    default:
        rx->state = RX_HUNT;
        if ((uint16_t)((rx->crc_hi << 8) | byte) != rx->crc) return SFP_E_CRC;
        return rx->len > rx->cap ? SFP_RX_TOO_LONG : SFP_RX_FRAME;
    }
}
