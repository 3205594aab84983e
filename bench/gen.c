/*
 * gen.c: the benchmark data generator (see gen.h): value processes of
 * monitoring data with a splitmix64/xoshiro256** PRNG:
 *   ic  integer counter  v += U{0..2m}, or +1 with probability p when m == 0
 *   dc  decimal counter  the same on an integer of 10^-dp units, value v/10^dp
 *   dg  decimal gauge    v += U{-st..st} clamped to [lo, hi], value v/10^dp
 *   ig  integer gauge    with probability p: v += U{-s..s} * unit, clamped
 *   k   constant
 *   rw  devops-cpu field: v += N(0,1) clamped to [0, 100], start U(0,100)
 * A decimal value is the double nearest v/10^dp, which (double)v / 10^dp
 * computes exactly as parsing its shortest printed decimal does.
 */
#include "gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

static void rng_init(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        r->s[i] = z ^ (z >> 31);
    }
}

static double rnd(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static double uniform(rng *r, double a, double b) { return a + (b - a) * rnd(r); }
static int64_t randrange(rng *r, int64_t n) { return (int64_t)(rnd(r) * (double)n); }
static int64_t randint(rng *r, int64_t a, int64_t b) { return a + randrange(r, b - a + 1); }

static double gauss(rng *r)
{
    double u1 = rnd(r), u2 = rnd(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ------------------------------------------------------------ series table */

typedef struct spec {
    const char *name;
    const char *lab[8]; /* up to 4 (name, value) pairs, NULL-terminated */
    char kind[4];
    int64_t v, m, unit, lo, hi, s, st;
    int dp;
    double p;
} spec;

typedef struct specs {
    spec *a;
    size_t n, cap;
} specs;

static spec *add(specs *S, const char *name, const char *kind)
{
    if (S->n == S->cap) {
        S->cap = S->cap ? S->cap * 2 : 256;
        S->a = realloc(S->a, S->cap * sizeof *S->a);
        if (!S->a)
            abort();
    }
    spec *s = &S->a[S->n++];
    memset(s, 0, sizeof *s);
    s->name = name;
    snprintf(s->kind, sizeof s->kind, "%s", kind);
    s->unit = 1;
    s->s = 1;
    return s;
}

static void lab(spec *s, const char *k1, const char *v1, const char *k2, const char *v2, const char *k3,
                const char *v3)
{
    s->lab[0] = k1;
    s->lab[1] = v1;
    s->lab[2] = k2;
    s->lab[3] = v2;
    s->lab[4] = k3;
    s->lab[5] = v3;
}

static spec *ic(specs *S, const char *name, int64_t v, int64_t m, double p)
{
    spec *s = add(S, name, "ic");
    s->v = v;
    s->m = m;
    s->p = p;
    return s;
}

static spec *ig(specs *S, const char *name, int64_t v, int64_t unit, int64_t lo, int64_t hi, double p, int64_t st)
{
    spec *s = add(S, name, "ig");
    s->v = v;
    s->unit = unit;
    s->lo = lo;
    s->hi = hi;
    s->p = p;
    s->s = st;
    return s;
}

static spec *dg(specs *S, const char *name, int dp, int64_t v, int64_t lo, int64_t hi, int64_t st)
{
    spec *s = add(S, name, "dg");
    s->dp = dp;
    s->v = v;
    s->lo = lo;
    s->hi = hi;
    s->st = st;
    return s;
}

static spec *k(specs *S, const char *name, int64_t v)
{
    spec *s = add(S, name, "k");
    s->v = v;
    return s;
}

/* One instance's 233 series, as gen.py's node_series(). */
static void node_series(specs *S, rng *r)
{
    static const char *modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
    static const int mm[] = {1150, 12, 1, 0, 6, 3, 70, 240};
    static const char *cpus[] = {"0", "1", "2", "3"};
    for (int cpu = 0; cpu < 4; cpu++)
        for (int i = 0; i < 8; i++) {
            int64_t base = (int64_t)(uniform(r, 0.2, 1.0) * 3e7 * (mm[i] + 1) / 1500);
            spec *s = add(S, "node_cpu_seconds_total", "dc");
            lab(s, "cpu", cpus[cpu], "mode", modes[i], NULL, NULL);
            s->dp = 2;
            s->v = base;
            if (mm[i] == 0) {
                s->p = 0.02;
            } else {
                s->m = (int64_t)(mm[i] * uniform(r, 0.5, 1.5));
                if (!s->m)
                    s->m = 1;
            }
        }
    static const char *devs[] = {"eth0", "eth1", "lo"};
    static const double scales[] = {1.0, 0.05, 0.2};
    static const char *dirs[] = {"receive", "transmit"};
    static const char *nb[] = {"node_network_receive_bytes_total", "node_network_transmit_bytes_total"};
    static const char *np[] = {"node_network_receive_packets_total", "node_network_transmit_packets_total"};
    static const char *ne[] = {"node_network_receive_errs_total", "node_network_transmit_errs_total"};
    static const char *nd[] = {"node_network_receive_drop_total", "node_network_transmit_drop_total"};
    for (int d = 0; d < 3; d++) {
        for (int x = 0; x < 2; x++) {
            (void)dirs;
            int64_t mb = (int64_t)(1500000 * scales[d] * uniform(r, 0.3, 1.5));
            if (mb < 1)
                mb = 1;
            int64_t mp = mb / 900 > 1 ? mb / 900 : 1;
            lab(ic(S, nb[x], randrange(r, 1ll << 40), mb, 0), "device", devs[d], NULL, NULL, NULL, NULL);
            lab(ic(S, np[x], randrange(r, 1ll << 32), mp, 0), "device", devs[d], NULL, NULL, NULL, NULL);
            lab(ic(S, ne[x], randrange(r, 50), 0, 0.002), "device", devs[d], NULL, NULL, NULL, NULL);
            lab(ic(S, nd[x], randrange(r, 500), 0, 0.01), "device", devs[d], NULL, NULL, NULL, NULL);
        }
        int lo = d == 2;
        lab(k(S, "node_network_up", 1), "device", devs[d], NULL, NULL, NULL, NULL);
        lab(k(S, "node_network_mtu_bytes", lo ? 65536 : 1500), "device", devs[d], NULL, NULL, NULL, NULL);
        lab(k(S, "node_network_speed_bytes", lo ? 0 : 125000000), "device", devs[d], NULL, NULL, NULL, NULL);
    }
    static const char *disks[] = {"sda", "nvme0n1"};
    for (int d = 0; d < 2; d++) {
        const char *dv = disks[d];
        lab(ic(S, "node_disk_reads_completed_total", randrange(r, 1ll << 30), randint(r, 5, 200), 0), "device", dv, NULL, NULL, NULL, NULL);
        lab(ic(S, "node_disk_writes_completed_total", randrange(r, 1ll << 30), randint(r, 50, 500), 0), "device", dv, NULL, NULL, NULL, NULL);
        lab(ic(S, "node_disk_reads_merged_total", randrange(r, 1ll << 26), randint(r, 1, 20), 0), "device", dv, NULL, NULL, NULL, NULL);
        lab(ic(S, "node_disk_writes_merged_total", randrange(r, 1ll << 28), randint(r, 10, 200), 0), "device", dv, NULL, NULL, NULL, NULL);
        lab(ic(S, "node_disk_read_bytes_total", randrange(r, 1ll << 42), 4096 * randint(r, 50, 2000), 0), "device", dv, NULL, NULL, NULL, NULL);
        lab(ic(S, "node_disk_written_bytes_total", randrange(r, 1ll << 42), 4096 * randint(r, 500, 5000), 0), "device", dv, NULL, NULL, NULL, NULL);
        lab(ic(S, "node_disk_discards_completed_total", randrange(r, 1ll << 16), 0, 0.003), "device", dv, NULL, NULL, NULL, NULL);
        spec *s = add(S, "node_disk_io_time_seconds_total", "dc");
        s->dp = 3;
        s->v = randrange(r, 1ll << 33);
        s->m = randint(r, 100, 3000);
        lab(s, "device", dv, NULL, NULL, NULL, NULL);
        lab(ig(S, "node_disk_io_now", 0, 1, 0, 16, 0.3, 1), "device", dv, NULL, NULL, NULL, NULL);
    }
    static const char *mps[] = {"/", "/boot", "/home", "/var"};
    static const char *fdev[] = {"/dev/sda2", "/dev/sda1", "/dev/nvme0n1p1", "/dev/sda3"};
    static const int64_t fsz[] = {100, 1, 500, 50};
    for (int f = 0; f < 4; f++) {
        int64_t sz = fsz[f] << 30;
        int64_t fr = (int64_t)((double)sz * uniform(r, 0.2, 0.8)) / 4096 * 4096;
        int64_t files = sz / 16384;
#define FL(s) lab((s), "device", fdev[f], "fstype", "ext4", "mountpoint", mps[f])
        FL(ig(S, "node_filesystem_avail_bytes", fr - sz / 20 / 4096 * 4096, 4096, 0, sz, 0.5, 64));
        FL(ig(S, "node_filesystem_free_bytes", fr, 4096, 0, sz, 0.5, 64));
        FL(ig(S, "node_filesystem_files_free", (int64_t)((double)files * uniform(r, 0.5, 0.95)), 1, 0, files, 0.3, 20));
        FL(k(S, "node_filesystem_size_bytes", sz));
        FL(k(S, "node_filesystem_files", files));
        FL(k(S, "node_filesystem_readonly", 0));
        FL(k(S, "node_filesystem_device_error", 0));
#undef FL
    }
    int64_t memtotal = (16ll << 30) - randrange(r, 1ll << 27) / 4096 * 4096;
    static const char *memg[] = {
        "node_memory_MemFree_bytes", "node_memory_MemAvailable_bytes", "node_memory_Buffers_bytes",
        "node_memory_Cached_bytes", "node_memory_Active_bytes", "node_memory_Inactive_bytes",
        "node_memory_Active_anon_bytes", "node_memory_Inactive_anon_bytes", "node_memory_Active_file_bytes",
        "node_memory_Inactive_file_bytes", "node_memory_Dirty_bytes", "node_memory_Writeback_bytes",
        "node_memory_AnonPages_bytes", "node_memory_Mapped_bytes", "node_memory_Shmem_bytes",
        "node_memory_Slab_bytes", "node_memory_SReclaimable_bytes", "node_memory_SUnreclaim_bytes",
        "node_memory_KernelStack_bytes", "node_memory_PageTables_bytes", "node_memory_Committed_AS_bytes",
        "node_memory_VmallocUsed_bytes", "node_memory_AnonHugePages_bytes", "node_memory_Percpu_bytes"};
    for (size_t i = 0; i < 24; i++)
        ig(S, memg[i], (int64_t)((double)memtotal * uniform(r, 0.001, 0.5)) / 4096 * 4096, 4096, 0, memtotal, 0.8, 256);
    static const char *memk[] = {
        "node_memory_MemTotal_bytes", "node_memory_SwapTotal_bytes", "node_memory_SwapFree_bytes",
        "node_memory_SwapCached_bytes", "node_memory_HugePages_Total_bytes", "node_memory_HugePages_Free_bytes",
        "node_memory_HugePages_Rsvd_bytes", "node_memory_HugePages_Surp_bytes", "node_memory_Hugepagesize_bytes",
        "node_memory_CommitLimit_bytes", "node_memory_VmallocTotal_bytes", "node_memory_Unevictable_bytes",
        "node_memory_Mlocked_bytes", "node_memory_Bounce_bytes", "node_memory_DirectMap4k_bytes",
        "node_memory_DirectMap2M_bytes"};
    const int64_t memkv[] = {memtotal, 0, 0, 0, 0, 0, 0, 0, 2097152, memtotal / 2, 35184372087808ll, 0, 0, 0,
                             1ll << 28, memtotal - (1ll << 28)};
    for (size_t i = 0; i < 16; i++)
        k(S, memk[i], memkv[i]);
    dg(S, "node_load1", 2, randint(r, 10, 300), 0, 1600, 25);
    dg(S, "node_load5", 2, randint(r, 10, 300), 0, 1600, 8);
    dg(S, "node_load15", 2, randint(r, 10, 300), 0, 1600, 3);
    static const char *temps[] = {"temp1", "temp2", "temp3", "temp4", "temp5"};
    for (int i = 0; i < 5; i++)
        lab(dg(S, "node_hwmon_temp_celsius", 1, randint(r, 350, 550), 250, 950, 10), "chip", "platform_coretemp_0",
            "sensor", temps[i], NULL, NULL);
    static const char *tz[] = {"acpitz", "x86_pkg_temp"};
    for (int i = 0; i < 2; i++)
        lab(dg(S, "node_thermal_zone_temp", 1, randint(r, 350, 550), 250, 950, 10), "type", tz[i], "zone",
            cpus[i], NULL, NULL);
    static const char *ins[] = {"in0", "in1", "in2", "in3", "in4", "in5"};
    static const int64_t volts[] = {110, 330, 500, 1200};
    for (int i = 0; i < 6; i++)
        lab(dg(S, "node_hwmon_in_volts", 2, volts[randrange(r, 4)], 0, 1300, 1), "chip", "nct6775", "sensor",
            ins[i], NULL, NULL);
    for (int c = 0; c < 4; c++) {
        lab(ig(S, "node_cpu_scaling_frequency_hertz", 2400000000ll, 1000, 800000000ll, 4200000000ll, 0.9, 200000),
            "cpu", cpus[c], NULL, NULL, NULL, NULL);
        lab(k(S, "node_cpu_frequency_max_hertz", 4200000000ll), "cpu", cpus[c], NULL, NULL, NULL, NULL);
    }
    static const char *vm[] = {"node_vmstat_pgfault", "node_vmstat_pgmajfault", "node_vmstat_pgpgin",
                               "node_vmstat_pgpgout", "node_vmstat_pswpin", "node_vmstat_pswpout",
                               "node_vmstat_oom_kill", "node_vmstat_pgscan_kswapd"};
    static const int64_t vmm[] = {20000, 2, 3000, 9000, 0, 0, 0, 0};
    static const double vmp[] = {0, 0, 0, 0, 0, 0, 0.0003, 0.01};
    for (int i = 0; i < 8; i++)
        ic(S, vm[i], vmm[i] ? randrange(r, 1ll << 34) : randrange(r, 100), vmm[i], vmp[i]);
    ic(S, "node_context_switches_total", randrange(r, 1ll << 36), 60000, 0);
    ic(S, "node_intr_total", randrange(r, 1ll << 36), 40000, 0);
    ic(S, "node_forks_total", randrange(r, 1ll << 24), 150, 0);
    static const char *ns[] = {"node_netstat_Tcp_InSegs", "node_netstat_Tcp_OutSegs", "node_netstat_Tcp_RetransSegs",
                               "node_netstat_Tcp_ActiveOpens", "node_netstat_Tcp_PassiveOpens",
                               "node_netstat_Udp_InDatagrams", "node_netstat_Udp_OutDatagrams",
                               "node_netstat_Icmp_InMsgs", "node_netstat_TcpExt_ListenDrops"};
    static const int64_t nsm[] = {3000, 3200, 2, 20, 15, 200, 200, 1, 0};
    for (int i = 0; i < 9; i++)
        ic(S, ns[i], randrange(r, 1ll << 32), nsm[i], 0.001);
    ig(S, "node_netstat_Tcp_CurrEstab", randint(r, 20, 200), 1, 0, 5000, 0.7, 3);
    k(S, "node_netstat_Ip_Forwarding", 1);
    ig(S, "node_procs_running", 1, 1, 1, 12, 0.6, 1);
    ig(S, "node_procs_blocked", 0, 1, 0, 4, 0.1, 1);
    ig(S, "node_filefd_allocated", randint(r, 2000, 9000), 1, 1000, 60000, 0.7, 8);
    k(S, "node_filefd_maximum", INT64_MAX); /* printed as 9223372036854775807, parsed as 2^63 */
    k(S, "node_entropy_available_bits", 256);
    static const char *sock[] = {"node_sockstat_TCP_inuse", "node_sockstat_TCP_alloc", "node_sockstat_TCP_tw",
                                 "node_sockstat_UDP_inuse", "node_sockstat_sockets_used",
                                 "node_sockstat_TCP_mem_bytes"};
    static const int64_t sockv[] = {40, 60, 30, 8, 600, 40960};
    for (int i = 0; i < 6; i++) {
        int64_t unit = i == 5 ? 4096 : 1;
        int64_t v = sockv[i] * randint(r, 5, 15) / 10 / unit * unit;
        ig(S, sock[i], v ? v : unit, unit, 0, 1ll << 30, 0.6, 3);
    }
    k(S, "node_boot_time_seconds", 1704110400ll - randrange(r, 10000000));
    lab(k(S, "node_time_zone_offset_seconds", 0), "time_zone", "UTC", NULL, NULL, NULL, NULL);
    lab(k(S, "node_uname_info", 1), "machine", "x86_64", "release", "6.1.0-18-amd64", "sysname", "Linux");
    lab(k(S, "node_os_info", 1), "id", "debian", "name", "Debian GNU/Linux", "version_id", "12");
    lab(k(S, "node_exporter_build_info", 1), "goversion", "go1.19.8", "version", "1.5.0", NULL, NULL);
    static const char *coll[] = {"arp", "bcache", "bonding", "conntrack", "cpu", "cpufreq", "diskstats",
                                 "edac", "entropy", "filefd", "filesystem", "hwmon", "loadavg", "meminfo",
                                 "netclass", "netdev", "netstat", "sockstat", "stat", "vmstat"};
    for (int i = 0; i < 20; i++)
        lab(k(S, "node_scrape_collector_success", 1), "collector", coll[i], NULL, NULL, NULL, NULL);
}

/* ------------------------------------------------------------ generation */

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* b's name and labels for spec s on instance host-NN:9100 (job="node"). */
static void node_series_name(bench_series *b, const spec *s, int instance)
{
    char ibuf[32];
    snprintf(ibuf, sizeof ibuf, "host-%02d:9100", instance);
    size_t nl = 0;
    while (nl < 3 && s->lab[2 * nl])
        nl++;
    b->name = xstrdup(s->name);
    b->nlabels = nl + 2;
    b->labels = xmalloc(2 * b->nlabels * sizeof(char *));
    b->labels[0] = xstrdup("instance");
    b->labels[1] = xstrdup(ibuf);
    b->labels[2] = xstrdup("job");
    b->labels[3] = xstrdup("node");
    for (size_t l = 0; l < 2 * nl; l++)
        b->labels[4 + l] = xstrdup(s->lab[l]);
    memcpy(b->kind, s->kind, sizeof b->kind);
}

/* Fills o->t/v[0..n) with the next n values of s's process (its state
 * s->v carried over), at t0_ms, t0_ms + step_ms, ... */
static void fill_node_at(bench_series *o, spec *s, rng *r, size_t n, int64_t t0_ms, int64_t step_ms)
{
    static const double p10[] = {1, 10, 100, 1000};
    int64_t v = s->v;
    for (size_t i = 0; i < n; i++) {
        o->t[i] = t0_ms + (int64_t)i * step_ms;
        switch (s->kind[0]) {
        case 'k':
            o->v[i] = (double)v;
            break;
        case 'i':
            if (s->kind[1] == 'c') {
                if (s->m)
                    v += (int64_t)(rnd(r) * (double)(2 * s->m + 1));
                else if (s->p > 0 && rnd(r) < s->p)
                    v += 1;
            } else if (rnd(r) < s->p) {
                v += ((int64_t)(rnd(r) * (double)(2 * s->s + 1)) - s->s) * s->unit;
                v = v < s->lo ? s->lo : v > s->hi ? s->hi : v;
            }
            o->v[i] = (double)v;
            break;
        case 'd':
            if (s->kind[1] == 'c') {
                if (s->m)
                    v += (int64_t)(rnd(r) * (double)(2 * s->m + 1));
                else if (s->p > 0 && rnd(r) < s->p)
                    v += 1;
            } else {
                v += (int64_t)(rnd(r) * (double)(2 * s->st + 1)) - s->st;
                v = v < s->lo ? s->lo : v > s->hi ? s->hi : v;
            }
            o->v[i] = (double)v / p10[s->dp];
            break;
        }
    }
    s->v = v;
}

static void fill_node(bench_series *o, spec *s, rng *r, size_t n)
{
    fill_node_at(o, s, r, n, BENCH_GEN_START_MS, 15000);
}

static int gen_node(uint64_t seed, int inst, int hours, bench_series **out, size_t *nout)
{
    rng r;
    rng_init(&r, seed);
    size_t n = (size_t)hours * 3600 / 15;
    specs S;
    memset(&S, 0, sizeof S);
    size_t per = 0;
    bench_series *o = NULL;
    size_t total = 0;
    for (int i = 0; i < inst; i++) {
        S.n = 0;
        node_series(&S, &r);
        if (!o) {
            per = S.n;
            o = calloc((size_t)inst * per, sizeof *o);
            if (!o)
                abort();
        }
        for (size_t j = 0; j < S.n; j++) {
            spec *s = &S.a[j];
            bench_series *b = &o[total++];
            node_series_name(b, s, i);
            b->n = n;
            b->t = xmalloc(n * sizeof *b->t);
            b->v = xmalloc(n * sizeof *b->v);
            fill_node(b, s, &r, n);
        }
    }
    free(S.a);
    *out = o;
    *nout = total;
    return 0;
}

static int gen_devops(uint64_t seed, int hosts, int hours, bench_series **out, size_t *nout)
{
    static const char *fields[] = {"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
                                   "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"};
    static const char *regions[] = {"ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "eu-central-1",
                                    "eu-west-1", "sa-east-1", "us-east-1", "us-west-1", "us-west-2"};
    static const char *oses[] = {"Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"};
    static const char *archs[] = {"x64", "x86"};
    static const char *teams[] = {"SF", "NYC", "LON", "CHI"};
    static const char *envs[] = {"production", "staging", "test"};
    rng r;
    rng_init(&r, seed);
    size_t n = (size_t)hours * 3600 / 10;
    bench_series *o = calloc((size_t)hosts * 10, sizeof *o);
    if (!o)
        abort();
    for (int h = 0; h < hosts; h++) {
        char host[32], rack[16], svc[16], ver[16], dc[32];
        const char *region = regions[randrange(&r, 9)];
        snprintf(host, sizeof host, "host_%d", h);
        snprintf(dc, sizeof dc, "%sa", region);
        snprintf(rack, sizeof rack, "%d", (int)randrange(&r, 100));
        const char *os = oses[randrange(&r, 3)], *arch = archs[randrange(&r, 2)], *team = teams[randrange(&r, 4)];
        snprintf(svc, sizeof svc, "%d", (int)randrange(&r, 20));
        snprintf(ver, sizeof ver, "%d", (int)randrange(&r, 2));
        const char *env = envs[randrange(&r, 3)];
        const char *lv[20] = {"hostname", host, "region", region, "datacenter", dc, "rack", rack, "os", os,
                              "arch", arch, "team", team, "service", svc, "service_version", ver,
                              "service_environment", env};
        for (int f = 0; f < 10; f++) {
            bench_series *b = &o[h * 10 + f];
            char name[64];
            snprintf(name, sizeof name, "cpu_%s", fields[f]);
            b->name = xstrdup(name);
            b->nlabels = 10;
            b->labels = xmalloc(20 * sizeof(char *));
            for (int l = 0; l < 20; l++)
                b->labels[l] = xstrdup(lv[l]);
            memcpy(b->kind, "rw", 3);
            b->n = n;
            b->t = xmalloc(n * sizeof *b->t);
            b->v = xmalloc(n * sizeof *b->v);
            double x = rnd(&r) * 100.0;
            for (size_t i = 0; i < n; i++) {
                x += gauss(&r);
                x = x > 100.0 ? 100.0 : x < 0.0 ? 0.0 : x;
                b->t[i] = BENCH_GEN_START_MS + (int64_t)i * 10000;
                b->v[i] = x;
            }
        }
    }
    *out = o;
    *nout = (size_t)hosts * 10;
    return 0;
}

int bench_gen(const char *dataset, uint64_t seed, int hosts, int hours, bench_series **out, size_t *n)
{
    if (hours <= 0)
        return -1;
    if (!strcmp(dataset, "devops-cpu"))
        return gen_devops(seed, hosts > 0 ? hosts : 200, hours, out, n);
    if (!strcmp(dataset, "node-like"))
        return gen_node(seed, hosts > 0 ? hosts : 16, hours, out, n);
    return -1;
}

void bench_series_free(bench_series *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].name);
        for (size_t l = 0; l < 2 * s[i].nlabels; l++)
            free(s[i].labels[l]);
        free(s[i].labels);
        free(s[i].t);
        free(s[i].v);
    }
    free(s);
}

