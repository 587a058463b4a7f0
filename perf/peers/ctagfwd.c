/* ctagfwd: the plain C DPDK tag forwarder that issue 3's target is set
 * against ("a plain C DPDK forwarder that moves the MAC addresses with
 * memmove"): one worker lcore, packets from port p go to port p ^ 1, and in
 * a tag mode the even ports push the tag (rte_pktmbuf_prepend, memmove of the
 * 12 MAC bytes, the tag bytes written after them) and the odd ports strip it
 * (TPID checked, memmove of the MACs, rte_pktmbuf_adj, padded to 60 bytes).
 * The same checks as vfex's kernels where they cost a branch: a tag TPID
 * from the VM is refused on push (injection guard), no headroom and short
 * frames are drops, a wrong TPID on strip is a drop.
 *
 * It takes the subset of vfex's command line that vfex-perf passes
 * (`EAL -- --forward-mode io|vntag|etag|stag --nb-cores 1 --rxq 1
 * --stats-period S --duration S [--tx-first --txpkts N]`) and prints its
 * figures in vfex's format, so the harness runs and parses both alike.
 * Built by vfex-perf at run time: cc -O3 -march=native, pkg-config libdpdk.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#define BURST 32
#define MAX_PORTS 2
#define MIN_FRAME 60

enum mode { IO, VNTAG, ETAG, STAG };

static volatile int stop;
static enum mode mode = IO;
static unsigned tag_len;
static uint8_t tag[MAX_PORTS][8];
static uint16_t tpid;
static uint16_t nports;

/* Counters: written by the worker only, read by the main lcore. */
static volatile uint64_t rx_pkts, tx_pkts, tx_full, bad_tpid, injected, no_headroom, runt;

static void on_signal(int s) { (void)s; stop = 1; }

static inline int is_tag_tpid(uint16_t et) {
    return et == 0x8926 || et == 0x893f || et == 0x88a8 || et == 0x9100 || et == 0x9200;
}

/* 0: forward, else drop. */
static inline int push(struct rte_mbuf *m, const uint8_t *t) {
    if (rte_pktmbuf_data_len(m) < 14) {
        runt++;
        return -1;
    }
    uint8_t *old = rte_pktmbuf_mtod(m, uint8_t *);
    uint16_t et = (uint16_t)(old[12] << 8 | old[13]);
    if (is_tag_tpid(et)) {
        injected++;
        return -1;
    }
    uint8_t *p = (uint8_t *)rte_pktmbuf_prepend(m, (uint16_t)tag_len);
    if (p == NULL) {
        no_headroom++;
        return -1;
    }
    memmove(p, p + tag_len, 12);
    memcpy(p + 12, t, tag_len);
    return 0;
}

static inline int strip(struct rte_mbuf *m) {
    if (rte_pktmbuf_data_len(m) < 14 + tag_len) {
        runt++;
        return -1;
    }
    uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
    if ((uint16_t)(p[12] << 8 | p[13]) != tpid) {
        bad_tpid++;
        return -1;
    }
    memmove(p + tag_len, p, 12);
    rte_pktmbuf_adj(m, (uint16_t)tag_len);
    if (rte_pktmbuf_pkt_len(m) < MIN_FRAME) {
        uint16_t pad = (uint16_t)(MIN_FRAME - rte_pktmbuf_pkt_len(m));
        char *z = rte_pktmbuf_append(m, pad);
        if (z == NULL) {
            runt++;
            return -1;
        }
        memset(z, 0, pad);
    }
    return 0;
}

