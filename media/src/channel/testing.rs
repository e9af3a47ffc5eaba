//! The channel's test harness: builders, a simulated network with seeded
//! loss and reordering, and two channels wired back to back.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use super::outgoing::{FRAME_DURATION, split_mix};
use super::{Channel, ChannelConfig, ChannelEvent, DigitSource};
use crate::audio::{FRAME_SAMPLES, Frame};
use crate::codec::{Codec, g711};
use crate::dtmf::Digit;
use crate::rtp::{PayloadType, RtpHeader, RtpPacket, Ssrc, is_rtcp};
use crate::sdp::{Direction, NegotiatedMedia, Ptime};
use crate::test_epoch;

pub(super) const TICK: Duration = FRAME_DURATION;

pub(super) fn address(last: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, last], port))
}

pub(crate) fn media(remote: SocketAddr, codec: Codec, direction: Direction) -> NegotiatedMedia {
    NegotiatedMedia {
        media_index: 0,
        remote_rtp: remote,
        remote_rtcp: remote,
        codec,
        payload_type: codec.payload_type(),
        receive_payload_type: codec.payload_type(),
        telephone_event: Some(PayloadType::TELEPHONE_EVENT_DEFAULT),
        receive_telephone_event: Some(PayloadType::TELEPHONE_EVENT_DEFAULT),
        telephone_event_clock_rate: codec.clock_rate(),
        direction,
        ptime: Ptime::DEFAULT,
        rtcp_mux: true,
    }
}

pub(super) fn channel(now: Instant, ssrc: u32, inband_dtmf: bool) -> Channel {
    let mut config = ChannelConfig::new(
        Ssrc::new(ssrc),
        format!("leg{ssrc}@switchboard"),
        u64::from(ssrc),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    );
    config.inband_dtmf = inband_dtmf;
    Channel::new(now, config)
}

pub(super) use crate::tone_power as power;

/// A test sawtooth, different in every frame.
pub(super) fn sawtooth(frame_index: usize) -> Frame {
    std::array::from_fn(|sample| {
        let n = (frame_index * FRAME_SAMPLES + sample) as i32;
        ((n * 97) % 16_000 - 8_000) as i16
    })
}

pub(super) fn through_ulaw(frame: &Frame) -> Frame {
    frame.map(|sample| g711::ulaw_decode(g711::ulaw_encode(sample)))
}

pub(super) fn events(channel: &mut Channel) -> Vec<ChannelEvent> {
    std::iter::from_fn(|| channel.poll_event()).collect()
}

pub(super) fn digits(events: &[ChannelEvent]) -> Vec<(Digit, Duration, DigitSource)> {
    events
        .iter()
        .filter_map(|event| match event {
            ChannelEvent::DigitReceived {
                digit,
                duration,
                source,
            } => Some((*digit, *duration, *source)),
            _ => None,
        })
        .collect()
}

pub(super) fn rtp(header: RtpHeader, payload: &[u8]) -> Vec<u8> {
    let mut buffer = vec![0; RtpHeader::LEN + payload.len()];
    let length = header.write(payload, &mut buffer).unwrap();
    buffer.truncate(length);
    buffer
}

/// Datagrams a channel queued, copied out.
pub(super) fn drain(channel: &mut Channel) -> Vec<(SocketAddr, Vec<u8>)> {
    std::iter::from_fn(|| {
        channel
            .poll_transmit()
            .map(|transmit| (transmit.destination, transmit.bytes.to_vec()))
    })
    .collect()
}

/// One direction of the simulated network: seeded loss and reordering
/// (a packet held back and delivered after the next one).
pub(super) struct Link {
    pub(super) rng: u64,
    pub(super) loss_percent: u64,
    pub(super) reorder_percent: u64,
    pub(super) held: Option<Vec<u8>>,
    /// Headers of the RTP packets delivered, in order.
    pub(super) delivered: Vec<RtpHeader>,
}

impl Link {
    pub(super) fn new(seed: u64, loss_percent: u64, reorder_percent: u64) -> Self {
        Self {
            rng: seed,
            loss_percent,
            reorder_percent,
            held: None,
            delivered: Vec::new(),
        }
    }

    pub(super) fn roll(&mut self) -> u64 {
        self.rng = split_mix(self.rng);
        self.rng % 100
    }

    /// Moves everything `from` (at `from_address`) queued to `to`.
    pub(super) fn carry(
        &mut self,
        now: Instant,
        from: &mut Channel,
        from_address: SocketAddr,
        to: &mut Channel,
    ) {
        for (_, bytes) in drain(from) {
            let rtcp = is_rtcp(&bytes);
            if !rtcp && self.roll() < self.loss_percent {
                continue;
            }
            if !rtcp && self.held.is_none() && self.roll() < self.reorder_percent {
                self.held = Some(bytes);
                continue;
            }
            self.deliver(now, from_address, to, &bytes);
            if let Some(held) = self.held.take() {
                self.deliver(now, from_address, to, &held);
            }
        }
    }

    pub(super) fn deliver(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: &mut Channel,
        bytes: &[u8],
    ) {
        if let Ok(packet) = RtpPacket::parse(bytes)
            && !is_rtcp(bytes)
        {
            self.delivered.push(packet.header());
        }
        to.handle_datagram(now, from, bytes);
    }
}

/// Two channels wired back to back: A at `A_ADDRESS`, B at `B_ADDRESS`.
pub(super) struct Call {
    pub(super) now: Instant,
    pub(super) a: Channel,
    pub(super) b: Channel,
    pub(super) a_to_b: Link,
    pub(super) b_to_a: Link,
}

pub(super) const A_ADDRESS: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 4000);
pub(super) const B_ADDRESS: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 5000);

impl Call {
    pub(super) fn new(codec: Codec, b_inband: bool) -> Self {
        let now = test_epoch();
        let mut a = channel(now, 0xa, false);
        let mut b = channel(now, 0xb, b_inband);
        a.set_remote(now, media(B_ADDRESS, codec, Direction::SendRecv));
        b.set_remote(now, media(A_ADDRESS, codec, Direction::SendRecv));
        Self {
            now,
            a,
            b,
            a_to_b: Link::new(1, 0, 0),
            b_to_a: Link::new(2, 0, 0),
        }
    }

    /// One 20 ms tick: timers, frames in, the network, frames out.
    pub(super) fn tick(
        &mut self,
        from_a: Option<&Frame>,
        from_b: Option<&Frame>,
    ) -> (Frame, Frame) {
        self.now += TICK;
        let now = self.now;
        self.a.handle_timeout(now);
        self.b.handle_timeout(now);
        if let Some(frame) = from_a {
            self.a.push_frame(now, frame);
        }
        if let Some(frame) = from_b {
            self.b.push_frame(now, frame);
        }
        self.a_to_b.carry(now, &mut self.a, A_ADDRESS, &mut self.b);
        self.b_to_a.carry(now, &mut self.b, B_ADDRESS, &mut self.a);
        (*self.a.tick(now), *self.b.tick(now))
    }
}
