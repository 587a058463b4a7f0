//! A virtual wire: two ethdev ports joined by two rings (`rte_eth_from_rings`).
//! What one port transmits, the other receives.

use super::{Eal, Error, Port, PortId, Result, eal::cstring, errno_error};
use dpdk_sys as sys;
use std::ptr::NonNull;

/// Two rings per queue and the two ring ports over them. The ports borrow
/// the wire, so they are closed before the rings are freed.
#[derive(Debug)]
pub struct VirtualWire<'eal> {
    name: String,
    /// a->b rings (one per queue), then b->a rings.
    rings: Vec<NonNull<sys::rte_ring>>,
    ports: [PortId; 2],
    eal: &'eal Eal,
}

impl<'eal> VirtualWire<'eal> {
    /// Creates ports `<name>_a` and `<name>_b`, each direction a ring of
    /// `size` slots (a power of two; it holds `size - 1` packets).
    pub fn new(eal: &'eal Eal, name: &str, size: u32) -> Result<Self> {
        Self::with_queues(eal, name, size, 1)
    }

    /// Like [`VirtualWire::new`] with `queues` rx and tx queues per port:
    /// what port a sends on its tx queue `q`, port b receives on its rx
    /// queue `q` (a stand-in for RSS: the sender picks the queue).
    pub fn with_queues(eal: &'eal Eal, name: &str, size: u32, queues: u16) -> Result<Self> {
        if !size.is_power_of_two() || size < 2 {
            return Err(Error::InvalidArgument(format!(
                "ring size {size} is not a power of two >= 2"
            )));
        }
        if queues == 0 || queues > 64 {
            return Err(Error::InvalidArgument(format!(
                "{queues} queues: a wire has 1..=64"
            )));
        }
        let free = |rings: &[NonNull<sys::rte_ring>]| {
            for r in rings {
                // SAFETY: ring created here and not used by any port.
                unsafe { sys::rte_ring_free(r.as_ptr()) };
            }
        };
        let mut rings = Vec::with_capacity(2 * usize::from(queues));
        for dir in ["ab", "ba"] {
            for q in 0..queues {
                let rn = if queues == 1 {
                    format!("{name}_{dir}")
                } else {
                    format!("{name}_{dir}{q}")
                };
                let c = cstring(&rn)?;
                // SAFETY: valid name; socket -1 = any. Single producer/consumer:
                // one tx queue and one rx queue use each ring.
                let r = unsafe { sys::rte_ring_create(c.as_ptr(), size, -1, 0x0001 | 0x0002) };
                match NonNull::new(r) {
                    Some(r) => rings.push(r),
                    None => {
                        let e = errno_error(format!("rte_ring_create({rn}, {size})"));
                        free(&rings);
                        return Err(e);
                    }
                }
            }
        }
        let n = usize::from(queues);
        let (ab, ba): (Vec<_>, Vec<_>) = (
            rings[..n].iter().map(|r| r.as_ptr()).collect(),
            rings[n..].iter().map(|r| r.as_ptr()).collect(),
        );
        let mut ports = [PortId(0); 2];
        // a receives from ba and sends on ab; b the other way round.
        for (i, (side, rx, tx)) in [("a", &ba, &ab), ("b", &ab, &ba)].into_iter().enumerate() {
            let pn = format!("{name}_{side}");
            let c = cstring(&pn)?;
            // SAFETY: valid name and arrays of `queues` valid rings each.
            let id = unsafe {
                sys::rte_eth_from_rings(
                    c.as_ptr(),
                    rx.as_ptr(),
                    u32::from(queues),
                    tx.as_ptr(),
                    u32::from(queues),
                    0,
                )
            };
            if id < 0 {
                let e = errno_error(format!("rte_eth_from_rings({pn})"));
                if i == 1 {
                    // The first port exists: close it before freeing the rings.
                    drop(Port::open(eal, ports[0]));
                }
                free(&rings);
                return Err(e);
            }
            ports[i] = PortId(id as u16);
        }
        Ok(VirtualWire {
            name: name.to_owned(),
            rings,
            ports,
            eal,
        })
    }

    /// The wire's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The two ports, owned (closed when dropped; the wire outlives them).
    pub fn ports(&self) -> Result<(Port<'_>, Port<'_>)> {
        Ok((
            Port::open(self.eal, self.ports[0])?,
            Port::open(self.eal, self.ports[1])?,
        ))
    }
}

impl Drop for VirtualWire<'_> {
    fn drop(&mut self) {
        for (id, side) in self.ports.into_iter().zip(["a", "b"]) {
            // Close the port only if it is still this wire's: its Port
            // handle normally closed it already, and another thread may
            // since have been given the same id for a port of its own, so
            // the id is looked up by this wire's (unique) port name.
            let Ok(c) = cstring(&format!("{}_{side}", self.name)) else {
                continue;
            };
            let mut found = 0u16;
            // SAFETY: valid NUL-terminated name and out-pointer; the port,
            // if it is ours, has no Port handle left (they borrow the wire),
            // so closing it is allowed. Mbufs still queued in the rings are
            // freed below, before the rings.
            unsafe {
                if sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut found) == 0 && found == id.0 {
                    sys::rte_eth_dev_close(id.0);
                }
            }
        }
        for r in &self.rings {
            let mut m: *mut std::ffi::c_void = std::ptr::null_mut();
            // SAFETY: the rings hold only mbuf pointers that nobody else owns
            // (the ports are closed); we free each, then the ring itself.
            unsafe {
                while sys::vfex_ring_dequeue(r.as_ptr(), &mut m) == 0 {
                    sys::vfex_pktmbuf_free(m.cast());
                }
                sys::rte_ring_free(r.as_ptr());
            }
        }
    }
}
