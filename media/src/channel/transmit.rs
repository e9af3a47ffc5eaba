//! The outgoing datagrams of one channel: a small ring of packet buffers,
//! reused for every RTP packet, so the steady state sends without
//! allocating.
//!
//! The ring starts with [`INITIAL_SLOTS`] buffers, which is all an owner
//! that drains after every call ever uses (a media worker queues at most an
//! audio packet, a relayed one and a telephone-event between two drains).
//! Only an owner that lets more queue up makes it grow, doubling up to
//! [`RING_SLOTS`], at most twice in the channel's life; it never shrinks.

use std::net::SocketAddr;

/// Bytes per buffer: a 12-byte RTP header and up to 40 ms of G.711, with
/// headroom. Anything longer is refused (and counted) rather than grown.
pub const SLOT_BYTES: usize = 512;

/// Buffers in the ring at most: a tick queues at most an audio packet, a
/// relayed packet and a telephone-event packet, so 16 leaves room for a
/// worker that drains late.
pub const RING_SLOTS: usize = 16;

/// Buffers the ring is created with (2 KiB); it grows to [`RING_SLOTS`]
/// only when more packets than this wait to be drained.
pub const INITIAL_SLOTS: usize = 4;

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
    length: u16,
    bytes: [u8; SLOT_BYTES],
}

const EMPTY_SLOT: Slot = Slot {
    destination: SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
    length: 0,
    bytes: [0; SLOT_BYTES],
};

/// A bounded ring of RTP packet buffers, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct TransmitRing {
    /// As many as allocated so far, between [`INITIAL_SLOTS`] and
    /// [`RING_SLOTS`].
    slots: Vec<Slot>,
    head: usize,
    len: usize,
}

impl TransmitRing {
    /// A ring of [`INITIAL_SLOTS`] buffers.
    pub(crate) fn new() -> Self {
        let mut slots = Vec::with_capacity(INITIAL_SLOTS);
        slots.resize(INITIAL_SLOTS, EMPTY_SLOT);
        Self {
            slots,
            head: 0,
            len: 0,
        }
    }

    /// The next free buffer to write a packet into, `None` when
    /// [`RING_SLOTS`] packets are queued; nothing is queued until
    /// [`Self::commit`].
    pub(crate) fn vacant(&mut self) -> Option<&mut [u8; SLOT_BYTES]> {
        if self.len == self.slots.len() {
            if self.slots.len() >= RING_SLOTS {
                return None;
            }
            self.grow();
        }
        let tail = self.position(self.len);
        Some(&mut self.slots[tail].bytes)
    }

    /// Queues the first `length` bytes of the buffer [`Self::vacant`] gave.
    pub(crate) fn commit(&mut self, destination: SocketAddr, length: usize) {
        debug_assert!(self.len < self.slots.len() && length <= SLOT_BYTES);
        let tail = self.position(self.len);
        let slot = &mut self.slots[tail];
        slot.destination = destination;
        slot.length = length as u16;
        self.len += 1;
    }

    /// The oldest queued packet; its buffer stays valid until the next
    /// mutation.
    pub(crate) fn pop(&mut self) -> Option<(SocketAddr, &[u8])> {
        if self.len == 0 {
            return None;
        }
        let head = self.head;
        self.head = self.position(1);
        self.len -= 1;
        let slot = &self.slots[head];
        Some((slot.destination, &slot.bytes[..usize::from(slot.length)]))
    }

    /// Drops everything queued.
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }

    /// Bytes of the buffers allocated so far.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }

    /// The index `offset` places after the head (a comparison rather than
    /// `%`: the length is not a constant, and a division costs more than
    /// the rest of a push).
    fn position(&self, offset: usize) -> usize {
        let position = self.head + offset;
        if position >= self.slots.len() {
            position - self.slots.len()
        } else {
            position
        }
    }

    /// Doubles the buffers, up to [`RING_SLOTS`], keeping the queued
    /// packets in order.
    fn grow(&mut self) {
        let grown = (self.slots.len() * 2).clamp(INITIAL_SLOTS, RING_SLOTS);
        self.slots.rotate_left(self.head);
        self.head = 0;
        self.slots.reserve_exact(grown - self.slots.len());
        self.slots.resize(grown, EMPTY_SLOT);
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
        assert_eq!(ring.slots.len(), RING_SLOTS);
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

    #[test]
    fn grows_only_when_more_than_the_initial_slots_wait_and_keeps_the_order() {
        let mut ring = TransmitRing::new();
        let to = SocketAddr::from(([192, 0, 2, 1], 4000));
        let allocated = ring.heap_bytes();
        // Drained after every packet: the initial buffers carry it all.
        for index in 0..100u8 {
            ring.vacant().expect("room")[0] = index;
            ring.commit(to, 1);
            assert_eq!(ring.pop().map(|(_, bytes)| bytes[0]), Some(index));
        }
        assert_eq!(ring.heap_bytes(), allocated);
        assert_eq!(ring.slots.len(), INITIAL_SLOTS);
        // Wrapped around (head inside the ring), then more than fits.
        ring.vacant().expect("room")[0] = 200;
        ring.commit(to, 1);
        ring.vacant().expect("room")[0] = 201;
        ring.commit(to, 1);
        ring.pop();
        let mut expected = vec![201u8];
        for index in 0..10u8 {
            ring.vacant().expect("room")[0] = index;
            ring.commit(to, 1);
            expected.push(index);
        }
        assert_eq!(ring.slots.len(), 16);
        let popped: Vec<u8> =
            std::iter::from_fn(|| ring.pop().map(|(_, bytes)| bytes[0])).collect();
        assert_eq!(popped, expected);
    }
}