static int worker(void *arg) {
    (void)arg;
    struct rte_mbuf *pkts[BURST], *out[BURST];
    while (!stop) {
        for (uint16_t p = 0; p < nports; p++) {
            uint16_t n = rte_eth_rx_burst(p, 0, pkts, BURST);
            if (n == 0)
                continue;
            rx_pkts += n;
            uint16_t k = 0;
            if (mode == IO) {
                memcpy(out, pkts, n * sizeof(pkts[0]));
                k = n;
            } else if (p % 2 == 0) {
                for (uint16_t i = 0; i < n; i++) {
                    if (push(pkts[i], tag[p]) == 0)
                        out[k++] = pkts[i];
                    else
                        rte_pktmbuf_free(pkts[i]);
                }
            } else {
                for (uint16_t i = 0; i < n; i++) {
                    if (strip(pkts[i]) == 0)
                        out[k++] = pkts[i];
                    else
                        rte_pktmbuf_free(pkts[i]);
                }
            }
            uint16_t s = rte_eth_tx_burst(p ^ 1, 0, out, k);
            tx_pkts += s;
            if (s < k) {
                tx_full += k - s;
                rte_pktmbuf_free_bulk(out + s, k - s);
            }
        }
    }
    return 0;
}

/* vfex's --tx-first frame: Ethernet, IPv4, UDP, zeros. */
static void tx_first(struct rte_mempool *mp, uint16_t len) {
    uint8_t f[2048] = {0};
    if (len < 60)
        len = 60;
    const uint8_t hdr[] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00, 0x45};
    memcpy(f, hdr, sizeof(hdr));
    uint16_t ip_len = (uint16_t)(len - 14);
    f[16] = (uint8_t)(ip_len >> 8);
    f[17] = (uint8_t)ip_len;
    f[22] = 64;
    f[23] = 17;
    for (uint16_t p = 0; p < nports; p++) {
        struct rte_mbuf *b[BURST];
        if (rte_pktmbuf_alloc_bulk(mp, b, BURST) != 0)
            rte_exit(1, "mempool empty before --tx-first\n");
        for (int i = 0; i < BURST; i++)
            memcpy(rte_pktmbuf_append(b[i], len), f, len);
        uint16_t n = rte_eth_tx_burst(p, 0, b, BURST);
        if (n < BURST)
            rte_pktmbuf_free_bulk(b + n, BURST - n);
        printf("tx-first: port %u sent %u frames\n", p, n);
    }
}

static void usage(const char *why) {
    fprintf(stderr,
            "ctagfwd: %s\nusage: ctagfwd [EAL options] -- --forward-mode io|vntag|etag|stag "
            "[--nb-cores 1] [--rxq 1] [--stats-period S] [--duration S] [--tx-first] [--txpkts N]\n",
            why);
    exit(2);
}

