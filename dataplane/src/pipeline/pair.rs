//! Two role instances behind one worker: the ports of instance `a` come
//! first in the worker's port list, then those of `b`. Used by the
//! embedded demo (a port extender wired to a controlling bridge in one
//! process, on one lcore when there is only one).

use std::sync::Arc;

use super::{Pipeline, Pkts, RoleCounters, Sink};
use crate::kernels::PacketBuf;

/// Instance `a` on ports `0..split`, `b` on ports `split..`.
///
/// Port counters (rx, tx, tx_full) are the worker's, by global port index;
/// `b`'s vEth and drop counters go to its own blocks (`b_counters[worker]`),
/// because its vEth indexes restart at 0.
pub struct Pair<A, B> {
    a: A,
    b: B,
    split: u16,
    b_counters: Arc<[RoleCounters]>,
    worker: usize,
}

impl<A, B> Pair<A, B> {
    /// `a` on ports `0..split`, `b` on the rest; `b` counts into
    /// `b_counters[worker]`.
    pub fn new(a: A, b: B, split: u16, b_counters: Arc<[RoleCounters]>, worker: usize) -> Self {
        Pair {
            a,
            b,
            split,
            b_counters,
            worker,
        }
    }
}

/// A sink that shifts `b`'s local port indexes to global ones.
struct Shifted<'s, S> {
    inner: &'s mut S,
    by: u16,
}

impl<Buf, S: Sink<Buf>> Sink<Buf> for Shifted<'_, S> {
    #[inline]
    fn send(&mut self, port: u16, b: Buf) {
        self.inner.send(port + self.by, b);
    }
    #[inline]
    fn copy(&mut self, b: &Buf) -> Option<Buf> {
        self.inner.copy(b)
    }
    type Shared = S::Shared;
    #[inline]
    fn share(&mut self, b: Buf) -> Result<Self::Shared, Buf> {
        self.inner.share(b)
    }
    #[inline]
    fn replica(&mut self, s: &Self::Shared) -> Option<Buf> {
        self.inner.replica(s)
    }
}

impl<Buf: PacketBuf, A: Pipeline<Buf>, B: Pipeline<Buf>> Pipeline<Buf> for Pair<A, B> {
    const NAME: &'static str = "pair";

    #[inline]
    fn process<P: Pkts<Buf>, S: Sink<Buf>>(
        &mut self,
        rx_port: u16,
        pkts: &mut P,
        sink: &mut S,
        now: u64,
        c: &RoleCounters,
    ) {
        if rx_port < self.split {
            self.a.process(rx_port, pkts, sink, now, c);
        } else {
            let mut s = Shifted {
                inner: sink,
                by: self.split,
            };
            let bc = &self.b_counters[self.worker.min(self.b_counters.len() - 1)];
            self.b.process(rx_port - self.split, pkts, &mut s, now, bc);
        }
    }

    #[inline]
    fn quiescent(&mut self, now: u64) {
        self.a.quiescent(now);
        self.b.quiescent(now);
    }
}
