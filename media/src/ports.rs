//! RTP/RTCP port pairs over a configured range (RFC 3550 §11: RTP on an
//! even port, RTCP on the next odd one). Bookkeeping only: binding the
//! sockets is the driver's business, and it gives a pair back when a bind
//! fails or a call ends.
//!
//! Allocation and release are O(1): free pairs wait in a FIFO queue, so a
//! released pair goes to the back and is reused as late as possible — late
//! packets of the previous call then do not land in the next one.

use std::collections::VecDeque;
use std::fmt;

/// An even RTP port and the RTCP port right above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtpPortPair {
    rtp: u16,
}

impl RtpPortPair {
    /// The even RTP port.
    pub const fn rtp(self) -> u16 {
        self.rtp
    }

    /// The RTCP port, `rtp + 1`.
    pub const fn rtcp(self) -> u16 {
        self.rtp + 1
    }
}

impl fmt::Display for RtpPortPair {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.rtp(), self.rtcp())
    }
}

/// Errors of the port allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The configured range holds no even/odd pair above port 0.
    #[error("port range {low}-{high} holds no RTP/RTCP pair")]
    EmptyRange {
        /// Configured lowest port.
        low: u16,
        /// Configured highest port.
        high: u16,
    },
    /// Every pair is in use.
    #[error("all {capacity} RTP port pairs are in use")]
    Exhausted {
        /// Number of pairs in the range.
        capacity: usize,
    },
    /// The pair given back is not from this range or not allocated.
    #[error("port pair {0} is not allocated here")]
    NotAllocated(RtpPortPair),
}

/// Hands out RTP/RTCP port pairs from `low..=high`.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    /// RTP port of pair index 0.
    first_rtp: u16,
    free: VecDeque<u16>,
    /// Indexed by pair index.
    allocated: Vec<bool>,
}

impl PortAllocator {
    /// An allocator over `low..=high`, for instance `16384..=32767`. Pairs
    /// start at the first even port ≥ `low` (never port 0) and must fit
    /// entirely in the range.
    pub fn new(low: u16, high: u16) -> Result<Self, PortError> {
        let empty = PortError::EmptyRange { low, high };
        let first_rtp = low.max(2).checked_next_multiple_of(2).ok_or(empty)?;
        if first_rtp >= high {
            return Err(empty);
        }
        let capacity = usize::from((high - first_rtp).div_ceil(2));
        Ok(Self {
            first_rtp,
            free: (0..capacity)
                .map(|index| u16::try_from(index).expect("fewer than 2^15 pairs in a u16 range"))
                .collect(),
            allocated: vec![false; capacity],
        })
    }

    /// Takes the free pair that has been free the longest.
    pub fn allocate(&mut self) -> Result<RtpPortPair, PortError> {
        let index = self.free.pop_front().ok_or(PortError::Exhausted {
            capacity: self.capacity(),
        })?;
        self.allocated[usize::from(index)] = true;
        Ok(self.pair(index))
    }

    /// Gives `pair` back; it will be handed out again after every pair that
    /// is free now.
    pub fn release(&mut self, pair: RtpPortPair) -> Result<(), PortError> {
        let index = self.index_of(pair).ok_or(PortError::NotAllocated(pair))?;
        let slot = &mut self.allocated[usize::from(index)];
        if !*slot {
            return Err(PortError::NotAllocated(pair));
        }
        *slot = false;
        self.free.push_back(index);
        Ok(())
    }

    /// Number of pairs in the range.
    pub fn capacity(&self) -> usize {
        self.allocated.len()
    }

