//! The relay fast path (DESIGN.md principle 3): a two-party bridge with
//! nothing listening moves packets between its legs without decoding.
//! Each packet is re-stamped into the receiving leg's stream (our SSRC,
//! continuous sequence numbers and timestamps, through [`OutgoingStream`]),
//! its G.711 payload transcoded code by code when the legs negotiated
//! different laws, and telephone-events renumbered to the payload type
//! that leg negotiated.
//!
//! A packet is parsed once, by the receiving leg's
//! [`Channel::handle_datagram_to_relay`], and written once, header and
//! (transcoded) payload straight into the transmit buffer.
//!
//! [`OutgoingStream`]: crate::rtp::OutgoingStream

use std::time::Instant;

use super::{Channel, DropReason, Origin, SLOT_BYTES, State};
use crate::codec::Codec;
use crate::rtp::{PayloadType, RtpHeader, RtpPacket};
use crate::sdp::NegotiatedMedia;

/// How a leg's packets are numbered, for telling its audio from its
/// telephone-events and relaying them to another leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayFormat {
    /// The leg's codec.
    pub codec: Codec,
    /// The payload types its audio may arrive with: the negotiated one,
    /// and the one we offered (a peer answering our offer with another
    /// number still sends ours, RFC 3264 §6.1).
    pub payload_types: [PayloadType; 2],
    /// Likewise for its telephone-events, if negotiated.
    pub telephone_events: [Option<PayloadType>; 2],
    /// The RTP clock of its telephone-events (their durations count it).
    pub telephone_event_clock_rate: u32,
}

impl RelayFormat {
    /// The format of a leg that negotiated `media`.
    pub fn of(media: &NegotiatedMedia) -> Self {
        Self {
            codec: media.codec,
            payload_types: [media.payload_type, media.receive_payload_type],
            telephone_events: [media.telephone_event, media.receive_telephone_event],
            telephone_event_clock_rate: media.telephone_event_clock_rate,
        }
    }

    /// Whether `payload_type` carries the leg's audio: a negotiated number,
    /// or the codec's static one (which no peer uses for anything else).
    pub fn is_audio(&self, payload_type: PayloadType) -> bool {
        self.payload_types.contains(&payload_type)
            || (self.codec.has_static_payload_type() && payload_type == self.codec.payload_type())
    }

    /// Whether `payload_type` carries the leg's telephone-events.
    pub fn is_telephone_event(&self, payload_type: PayloadType) -> bool {
        self.telephone_events.contains(&Some(payload_type))
    }
}

/// The longest telephone-event payload rescaled between event clocks:
/// a few 4-byte events (RFC 4733 §2.3 allows several in one packet).
const MAX_EVENT_PAYLOAD: usize = 16;

/// A packet another leg received, as [`Channel::handle_datagram_to_relay`]
/// parsed it: what [`Channel::relay`] needs, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayPacket<'a> {
    /// Its fixed header, as received.
    pub header: RtpHeader,
    /// Its payload, without CSRCs, header extension or padding.
    pub payload: &'a [u8],
    /// How the leg that received it numbers its packets.
    pub from: RelayFormat,
}

impl<'a> RelayPacket<'a> {
    /// The relay view of a parsed packet of a leg numbered as `from`.
    pub fn new(packet: &RtpPacket<'a>, from: RelayFormat) -> Self {
        Self {
            header: packet.header(),
            payload: packet.payload(),
            from,
        }
    }
}

impl Channel {
    /// Relays a packet `packet` of another leg, received at `now`, into
    /// our stream without decoding: our SSRC and numbering, audio
    /// transcoded between µ-law and A-law when the legs' codecs differ,
    /// telephone-events renumbered to our payload type. Same as
    /// [`Self::relay`] with a packet parsed by the caller.
    pub fn relay_from(
        &mut self,
        now: Instant,
        packet: &RtpPacket<'_>,
        from: RelayFormat,
    ) -> Result<(), DropReason> {
        self.relay(now, &RelayPacket::new(packet, from))
    }

