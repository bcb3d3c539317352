/* SPDX-License-Identifier: MIT */
/* waveform.h -- a voice note's 64-byte waveform (audioMessage.waveform), sans-I/O.
 *
 * What WhatsApp clients show as the bars of a voice note, computed as Baileys'
 * getAudioWaveform does: the first channel's samples cut into 64 blocks of
 * floor(total / 64) samples (the remainder at the end is not used), each block's mean
 * |sample|, scaled so that the loudest block is 1, then floor(100 * value): 64 bytes 0..100.
 * Silence (every block 0) gives 64 zeros. Fewer than 64 samples give no waveform.
 * Feed the samples in any pieces; the state is a few hundred bytes. Pure.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WA_WAVEFORM_LEN 64

struct wa_waveform {
    uint64_t block; /* samples per block */
    uint64_t seen;  /* samples fed (of the first channel) */
    double sum[WA_WAVEFORM_LEN];
};

/* total: the first channel's sample count (known before decoding: opusfile's op_pcm_total).
 * false when total < WA_WAVEFORM_LEN. */
bool wa_waveform_init(struct wa_waveform *w, uint64_t total);
/* n frames of interleaved samples with `stride` channels; channel 0 is used. */
void wa_waveform_feed(struct wa_waveform *w, const float *pcm, size_t n, unsigned stride);
/* True once every block is full (more samples are ignored). */
bool wa_waveform_full(const struct wa_waveform *w);
/* The 64 bytes. */
void wa_waveform_finish(const struct wa_waveform *w, uint8_t out[WA_WAVEFORM_LEN]);
