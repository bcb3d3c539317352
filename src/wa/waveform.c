/* SPDX-License-Identifier: MIT */
/* waveform.c -- the voice note waveform (see waveform.h). */
#include "wa/waveform.h"

#include <math.h>
#include <string.h>

bool wa_waveform_init(struct wa_waveform *w, uint64_t total)
{
    memset(w, 0, sizeof *w);
    w->block = total / WA_WAVEFORM_LEN;
    return w->block > 0;
}

bool wa_waveform_full(const struct wa_waveform *w)
{
    return w->seen >= w->block * WA_WAVEFORM_LEN;
}

void wa_waveform_feed(struct wa_waveform *w, const float *pcm, size_t n, unsigned stride)
{
    if (!w->block || !stride) return;
    uint64_t end = w->block * WA_WAVEFORM_LEN;
    for (size_t i = 0; i < n && w->seen < end; i++, w->seen++) {
        float s = pcm[i * stride];
        if (isfinite(s)) w->sum[w->seen / w->block] += fabs((double)s);
    }
}

void wa_waveform_finish(const struct wa_waveform *w, uint8_t out[WA_WAVEFORM_LEN])
{
    double max = 0;
    for (size_t i = 0; i < WA_WAVEFORM_LEN; i++)
        if (w->sum[i] > max) max = w->sum[i];
    for (size_t i = 0; i < WA_WAVEFORM_LEN; i++) {
        /* mean / max mean = sum / max sum: every block has the same size */
        double v = max > 0 ? floor(100.0 * (w->sum[i] / max)) : 0;
        out[i] = (uint8_t)(v > 100 ? 100 : v < 0 ? 0 : v);
    }
}