    /// Relays `packet`, which the other leg received at `now` and returned
    /// from [`Self::handle_datagram_to_relay`], into our stream; see
    /// [`Self::relay_from`].
    pub fn relay(&mut self, now: Instant, packet: &RelayPacket<'_>) -> Result<(), DropReason> {
        let RelayPacket {
            header,
            payload,
            from,
        } = *packet;
        let media = match &self.state {
            State::Negotiated(media) => media,
            State::AwaitingRemote => return Err(DropReason::NotNegotiated),
            State::Closed => return Err(DropReason::Closed),
        };
        if !media.direction.sends() {
            return Err(DropReason::Direction);
        }
        if self.outgoing_event.is_some() {
            return Err(DropReason::TelephoneEventInProgress);
        }
        // An event's duration counts its clock: between legs whose event
        // clocks differ (48 kHz Opus events, 8 kHz ones) it is rescaled.
        let mut rescaled = [0u8; MAX_EVENT_PAYLOAD];
        let mut payload = payload;
        let (payload_type, transcode) = if from.is_telephone_event(header.payload_type) {
            let Some(ours) = media.telephone_event else {
                return Err(DropReason::UnknownPayloadType);
            };
            if from.telephone_event_clock_rate != media.telephone_event_clock_rate {
                if payload.len() > MAX_EVENT_PAYLOAD || payload.len() % 4 != 0 {
                    return Err(DropReason::Malformed);
                }
                let rescaled = &mut rescaled[..payload.len()];
                rescaled.copy_from_slice(payload);
                for event in rescaled.chunks_exact_mut(4) {
                    let duration = u64::from(u16::from_be_bytes([event[2], event[3]]));
                    let duration = duration * u64::from(media.telephone_event_clock_rate)
                        / u64::from(from.telephone_event_clock_rate.max(1));
                    let duration = u16::try_from(duration).unwrap_or(u16::MAX);
                    event[2..4].copy_from_slice(&duration.to_be_bytes());
                }
                payload = rescaled;
            }
            (ours, None)
        } else if from.is_audio(header.payload_type) {
            if !from.codec.relays_to(media.codec) {
                // G.722 to or from G.711 needs decoding: a mix, not a relay.
                return Err(DropReason::NotRelayable);
            }
            (media.payload_type, Some((from.codec, media.codec)))
        } else {
            return Err(DropReason::UnknownPayloadType);
        };
        let Some(destination) = self.latching.remote() else {
            return Err(DropReason::NoRemote);
        };
        if RtpHeader::LEN + payload.len() > SLOT_BYTES {
            return Err(DropReason::TooLarge);
        }
        self.switch_origin(Origin::Relay);
        let header = RtpHeader {
            payload_type,
            ..header
        };
        // Written without CSRCs or extension, as a packet of ours.
        let length = self.write_packet(now, header, payload, transcode)?;
        self.ring.commit(destination, length);
        self.stats.relayed += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::{DigitSource, ReceiveMode};
    use super::*;
    use crate::audio::SILENCE;
    use crate::codec::g711;
    use crate::dtmf::Digit;
    use crate::rtp::{RtpTimestamp, SequenceNumber, Ssrc};
    use crate::sdp::Direction;
    use crate::test_epoch;
    use std::time::Duration;

    #[test]
    fn relays_pcmu_to_pcma_with_digits_without_decoding() {
        // phone X (PCMU) ── leg A (PCMU) ══ relay ══ leg B (PCMA) ── phone Y (PCMA)
        let start = test_epoch();
        let (x_address, y_address) = (address(10, 6000), address(20, 7000));
        let mut x = channel(start, 1, false);
        let mut a = channel(start, 2, false);
        let mut b = channel(start, 3, false);
        let mut y = channel(start, 4, false);
        x.set_remote(start, media(A_ADDRESS, Codec::Pcmu, Direction::SendRecv));
        a.set_remote(start, media(x_address, Codec::Pcmu, Direction::SendRecv));
        let mut toward_y = media(y_address, Codec::Pcma, Direction::SendRecv);
        toward_y.telephone_event = Some(PayloadType::new(96).unwrap());
        b.set_remote(start, toward_y);
        let mut toward_b = media(B_ADDRESS, Codec::Pcma, Direction::SendRecv);
        toward_b.telephone_event = Some(PayloadType::new(96).unwrap());
        y.set_remote(start, toward_b);
        a.set_receive_mode(ReceiveMode::Relay);
        let from_a = a.relay_format().unwrap();

        let mut played = Vec::new();
        let mut on_the_wire = Vec::new();
        let mut events_at_y = Vec::new();
        let mut now = start;
        for index in 0..80 {
            now += TICK;
            if index == 30 {
                x.send_digit(now, Digit::Nine, Duration::from_millis(120))
                    .unwrap();
            }
            x.handle_timeout(now);
            x.push_frame(now, &sawtooth(index));
            for (_, bytes) in drain(&mut x) {
                if a.handle_datagram(now, x_address, &bytes).is_relayable() {
                    let packet = RtpPacket::parse(&bytes).unwrap();
                    b.relay_from(now, &packet, from_a).unwrap();
                }
            }
            for (destination, bytes) in drain(&mut b) {
                assert_eq!(destination, y_address);
                on_the_wire.push(RtpPacket::parse(&bytes).unwrap().header());
                y.handle_datagram(now, B_ADDRESS, &bytes);
            }
            y.handle_timeout(now);
            played.push(*y.tick(now));
            events_at_y.extend(events(&mut y));
        }
        assert_eq!(a.tick(now), &SILENCE, "the relaying leg decodes nothing");
        assert!(on_the_wire.iter().all(|header| header.ssrc == Ssrc::new(3)));
        assert!(on_the_wire.iter().all(|header| {
            [PayloadType::PCMA, PayloadType::new(96).unwrap()].contains(&header.payload_type)
        }));
        for pair in on_the_wire.windows(2) {
            assert_eq!(
                pair[1].sequence_number,
                pair[0].sequence_number.wrapping_add(1)
            );
        }
        // The audio before the digit, transcoded code by code.
        let first = played
            .iter()
            .position(|frame| *frame != SILENCE)
            .expect("audio arrives");
        for (index, frame) in played[first..first + 20].iter().enumerate() {
            let expected = sawtooth(index)
                .map(|sample| g711::alaw_decode(g711::ulaw_to_alaw(g711::ulaw_encode(sample))));
            assert_eq!(*frame, expected, "frame {index}");
        }
        assert_eq!(
            digits(&events_at_y),
            [(
                Digit::Nine,
                Duration::from_millis(120),
                DigitSource::Rfc4733
            )]
        );
        assert_eq!(b.stats().relayed, on_the_wire.len() as u64);
    }

    #[test]
    fn the_packet_parsed_once_relays_exactly_as_a_reparsed_one() {
        // Two identical bridges, one fed through relay_from (the caller
        // parses again), one through handle_datagram_to_relay + relay.
        let start = test_epoch();
        let x_address = address(10, 6000);
        let bridge = || {
            let mut a = channel(start, 2, false);
            let mut b = channel(start, 3, false);
            a.set_remote(start, media(x_address, Codec::Pcmu, Direction::SendRecv));
            let mut toward_y = media(address(20, 7000), Codec::Pcma, Direction::SendRecv);
            toward_y.telephone_event = Some(PayloadType::new(96).unwrap());
            b.set_remote(start, toward_y);
            a.set_receive_mode(ReceiveMode::Relay);
            (a, b)
        };
        let (mut a1, mut b1) = bridge();
        let (mut a2, mut b2) = bridge();
        let mut x = channel(start, 1, false);
        x.set_remote(start, media(A_ADDRESS, Codec::Pcmu, Direction::SendRecv));
        let mut now = start;
        let mut relayed = 0;
        for index in 0..60 {
            now += TICK;
            if index == 20 {
                x.send_digit(now, Digit::Four, Duration::from_millis(100))
                    .unwrap();
            }
            x.handle_timeout(now);
            x.push_frame(now, &sawtooth(index));
            for (_, bytes) in drain(&mut x) {
                let verdict = a1.handle_datagram(now, x_address, &bytes);
                if verdict.is_relayable() {
                    let packet = RtpPacket::parse(&bytes).unwrap();
                    b1.relay_from(now, &packet, a1.relay_format().unwrap())
                        .unwrap();
                }
                let (verdict_once, packet) = a2.handle_datagram_to_relay(now, x_address, &bytes);
                assert_eq!(verdict_once, verdict);
                assert_eq!(packet.is_some(), verdict.is_relayable());
                if let Some(packet) = packet {
                    b2.relay(now, &packet).unwrap();
                    relayed += 1;
                }
            }
            assert_eq!(drain(&mut b1), drain(&mut b2));
        }
        assert!(relayed > 60, "audio and telephone-events: {relayed}");
        assert_eq!(b1.stats(), b2.stats());
        assert_eq!(a1.stats(), a2.stats());
    }

    /// Two Opus legs, one with 48 kHz events and one with 8 kHz ones (as
    /// baresip answers): a digit's duration is rescaled across the relay.
    #[cfg(feature = "opus")]
    #[test]
    fn event_durations_are_rescaled_between_event_clocks() {
        let now = test_epoch();
        let mut a = channel(now, 0xa, false);
        a.set_remote(now, media(A_ADDRESS, Codec::Opus, Direction::SendRecv));
        let mut b = channel(now, 0xb, false);
        let mut eight_khz_events = media(B_ADDRESS, Codec::Opus, Direction::SendRecv);
        eight_khz_events.telephone_event_clock_rate = 8000;
        b.set_remote(now, eight_khz_events);
        // Digit 5, end bit, 100 ms at 48 kHz.
        let event = rtp(
            RtpHeader {
                marker: true,
                payload_type: PayloadType::TELEPHONE_EVENT_DEFAULT,
                sequence_number: SequenceNumber::new(7),
                timestamp: RtpTimestamp::new(96_000),
                ssrc: Ssrc::new(0x5555),
            },
            &[5, 0x80 | 10, 0x12, 0xC0],
        );
        let (received, relayable) = a.handle_datagram_to_relay(now, A_ADDRESS, &event);
        assert_eq!(received, super::super::Received::TelephoneEvent);
        b.relay(now, &relayable.unwrap()).unwrap();
        let out = drain(&mut b);
        let packet = RtpPacket::parse(&out[0].1).unwrap();
        assert_eq!(packet.payload(), &[5, 0x80 | 10, 0x03, 0x20], "800 ticks");
    }

    #[test]
    fn switching_from_our_frames_to_a_relay_keeps_the_stream_continuous() {
        let now = test_epoch();
        let mut b = channel(now, 0xb, false);
        b.set_remote(now, media(A_ADDRESS, Codec::Pcmu, Direction::SendRecv));
        let other_leg = RelayFormat {
            codec: Codec::Pcmu,
            payload_types: [PayloadType::PCMU; 2],
            telephone_events: [None; 2],
            telephone_event_clock_rate: 8000,
        };
        let mut headers = Vec::new();
        for index in 0..3u32 {
            b.push_frame(now + TICK * index, &sawtooth(0));
        }
        for index in 3..6u32 {
            let relayed = rtp(
                RtpHeader {
                    marker: false,
                    payload_type: PayloadType::PCMU,
                    sequence_number: SequenceNumber::new(60_000 + index as u16),
                    timestamp: RtpTimestamp::new(1_000_000 + 160 * index),
                    ssrc: Ssrc::new(0x1234),
                },
                &[0x55; 160],
            );
            let packet = RtpPacket::parse(&relayed).unwrap();
            b.relay_from(now + TICK * index, &packet, other_leg)
                .unwrap();
        }
        for (_, bytes) in drain(&mut b) {
            headers.push(RtpPacket::parse(&bytes).unwrap().header());
        }
        assert_eq!(headers.len(), 6);
        assert!(headers.iter().all(|header| header.ssrc == Ssrc::new(0xb)));
        for pair in headers.windows(2) {
            assert_eq!(
                pair[1].sequence_number,
                pair[0].sequence_number.wrapping_add(1)
            );
            assert_eq!(pair[1].timestamp.wrapping_sub(pair[0].timestamp), 160);
        }
        assert_eq!(
            headers
                .iter()
                .map(|header| header.marker)
                .collect::<Vec<_>>(),
            [true, false, false, true, false, false]
        );
    }
}
