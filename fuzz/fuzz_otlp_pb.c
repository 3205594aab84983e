/*
 * fuzz_otlp_pb.c: the OTLP protobuf decoder (server/otlp_pb.c: the depth
 * walk, pb_unpack's byte budget) and the translation into samples
 * (server/otlp.c, otlp_name.c) with every naming strategy: what POST
 * /opentelemetry/v1/metrics runs on an application/x-protobuf body.
 * Every accepted request must translate, every sample pass the label
 * checks of otlp_fuzz_common.h, and the objects stay within budget.
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
    if (otlp_decode_pb(data, size, &lim, &r, err, sizeof err) == STRATA_OK) {
        if (pb_arena_bytes(r->arena) > lim.max_objects)
            abort();
        fuzz_otlp_translate(r);
        otlp_free(r);
    }
    return 0;
}

/* Seeds: the OTLP/JSON requests of the JSON target, as protobuf. */
#include "otlp_fuzz_seeds.h"

size_t fuzz_seed_input(unsigned i, uint8_t *out, size_t cap)
{
    if (i >= sizeof otlp_seeds / sizeof otlp_seeds[0])
        return 0;
    otlp_limits lim = {1 << 20, 4 << 20};
    otlp_req *r = NULL;
    char err[256];
    if (otlp_decode_json((const uint8_t *)otlp_seeds[i], strlen(otlp_seeds[i]), &lim, &r, err, sizeof err))
        abort(); /* a seed must be valid */
    size_t n = protobuf_c_message_get_packed_size(&r->msg->base);
    if (n > cap) {
        otlp_free(r);
        return 0;
    }
    protobuf_c_message_pack(&r->msg->base, out);
    otlp_free(r);
    return n;
}
