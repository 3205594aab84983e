/*
 * crc32c.c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as used
 * by iSCSI (RFC 3720), ext4 and LevelDB.
 *
 * Two implementations that must agree bit for bit: the SSE4.2 crc32
 * instruction, 8 bytes per step, chosen at run time when the CPU has it;
 * and a portable slicing-by-8 table walk. Both are checked against the
 * RFC 3720 B.4 test vectors in tests/unit/base_crc32c.c.
 */
#include <pthread.h>

#include "base.h"

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int s = 1; s < 8; s++)
            table[s][i] = (table[s - 1][i] >> 8) ^ table[0][table[s - 1][i] & 0xff];
}

uint32_t base_crc32c_portable(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&table_once, table_init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (n >= 8) {
        uint32_t lo = c ^ load_u32le(p);
        uint32_t hi = load_u32le(p + 4);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
            table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^ table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    return ~c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        n--;
    }
    while (n >= 8) {
        c = _mm_crc32_u64(c, load_u64le(p));
        p += 8;
        n -= 8;
    }
    while (n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

bool base_crc32c_hw_available(void) { return __builtin_cpu_supports("sse4.2"); }

uint32_t base_crc32c(uint32_t crc, const void *p, size_t n)
{
    static int hw = -1; /* benign race: every thread computes the same answer */
    int h = __atomic_load_n(&hw, __ATOMIC_RELAXED);
    if (h < 0) {
        h = base_crc32c_hw_available();
        __atomic_store_n(&hw, h, __ATOMIC_RELAXED);
    }
    return h ? crc32c_sse42(crc, p, n) : base_crc32c_portable(crc, p, n);
}
#else
bool base_crc32c_hw_available(void) { return false; }
uint32_t base_crc32c(uint32_t crc, const void *p, size_t n) { return base_crc32c_portable(crc, p, n); }
#endif
