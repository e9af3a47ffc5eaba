//! The outgoing datagrams of one channel: a small ring of packet buffers
//! allocated once, when the channel is created, and reused for every RTP
//! packet afterwards, so the steady state sends without allocating.

use std::net::SocketAddr;

/// Bytes per buffer: a 12-byte RTP header and up to 40 ms of G.711, with
/// headroom. Anything longer is refused (and counted) rather than grown.
pub const SLOT_BYTES: usize = 512;

/// Buffers in the ring: a tick queues at most an audio packet, a relayed
/// packet and a telephone-event packet, so 16 leaves room for a worker that
/// drains late.
pub const RING_SLOTS: usize = 16;

/// Which of our sockets a datagram leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalSocket {
    /// The RTP port (also RTCP with rtcp-mux, RFC 5761).
    Rtp,
    /// The separate RTCP port (the RTP port + 1, RFC 3550 §11).
    Rtcp,
}

/// A datagram to send, borrowed from the channel until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// Where to send it.
    pub destination: SocketAddr,
    /// Which local socket sends it.
    pub socket: LocalSocket,
    /// The datagram.
    pub bytes: &'a [u8],
}

#[derive(Debug, Clone)]
struct Slot {
    destination: SocketAddr,
    length: usize,
    bytes: [u8; SLOT_BYTES],
}

/// A fixed ring of RTP packet buffers, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct TransmitRing {
    slots: Box<[Slot]>,
    head: usize,
    len: usize,
}

impl TransmitRing {
    /// The ring's only allocation.
    pub(crate) fn new() -> Self {
        let empty = Slot {
            destination: SocketAddr::from(([0, 0, 0, 0], 0)),
            length: 0,
            bytes: [0; SLOT_BYTES],
        };
        Self {
            slots: vec![empty; RING_SLOTS].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// The next free buffer to write a packet into, `None` when the ring is
    /// full; nothing is queued until [`Self::commit`].
    pub(crate) fn vacant(&mut self) -> Option<&mut [u8; SLOT_BYTES]> {
        if self.len == self.slots.len() {
            return None;
        }
        let tail = (self.head + self.len) % self.slots.len();
        Some(&mut self.slots[tail].bytes)
    }

    /// Queues the first `length` bytes of the buffer [`Self::vacant`] gave.
    pub(crate) fn commit(&mut self, destination: SocketAddr, length: usize) {
        debug_assert!(self.len < self.slots.len() && length <= SLOT_BYTES);
        let tail = (self.head + self.len) % self.slots.len();
        let slot = &mut self.slots[tail];
        slot.destination = destination;
        slot.length = length;
        self.len += 1;
    }

    /// The oldest queued packet; its buffer stays valid until the next
    /// mutation.
    pub(crate) fn pop(&mut self) -> Option<(SocketAddr, &[u8])> {
        if self.len == 0 {
            return None;
        }
        let slot = &self.slots[self.head];
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        Some((slot.destination, &slot.bytes[..slot.length]))
    }

    /// Drops everything queued.
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_in_order_and_refuses_when_full() {
        let mut ring = TransmitRing::new();
        let to = SocketAddr::from(([192, 0, 2, 1], 4000));
        for index in 0..RING_SLOTS {
            let buffer = ring.vacant().expect("room left");
            buffer[0] = index as u8;
            ring.commit(to, 1);
        }
        assert!(ring.vacant().is_none());
        for index in 0..RING_SLOTS {
            let (destination, bytes) = ring.pop().expect("queued");
            assert_eq!((destination, bytes), (to, &[index as u8][..]));
        }
        assert!(ring.pop().is_none());
        // Wraps around.
        ring.vacant().expect("room")[0] = 9;
        ring.commit(to, 1);
        assert_eq!(ring.pop().map(|(_, bytes)| bytes[0]), Some(9));
    }
}
