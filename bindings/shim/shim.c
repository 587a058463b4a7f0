/* C shim over DPDK's static-inline fast path. Compiled with libdpdk's own
 * cflags (-include rte_config.h -march=...) so the inlines see the same
 * configuration as the library. Nothing here holds state. */
#include "shim.h"

uint16_t vfex_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t vfex_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, queue, pkts, n);
}

struct rte_mbuf *vfex_pktmbuf_alloc(struct rte_mempool *mp)
{
	return rte_pktmbuf_alloc(mp);
}

int vfex_pktmbuf_alloc_bulk(struct rte_mempool *mp, struct rte_mbuf **pkts, unsigned int n)
{
	return rte_pktmbuf_alloc_bulk(mp, pkts, n);
}

void vfex_pktmbuf_free(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

void vfex_pktmbuf_free_bulk(struct rte_mbuf **pkts, unsigned int n)
{
	rte_pktmbuf_free_bulk(pkts, n);
}

struct rte_mbuf *vfex_pktmbuf_clone(struct rte_mbuf *m, struct rte_mempool *mp)
{
	return rte_pktmbuf_clone(m, mp);
}

int vfex_pktmbuf_chain(struct rte_mbuf *head, struct rte_mbuf *tail)
{
	return rte_pktmbuf_chain(head, tail);
}

int vfex_pktmbuf_linearize(struct rte_mbuf *m)
{
	return rte_pktmbuf_linearize(m);
}

unsigned vfex_lcore_id(void)
{
	return rte_lcore_id();
}

int vfex_errno(void)
{
	return rte_errno;
}

uint64_t vfex_rdtsc(void)
{
	return rte_rdtsc();
}

uint64_t vfex_get_tsc_hz(void)
{
	return rte_get_tsc_hz();
}

void vfex_pause(void)
{
	rte_pause();
}

void vfex_prefetch0(const void *p)
{
	rte_prefetch0(p);
}

uint16_t vfex_mbuf_refcnt_read(const struct rte_mbuf *m)
{
	return rte_mbuf_refcnt_read(m);
}

int vfex_ring_dequeue(struct rte_ring *r, void **obj)
{
	return rte_ring_dequeue(r, obj);
}

int vfex_lcore_first_cpu(unsigned int lcore_id)
{
	rte_cpuset_t set;

	if (lcore_id >= RTE_MAX_LCORE)
		return -1;
	set = rte_lcore_cpuset(lcore_id);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set))
			return cpu;
	return -1;
}
