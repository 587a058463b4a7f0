/* C shim: DPDK's static-inline fast path as real functions that Rust can call.
 * Every function is a one-line wrapper; see shim.c. */
#ifndef VFEX_SHIM_H
#define VFEX_SHIM_H

#include <stdint.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ethdev.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_version.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_eth_ring.h>
#include <rte_telemetry.h>
#include <rte_pdump.h>
#include <rte_acl.h>

uint16_t vfex_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
uint16_t vfex_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n);
struct rte_mbuf *vfex_pktmbuf_alloc(struct rte_mempool *mp);
int vfex_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned int n);
void vfex_pktmbuf_free(struct rte_mbuf *m);
void vfex_pktmbuf_free_bulk(struct rte_mbuf **pkts, unsigned int n);
struct rte_mbuf *vfex_pktmbuf_clone(struct rte_mbuf *m, struct rte_mempool *mp);
int vfex_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail);
int vfex_pktmbuf_linearize(struct rte_mbuf *m);
unsigned vfex_lcore_id(void);
int vfex_errno(void);
uint64_t vfex_rdtsc(void);
uint64_t vfex_get_tsc_hz(void);
void vfex_pause(void);
void vfex_prefetch0(const void *p);
uint16_t vfex_mbuf_refcnt_read(const struct rte_mbuf *m);
int vfex_ring_dequeue(struct rte_ring *r, void **obj);

/* The first CPU of an lcore's cpuset (lcore ids and CPUs differ with
 * --lcores mappings such as 0@1,1@0); -1 for an id out of range or an
 * empty set. */
int vfex_lcore_first_cpu(unsigned int lcore_id);

#endif
