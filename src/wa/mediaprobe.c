/* SPDX-License-Identifier: MIT */
/* mediaprobe.c -- probing a file to send (see mediaprobe.h). */
#include "wa/mediaprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <opusfile.h>

#include "wa/imgprobe.h"
#include "wa/mp4box.h"
#include "wa/oggopus.h"

#define WHY(p, ...) snprintf((p)->why, sizeof(p)->why, __VA_ARGS__)

static int pread_all(int fd, uint64_t off, uint8_t *buf, size_t n)
{
    while (n) {
        ssize_t r = pread(fd, buf, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) return -EBADMSG; /* shorter than its boxes say */
        buf += r, off += (uint64_t)r, n -= (size_t)r;
    }
    return 0;
}

static int fd_read(void *ud, uint64_t off, uint8_t *buf, size_t n)
{
    return pread_all(*(int *)ud, off, buf, n);
}

static int probe_image(const char *path, bool thumb, struct wa_mprobe *out)
{
    struct img_info ii;
    int rc = img_probe_file(path, thumb, &ii);
    if (ii.why[0]) WHY(out, "%s", ii.why);
    if (rc < 0) return rc;
    out->width = ii.width, out->height = ii.height;
    out->thumb = ii.thumb, out->thumb_len = ii.thumb_len;
    return 0;
}

static int probe_video(int fd, uint64_t size, struct wa_mprobe *out)
{
    struct mp4_info mi;
    int rc = mp4_probe(fd_read, &fd, size, &mi);
    if (rc < 0) {
        WHY(out, "mp4: %s", rc == -ENOENT ? "no moov box" : strerror(-rc));
        return rc == -ENOENT ? -EBADMSG : rc;
    }
    out->width = mi.width, out->height = mi.height, out->seconds = mi.seconds;
    if (!mi.width) WHY(out, "mp4: no video track with a size");
    return 0;
}

/* m4a (MP4 audio): the duration from mvhd, as for a video. */
static int probe_m4a(int fd, uint64_t size, struct wa_mprobe *out)
{
    struct mp4_info mi;
    int rc = mp4_probe(fd_read, &fd, size, &mi);
    if (rc < 0 || !mi.seconds) {
        WHY(out, "m4a: %s", rc < 0 ? strerror(-rc) : "no duration");
        return rc < 0 && rc != -ENOENT ? rc : -EBADMSG;
    }
    out->seconds = mi.seconds;
    return 0;
}

/* The waveform: the file decoded once by libopusfile, channel 0 into wa/waveform. */
static void waveform(const char *path, struct wa_mprobe *out)
{
    int err = 0;
    OggOpusFile *of = op_open_file(path, &err);
    if (!of) {
        WHY(out, "opusfile: cannot open the stream (%d)", err);
        return;
    }
    ogg_int64_t total = op_pcm_total(of, -1);
    struct wa_waveform *w = malloc(sizeof *w);
    float *pcm = malloc(sizeof(float) * WA_MPROBE_PCM * 8);
    if (total < 0 || (uint64_t)total > (uint64_t)WA_MPROBE_WAVE_MAX_S * OGGOPUS_RATE || !w ||
        !pcm || !wa_waveform_init(w, (uint64_t)total)) {
        WHY(out, "opusfile: no waveform (%lld samples)", (long long)total);
        goto done;
    }
    while (!wa_waveform_full(w)) {
        int li = -1;
        int n = op_read_float(of, pcm, WA_MPROBE_PCM * 8, &li);
        if (n == OP_HOLE) continue; /* a gap in the data: decoding goes on */
        if (n < 0) {
            WHY(out, "opusfile: decoding failed (%d)", n);
            goto done;
        }
        if (n == 0) break;
        const OpusHead *h = op_head(of, li);
        wa_waveform_feed(w, pcm, (size_t)n,
                         h && h->channel_count > 0 ? (unsigned)h->channel_count : 1);
    }
    wa_waveform_finish(w, out->waveform);
    out->has_waveform = true;
done:
    free(pcm);
    free(w);
    op_free(of);
}

static int probe_opus(const char *path, int fd, uint64_t size, bool ptt, struct wa_mprobe *out)
{
    size_t tn = size < OGGOPUS_TAIL_BYTES ? (size_t)size : OGGOPUS_TAIL_BYTES;
    size_t hn = size < OGGOPUS_HEAD_BYTES ? (size_t)size : OGGOPUS_HEAD_BYTES;
    uint8_t *buf = malloc(tn > hn ? tn : hn);
    if (!buf) return -ENOMEM;
    struct oggopus_head h;
    uint64_t granule = 0;
    int rc = pread_all(fd, 0, buf, hn);
    if (rc == 0 && oggopus_head(buf, hn, &h) < 0) {
        bool m4a = hn >= 8 && !memcmp(buf + 4, "ftyp", 4);
        free(buf);
        if (m4a) return probe_m4a(fd, size, out);
        WHY(out, "not an Ogg Opus or MP4 audio file");
        return -ENOENT; /* mp3, ...: nothing to say */
    }
    if (rc == 0) rc = pread_all(fd, size - tn, buf, tn);
    if (rc == 0 && oggopus_last_granule(buf, tn, &h, &granule) < 0) {
        WHY(out, "ogg: no complete last page");
        rc = -EBADMSG;
    }
    free(buf);
    if (rc < 0) return rc;
    uint64_t ms = oggopus_ms(&h, granule);
    if (!ms) {
        WHY(out, "ogg: no audio after the pre-skip");
        return -EBADMSG;
    }
    if (ms / 1000 <= MP4_SECONDS_MAX) out->seconds = (uint32_t)((ms + 500) / 1000);
    if (ms && !out->seconds) out->seconds = 1;
    if (ptt) waveform(path, out);
    return 0;
}

int wa_mprobe_file(const char *path, enum wa_media_type type, bool ptt, struct wa_mprobe *out)
{
    memset(out, 0, sizeof *out);
    if (type == WA_MEDIA_IMAGE || type == WA_MEDIA_STICKER)
        return probe_image(path, type == WA_MEDIA_IMAGE, out);
    if (type != WA_MEDIA_VIDEO && type != WA_MEDIA_AUDIO) return -ENOENT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        WHY(out, "cannot open: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -EIO;
    }
    int rc = type == WA_MEDIA_VIDEO ? probe_video(fd, (uint64_t)st.st_size, out)
                                    : probe_opus(path, fd, (uint64_t)st.st_size, ptt, out);
    close(fd);
    return rc;
}

void wa_mprobe_free(struct wa_mprobe *p)
{
    if (!p) return;
    free(p->thumb);
    p->thumb = NULL, p->thumb_len = 0;
}
