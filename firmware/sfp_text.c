/* Samples as text lines (the host example and the firmware-in-the-loop harness). */
#include <stdlib.h>

#include "sfp.h"

int sfp_sample_from_text(const sfp_info *info, const char *line, uint16_t *scratch,
                         size_t scratch_n, uint8_t *out, size_t cap) {
    size_t want, n = 0, i;
    const char *p = line;
    if (info == NULL || line == NULL || scratch == NULL || out == NULL) return SFP_E_ARG;
    want = info->encoding == 0 ? info->n_in : (size_t)info->timesteps * info->n_in;
    if (want > scratch_n) return SFP_E_SPACE;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (n == want || v < 0 || v > 0xFFFF) return SFP_E_ARG;
        scratch[n++] = (uint16_t)v;
        p = end;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') ++p;
    if (*p != '\0' || n != want) return SFP_E_ARG;
    if (info->encoding == 0) return sfp_encode_direct(info, scratch, n, out, cap);
    for (i = 0; i < n; ++i) {
        if (scratch[i] > 1) return SFP_E_ARG;
        ((uint8_t *)scratch)[i] = (uint8_t)scratch[i]; /* in place: byte i <= value i */
    }
    return sfp_encode_spikes(info, (const uint8_t *)scratch, n, out, cap);
}