/* ------------------------------------------------------------ streaming */

struct bench_stream {
    spec *specs;  /* one per series, its state carried from chunk to chunk */
    rng *rngs;    /* one per series, so chunks draw the same values in any order */
    bench_series *s;
    size_t n, cap;
    int64_t next_ms, step_ms;
};

int bench_stream_open(uint64_t seed, int inst, size_t max_series, int64_t start_ms, int64_t step_ms, size_t chunk,
                      bench_stream **out, bench_series **series, size_t *nout)
{
    if (inst <= 0 || step_ms <= 0 || chunk == 0 || max_series == 0)
        return -1;
    bench_stream *st = calloc(1, sizeof *st);
    if (!st)
        abort();
    rng r;
    rng_init(&r, seed);
    specs S;
    memset(&S, 0, sizeof S);
    int *of = NULL; /* the instance of each spec */
    for (int i = 0; i < inst; i++) {
        size_t first = S.n;
        node_series(&S, &r);
        of = realloc(of, S.n * sizeof *of);
        if (!of)
            abort();
        for (size_t j = first; j < S.n; j++)
            of[j] = i;
    }
    size_t total = max_series < S.n ? max_series : S.n;
    st->s = calloc(total, sizeof *st->s);
    st->specs = xmalloc(total * sizeof *st->specs);
    if (!st->s)
        abort();
    for (size_t k = 0; k < total; k++) {
        size_t j = k * S.n / total; /* evenly spaced: every kind of series */
        spec *s = &S.a[j];
        bench_series *b = &st->s[k];
        node_series_name(b, s, of[j]);
        b->t = xmalloc(chunk * sizeof *b->t);
        b->v = xmalloc(chunk * sizeof *b->v);
        st->specs[k] = *s;
    }
    free(S.a);
    free(of);
    st->n = total;
    st->cap = chunk;
    st->rngs = xmalloc(total * sizeof *st->rngs);
    for (size_t i = 0; i < total; i++)
        rng_init(&st->rngs[i], seed * 0x9e3779b97f4a7c15ull + i + 1);
    st->next_ms = start_ms;
    st->step_ms = step_ms;
    *out = st;
    *series = st->s;
    *nout = total;
    return 0;
}

size_t bench_stream_next(bench_stream *st, int64_t end_ms)
{
    if (st->next_ms > end_ms)
        return 0;
    size_t k = (size_t)((end_ms - st->next_ms) / st->step_ms) + 1;
    if (k > st->cap)
        k = st->cap;
    for (size_t i = 0; i < st->n; i++) {
        fill_node_at(&st->s[i], &st->specs[i], &st->rngs[i], k, st->next_ms, st->step_ms);
        st->s[i].n = k;
    }
    st->next_ms += (int64_t)k * st->step_ms;
    return k;
}

void bench_stream_close(bench_stream *st)
{
    if (!st)
        return;
    bench_series_free(st->s, st->n);
    free(st->specs);
    free(st->rngs);
    free(st);
}
