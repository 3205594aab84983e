/*
 * log.c: the framing of a MANIFEST-<n> file and its replay.
 *
 * File layout (all integers little-endian):
 *
 *   offset  size  field
 *   0       8     magic "STRMANIF"
 *   8       4     u32 format version (MANIFEST_FORMAT_VERSION, 1)
 *   12      4     u32 crc32c of bytes 0..11
 *   16      ...   records, back to back, to the end of the file
 *
 * Record layout:
 *
 *   0       4     u32 payload length n (>= 1)
 *   4       4     u32 crc32c of the payload
 *   8       4     u32 crc32c of bytes 0..7 of this record (so a damaged
 *                 length is recognised as such, not followed)
 *   12      n     payload: one edit (edit.c)
 *
 * The first record of a file is a snapshot of the whole state; the file is
 * fsynced before CURRENT names it, so damage there, or in the header, is
 * corruption, never a torn write.
 *
 * Torn tail versus corruption. Appends are fsynced one at a time, so a
 * crash can damage only the last record. At the first record that fails
 * its checks (offset o):
 *   - fewer than 12 bytes left, or a sound header whose record runs past
 *     the end of the file: torn (the append was cut);
 *   - a sound header, a payload CRC mismatch and the record ending exactly
 *     at the end of the file: torn (its pages never reached the disk);
 *   - a damaged header: torn when no sound record starts anywhere after o
 *     (a header straddling a lost page, a zero-filled tail), corrupt when
 *     one does (a damaged record followed by data);
 *   - anything else (a bad record followed by more data): corrupt.
 * A torn tail is dropped and reported in manifest_replay_info; a record
 * that passes its CRCs but does not decode or make sense is corruption.
 */
#include <stdio.h>

#include "manifest_int.h"

int manifest_log_put_header(bbuf *b)
{
    uint8_t h[MANIFEST_HEADER_BYTES];
    memcpy(h, MANIFEST_MAGIC, 8);
    store_u32le(h + 8, MANIFEST_FORMAT_VERSION);
    store_u32le(h + 12, base_crc32c(0, h, 12));
    return base_buf_append(b, h, sizeof h);
}

int manifest_log_put_record(bbuf *b, const uint8_t *payload, size_t n)
{
    if (n == 0 || n > UINT32_MAX)
        return STRATA_ERR_INVALID;
    uint8_t h[MANIFEST_RECORD_HEADER_BYTES];
    store_u32le(h, (uint32_t)n);
    store_u32le(h + 4, base_crc32c(0, payload, n));
    store_u32le(h + 8, base_crc32c(0, h, 8));
    int rc = base_buf_append(b, h, sizeof h);
    return rc ? rc : base_buf_append(b, payload, n);
}

int manifest_encode_file(const manifest_version *v, uint64_t next_file_no, bbuf *out)
{
    bbuf payload = {0};
    int rc;
    if ((rc = manifest_encode_snapshot(v, next_file_no, &payload)) == 0 && (rc = manifest_log_put_header(out)) == 0)
        rc = manifest_log_put_record(out, payload.data, payload.len);
    base_buf_free(&payload);
    return rc;
}

enum { REC_OK, REC_SHORT, REC_BAD_HEADER, REC_PAST_END, REC_BAD_CRC };

/* Checks the record at off; *n gets its payload length when the header is sound. */
static int check_record(const uint8_t *buf, size_t len, size_t off, uint32_t *n)
{
    if (len - off < MANIFEST_RECORD_HEADER_BYTES)
        return REC_SHORT;
    const uint8_t *h = buf + off;
    if (base_crc32c(0, h, 8) != load_u32le(h + 8) || load_u32le(h) == 0)
        return REC_BAD_HEADER;
    *n = load_u32le(h);
    if (*n > len - off - MANIFEST_RECORD_HEADER_BYTES)
        return REC_PAST_END;
    if (base_crc32c(0, h + MANIFEST_RECORD_HEADER_BYTES, *n) != load_u32le(h + 4))
        return REC_BAD_CRC;
    return REC_OK;
}

/* Is there a sound record starting anywhere in (off, len)? */
static bool sound_record_after(const uint8_t *buf, size_t len, size_t off)
{
    uint32_t n;
    for (size_t q = off + 1; q + MANIFEST_RECORD_HEADER_BYTES < len; q++)
        if (check_record(buf, len, q, &n) == REC_OK)
            return true;
    return false;
}

int manifest_replay(const uint8_t *buf, size_t len, const char *name, const base_log *log,
                    manifest_version **out, manifest_replay_info *info)
{
    manifest_replay_info inf = {0};
    mstate s;
    char why[256];
    int rc = STRATA_ERR_CORRUPT;
    manifest_state_init(&s);
    if (len < MANIFEST_HEADER_BYTES || memcmp(buf, MANIFEST_MAGIC, 8) != 0 ||
        base_crc32c(0, buf, 12) != load_u32le(buf + 12)) {
        base_logf(log, STRATA_LOG_ERROR, "%s: bad or missing header at offset 0 (%zu bytes in the file)", name, len);
        goto out;
    }
    if (load_u32le(buf + 8) != MANIFEST_FORMAT_VERSION) {
        base_logf(log, STRATA_LOG_ERROR, "%s: manifest format version %u, this build reads version %u", name,
                  load_u32le(buf + 8), MANIFEST_FORMAT_VERSION);
        rc = STRATA_ERR_VERSION;
        goto out;
    }
    size_t off = MANIFEST_HEADER_BYTES;
    while (off < len) {
        uint32_t n = 0;
        int kind = check_record(buf, len, off, &n);
        if (kind != REC_OK) {
            bool torn = kind == REC_SHORT || kind == REC_PAST_END ||
                        (kind == REC_BAD_CRC && off + MANIFEST_RECORD_HEADER_BYTES + n == len) ||
                        (kind == REC_BAD_HEADER && !sound_record_after(buf, len, off));
            if (inf.records == 0 || !torn) {
                base_logf(log, STRATA_LOG_ERROR, "%s: damaged %s at offset %zu (file is %zu bytes)", name,
                          inf.records == 0 ? "snapshot record" : "record followed by more data", off, len);
                inf.bad_offset = off;
                goto out;
            }
            inf.torn_bytes = len - off;
            inf.bad_offset = off;
            base_logf(log, STRATA_LOG_WARN, "%s: torn last record at offset %zu (%zu bytes) dropped", name, off,
                      len - off);
            break;
        }
        rc = manifest_state_apply(&s, buf + off + MANIFEST_RECORD_HEADER_BYTES, n, why, sizeof why);
        if (rc) {
            if (rc == STRATA_ERR_CORRUPT)
                base_logf(log, STRATA_LOG_ERROR, "%s: record at offset %zu: %s", name, off, why);
            inf.bad_offset = off;
            goto out;
        }
        rc = STRATA_ERR_CORRUPT;
        if (inf.records++ == 0)
            inf.snapshot_bytes = MANIFEST_RECORD_HEADER_BYTES + n;
        off += MANIFEST_RECORD_HEADER_BYTES + n;
    }
    if (inf.records == 0 || s.partition_ms == 0) {
        base_logf(log, STRATA_LOG_ERROR, "%s: no snapshot with the database options at offset %u", name,
                  MANIFEST_HEADER_BYTES);
        inf.bad_offset = MANIFEST_HEADER_BYTES;
        goto out;
    }
    inf.valid_bytes = len - inf.torn_bytes;
    if ((rc = manifest_state_freeze(&s, out)) != 0)
        goto out;
    *info = inf;
    return STRATA_OK;
out:
    manifest_state_free(&s);
    *info = inf;
    return rc;
}
