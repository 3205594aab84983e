/*
 * fuzz_otlp_json.c: the OTLP/JSON decoder (server/otlp_json.c: jansson
 * under a byte budget, the tree re-encoded as protobuf by descriptor,
 * then the protobuf decoder) and the translation into samples, with
 * every naming strategy: what POST /opentelemetry/v1/metrics runs on an
 * application/json body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_fuzz_common.h"

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    otlp_limits lim = {1 << 20, 4 << 20};
    otlp_req *r = NULL;
    char err[256];
    if (otlp_decode_json(data, size, &lim, &r, err, sizeof err) == STRATA_OK) {
        fuzz_otlp_translate(r);
        otlp_free(r);
    }
    return 0;
}

#include "otlp_fuzz_seeds.h"

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= sizeof otlp_seeds / sizeof otlp_seeds[0])
        return 0;
    size_t n = strlen(otlp_seeds[i]);
    if (n > cap)
        return 0;
    memcpy(out, otlp_seeds[i], n);
    return n;
}