    /// Number of pairs free now.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    fn pair(&self, index: u16) -> RtpPortPair {
        RtpPortPair {
            rtp: self.first_rtp + 2 * index,
        }
    }

    fn index_of(&self, pair: RtpPortPair) -> Option<u16> {
        let offset = pair.rtp.checked_sub(self.first_rtp)?;
        let index = offset / 2;
        (offset % 2 == 0 && usize::from(index) < self.capacity()).then_some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn pairs_are_even_rtp_with_rtcp_above() {
        let mut ports = PortAllocator::new(10_001, 10_006).unwrap();
        assert_eq!(ports.capacity(), 2, "10002/10003 and 10004/10005");
        let first = ports.allocate().unwrap();
        assert_eq!((first.rtp(), first.rtcp()), (10_002, 10_003));
        assert_eq!(ports.allocate().unwrap().rtp(), 10_004);
        assert_eq!(ports.allocate(), Err(PortError::Exhausted { capacity: 2 }));
        assert_eq!(first.to_string(), "10002/10003");
    }

    #[test]
    fn released_pairs_are_reused_last() {
        let mut ports = PortAllocator::new(20_000, 20_005).unwrap();
        let a = ports.allocate().unwrap();
        ports.release(a).unwrap();
        assert_eq!(ports.allocate().unwrap().rtp(), 20_002);
        assert_eq!(ports.allocate().unwrap().rtp(), 20_004);
        assert_eq!(ports.allocate().unwrap(), a);
        assert_eq!(ports.available(), 0);
    }

    #[test]
    fn rejects_empty_ranges() {
        assert!(matches!(
            PortAllocator::new(30_000, 30_000),
            Err(PortError::EmptyRange { .. })
        ));
        assert!(matches!(
            PortAllocator::new(30_001, 30_002),
            Err(PortError::EmptyRange { .. })
        ));
        assert!(matches!(
            PortAllocator::new(40_000, 30_000),
            Err(PortError::EmptyRange { .. })
        ));
        assert!(matches!(
            PortAllocator::new(u16::MAX, u16::MAX),
            Err(PortError::EmptyRange { .. })
        ));
        // Port 0 is never handed out.
        let mut ports = PortAllocator::new(0, 3).unwrap();
        assert_eq!(ports.allocate().unwrap().rtp(), 2);
        // The full range works and ends with 65534/65535.
        let full = PortAllocator::new(0, u16::MAX).unwrap();
        assert_eq!(full.capacity(), 32_767);
    }

    #[test]
    fn rejects_double_and_foreign_release() {
        let mut ports = PortAllocator::new(1000, 1003).unwrap();
        let pair = ports.allocate().unwrap();
        ports.release(pair).unwrap();
        assert_eq!(ports.release(pair), Err(PortError::NotAllocated(pair)));
        let foreign = PortAllocator::new(2000, 2001).unwrap().allocate().unwrap();
        assert_eq!(
            ports.release(foreign),
            Err(PortError::NotAllocated(foreign))
        );
        assert_eq!(ports.available(), 2);
    }

    proptest! {
        #[test]
        fn never_hands_out_a_pair_twice(
            low in 1024u16..2048,
            width in 0u16..64,
            operations in proptest::collection::vec(any::<bool>(), 0..200),
        ) {
            let high = low + width;
            let Ok(mut ports) = PortAllocator::new(low, high) else {
                prop_assert!(width < 2);
                return Ok(());
            };
            let mut held: Vec<RtpPortPair> = Vec::new();
            for allocate in operations {
                if allocate || held.is_empty() {
                    match ports.allocate() {
                        Ok(pair) => {
                            prop_assert_eq!(pair.rtp() % 2, 0);
                            prop_assert!(pair.rtp() >= low && pair.rtcp() <= high);
                            prop_assert!(!held.contains(&pair));
                            held.push(pair);
                        }
                        Err(error) => {
                            prop_assert_eq!(held.len(), ports.capacity());
                            prop_assert_eq!(error, PortError::Exhausted { capacity: ports.capacity() });
                        }
                    }
                } else {
                    let pair = held.swap_remove(held.len() / 2);
                    prop_assert_eq!(ports.release(pair), Ok(()));
                }
                prop_assert_eq!(held.len() + ports.available(), ports.capacity());
            }
            let unique: HashSet<_> = held.iter().collect();
            prop_assert_eq!(unique.len(), held.len());
        }
    }
}