int main(int argc, char **argv) {
    int ret = rte_eal_init(argc, argv);
    if (ret < 0)
        usage("EAL initialisation failed");
    argc -= ret;
    argv += ret;
    double period = 1.0, duration = 10.0;
    int first = 0;
    unsigned txpkts = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--forward-mode") && v) {
            if (!strcmp(v, "io")) mode = IO;
            else if (!strcmp(v, "vntag")) mode = VNTAG;
            else if (!strcmp(v, "etag")) mode = ETAG;
            else if (!strcmp(v, "stag")) mode = STAG;
            else usage("--forward-mode: expected io, vntag, etag or stag");
            i++;
        } else if ((!strcmp(a, "--nb-cores") || !strcmp(a, "--rxq")) && v) {
            if (strcmp(v, "1"))
                usage("one worker with one queue per port only");
            i++;
        } else if (!strcmp(a, "--stats-period") && v) {
            period = atof(v);
            i++;
        } else if (!strcmp(a, "--duration") && v) {
            duration = atof(v);
            i++;
        } else if (!strcmp(a, "--txpkts") && v) {
            txpkts = (unsigned)atoi(v);
            i++;
        } else if (!strcmp(a, "--tx-first")) {
            first = 1;
        } else {
            fprintf(stderr, "ctagfwd: unknown option %s\n", a);
            usage("bad option");
        }
    }
    if (period <= 0 || duration <= 0 || txpkts < 60 || txpkts > 1514)
        usage("bad --stats-period, --duration or --txpkts");
    nports = rte_eth_dev_count_avail();
    if (nports != MAX_PORTS)
        usage("needs exactly two ports");
    unsigned worker_lcore = rte_get_next_lcore(-1, 1, 0);
    if (worker_lcore >= RTE_MAX_LCORE)
        usage("needs a worker lcore (-l 0,1)");

    switch (mode) {
    case VNTAG: tag_len = 6; tpid = 0x8926; break;
    case ETAG: tag_len = 8; tpid = 0x893f; break;
    case STAG: tag_len = 4; tpid = 0x88a8; break;
    default: break;
    }
    for (uint16_t p = 0; p < MAX_PORTS; p++) {
        /* The tag of rx port p: vEth p + 1 (VIF, E-CID or S-VID), as vfex. */
        uint16_t id = (uint16_t)(p + 1);
        uint8_t *t = tag[p];
        t[0] = (uint8_t)(tpid >> 8);
        t[1] = (uint8_t)tpid;
        if (mode == VNTAG) {
            t[4] = (uint8_t)(id >> 8 & 0x3f); /* src VIF, 12 bits */
            t[5] = (uint8_t)id;
        } else if (mode == ETAG) {
            t[4] = (uint8_t)(id >> 8 & 0x0f); /* E-CID base */
            t[5] = (uint8_t)id;
        } else if (mode == STAG) {
            t[2] = (uint8_t)(id >> 8 & 0x0f);
            t[3] = (uint8_t)id;
        }
    }

    struct rte_mempool *mp = rte_pktmbuf_pool_create("ctagfwd", 8191, 256, 0,
                                                     RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (mp == NULL)
        rte_exit(1, "mempool: %s\n", rte_strerror(rte_errno));
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    for (uint16_t p = 0; p < nports; p++) {
        if (rte_eth_dev_configure(p, 1, 1, &conf) < 0 ||
            rte_eth_rx_queue_setup(p, 0, 1024, rte_eth_dev_socket_id(p), NULL, mp) < 0 ||
            rte_eth_tx_queue_setup(p, 0, 1024, rte_eth_dev_socket_id(p), NULL) < 0 ||
            rte_eth_dev_start(p) < 0)
            rte_exit(1, "port %u: configuration failed\n", p);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    uint64_t hz = rte_get_tsc_hz();
    printf("ctagfwd %s forwarding on 1 core(s) (lcores %u), 2 stream(s), tsc-hz %" PRIu64 "\n",
           mode == IO ? "io" : mode == VNTAG ? "vntag" : mode == ETAG ? "etag" : "stag",
           worker_lcore, hz);
    if (first)
        tx_first(mp, (uint16_t)txpkts);
    fflush(stdout);
    rte_eal_remote_launch(worker, NULL, worker_lcore);

    uint64_t start = rte_rdtsc(), last = start, last_rx = 0, last_tx = 0;
    while (!stop) {
        usleep(10000);
        uint64_t now = rte_rdtsc();
        double t = (double)(now - start) / (double)hz;
        if ((double)(now - last) / (double)hz >= period) {
            double dt = (double)(now - last) / (double)hz;
            uint64_t r = rx_pkts, x = tx_pkts;
            printf("[%7.1f s] total                rx-pps %11.0f  tx-pps %11.0f\n", t,
                   (double)(r - last_rx) / dt, (double)(x - last_tx) / dt);
            fflush(stdout);
            last = now;
            last_rx = r;
            last_tx = x;
        }
        if (t >= duration)
            stop = 1;
    }
    rte_eal_mp_wait_lcore();
    printf("  total               RX-packets: %" PRIu64 "            TX-packets: %" PRIu64
           "            TX-dropped(tx_full): %" PRIu64 "\n",
           rx_pkts, tx_pkts, tx_full);
    const struct { const char *n; uint64_t v; } d[] = {
        {"bad_tpid", bad_tpid}, {"tag_injection", injected}, {"no_headroom", no_headroom}, {"runt", runt}};
    for (unsigned i = 0; i < sizeof(d) / sizeof(d[0]); i++)
        if (d[i].v)
            printf("  dropped %-16s %" PRIu64 "\n", d[i].n, d[i].v);
    for (uint16_t p = 0; p < nports; p++) {
        rte_eth_dev_stop(p);
        rte_eth_dev_close(p);
    }
    rte_eal_cleanup();
    return 0;
}
