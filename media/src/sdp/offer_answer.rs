//! The offer/answer model (RFC 3264) for one audio stream (G.711, G.722,
//! Opus) with RFC 4733 telephone-events.
//!
//! ```text
//!  the peer offers (INVITE with SDP)        we offer (we call out, or a late
//!                                           offer: INVITE without SDP)
//!  peer ──── offer ───► answer()            offer() ──── offer ───► peer
//!  peer ◄─── answer ───                     accept_answer() ◄─ answer ─ peer
//!           NegotiatedMedia                          NegotiatedMedia
//! ```
//!
//! Rules we follow, by RFC 3264 section:
//!
//! - §6: the answer has exactly as many `m=` lines as the offer. We accept
//!   the first plain-RTP audio stream with a codec in common and reject
//!   every other stream (video, T.38, a second audio) with port 0.
//! - §6.1: we answer with one codec — the first in the *offer's* order that
//!   we support — plus telephone-event if offered (on the codec's clock,
//!   or failing that at 8000 Hz), keeping the offerer's payload type
//!   numbers; the direction mirrors the offer's. Opus is answered with
//!   `a=ptime:20` and `a=maxptime:20`, the packets we can play.
//! - §8: the `o=` session id stays, the version goes up with each new offer
//!   or answer ([`LocalMedia::next_version`]).
//! - §8.4: hold is `a=sendonly` / `a=inactive`; the RFC 2543 `c=0.0.0.0`
//!   (or `::`) is read as "the peer does not receive".
//!
//! Payload type numbers in a description are the ones its author expects
//! to *receive* (RFC 3264 §5.1): so [`NegotiatedMedia`] carries the peer's
//! numbers, the ones to put in the RTP we send.

use std::net::{IpAddr, SocketAddr};

use super::media_description::{
    Format, connection_address, direction, formats, has_rtcp_mux, is_rtp_audio, ptime,
    rtcp_attribute,
};
use super::{Direction, Ptime, SessionDescription};
use crate::codec::Codec;
use crate::rtp::PayloadType;

/// The RFC 4733 events we receive: DTMF 0-9, *, #, A-D (0-15) and flash (16).
const TELEPHONE_EVENTS: &str = "0-16";

/// The payload types our offers may carry telephone-events on at 48000
/// Hz (for Opus), beside [`LocalMedia::telephone_event`]'s 8000 Hz ones:
/// the first not taken by another format of the offer.
const TELEPHONE_EVENT_48K: [u8; 3] = [110, 126, 127];

/// The `o=` line's session id and version (RFC 8866 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionOrigin {
    /// Constant for the life of the session.
    pub session_id: u64,
    /// Increases with each new offer or answer we make in the session.
    pub session_version: u64,
}

impl SessionOrigin {
    /// An origin for a new session. RFC 8866 §5.2 suggests an NTP timestamp
    /// for both values; any unique number does.
    pub const fn new(session_id: u64, session_version: u64) -> Self {
        Self {
            session_id,
            session_version,
        }
    }

    /// The same session, one version later.
    #[must_use]
    pub const fn next_version(self) -> Self {
        Self {
            session_id: self.session_id,
            session_version: self.session_version.wrapping_add(1),
        }
    }
}

/// Our codecs in order of preference: never empty, no duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodecPreference(Vec<Codec>);

impl CodecPreference {
    /// The codecs of `codecs` in their order, duplicates dropped; `None` if
    /// there are none.
    pub fn new(codecs: &[Codec]) -> Option<Self> {
        let mut unique = Vec::with_capacity(codecs.len());
        for codec in codecs {
            if !unique.contains(codec) {
                unique.push(*codec);
            }
        }
        (!unique.is_empty()).then_some(Self(unique))
    }

    /// The codecs, most preferred first.
    pub fn iter(&self) -> impl Iterator<Item = Codec> + '_ {
        self.0.iter().copied()
    }

    /// Whether we support `codec`.
    pub fn contains(&self, codec: Codec) -> bool {
        self.0.contains(&codec)
    }
}

impl Default for CodecPreference {
    /// Every codec, in [`Codec::ALL`]'s order (G.711 first).
    fn default() -> Self {
        Self(Codec::ALL.to_vec())
    }
}

/// What we can do and where we receive: the input of every offer and
/// answer we make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address peers send RTP to (written in `c=` and `o=`).
    pub address: IpAddr,
    /// Our RTP port; RTCP is on the next port unless multiplexed.
    pub rtp_port: u16,
    /// The `o=` line's session id and version.
    pub origin: SessionOrigin,
    /// Supported codecs, most preferred first (the order of our offers).
    pub codecs: CodecPreference,
    /// Whether we take RFC 4733 telephone-events, and the payload type we
    /// offer them on at 8000 Hz (answers keep the offerer's number; the
    /// 48000 Hz ones offered with Opus go on 110, or 126 or 127 if taken).
    pub telephone_event: Option<PayloadType>,
    /// The packetization time we ask for when the peer does not say.
    pub ptime: Ptime,
    /// Whether we offer and accept RTP/RTCP multiplexing (RFC 5761).
    pub rtcp_mux: bool,
}

impl LocalMedia {
    /// Every codec ([`CodecPreference::default`]), telephone-event on 101,
    /// 20 ms, rtcp-mux accepted.
    pub fn new(address: IpAddr, rtp_port: u16, origin: SessionOrigin) -> Self {
        Self {
            address,
            rtp_port,
            origin,
            codecs: CodecPreference::default(),
            telephone_event: Some(PayloadType::TELEPHONE_EVENT_DEFAULT),
            ptime: Ptime::DEFAULT,
            rtcp_mux: true,
        }
    }

    /// Moves to the next session version: call before each offer or
    /// answer after the first one of the session (RFC 3264 §8).
    pub fn next_version(&mut self) {
        self.origin = self.origin.next_version();
    }
}

/// The outcome of a negotiation: how to send and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Index of the audio `m=` line in the offer and answer.
    pub media_index: usize,
    /// Where to send RTP. The IP is unspecified (`0.0.0.0`) when the peer
    /// holds with an RFC 2543 `c=` line; `direction` then does not send.
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP: `remote_rtp` when multiplexed, else `a=rtcp` or
    /// the next port (RFC 3550 §11).
    pub remote_rtcp: SocketAddr,
    /// The codec both sides use.
    pub codec: Codec,
    /// The payload type to send `codec` with (the peer's number).
    pub payload_type: PayloadType,
    /// The payload type `codec` arrives with: `payload_type` after an
    /// [`answer`] (we keep the offerer's numbers), the number we offered
    /// after [`accept_answer`] (RFC 3264 §6.1: the answerer sends with
    /// the offer's numbers, even if its answer renumbered).
    pub receive_payload_type: PayloadType,
    /// The payload type to send telephone-events with, if both sides do
    /// them.
    pub telephone_event: Option<PayloadType>,
    /// The payload type telephone-events arrive with, as for
    /// `receive_payload_type`.
    pub receive_telephone_event: Option<PayloadType>,
    /// The RTP clock of those telephone-events: the codec's, unless the
    /// peer only does them at another rate.
    pub telephone_event_clock_rate: u32,
    /// Our direction: whether we send and receive on this stream.
    pub direction: Direction,
    /// The packetization time to send with.
    pub ptime: Ptime,
    /// Whether RTCP shares the RTP port (RFC 5761).
    pub rtcp_mux: bool,
}

/// Our answer to an offer, and what it means for media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The SDP to send back.
    pub session_description: SessionDescription,
    /// The negotiated audio stream.
    pub media: NegotiatedMedia,
}

/// Why an offer cannot be answered or an answer not accepted. The SIP layer
/// answers an offer that fails with 488 Not Acceptable Here; an answer
/// cannot be refused, so a call whose answer fails is ended (ACK, then BYE).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// Audio was offered or answered, but in no codec we support.
    #[error("no common audio codec")]
    NoCommonCodec,
    /// No active RTP/AVP audio stream at all (none, port 0, or SRTP only).
    #[error("no usable audio stream")]
    NoAudioStream,
    /// The audio stream has no `c=` line, at media or session level.
    #[error("media {media_index} has no connection address")]
    MissingConnectionAddress {
        /// Index of the `m=` line.
        media_index: usize,
    },
    /// The `c=` address is not an IP address (hostnames are not resolved).
    #[error("media {media_index} has an unusable connection address")]
    InvalidConnectionAddress {
        /// Index of the `m=` line.
        media_index: usize,
        /// The address as written (debug logs only: it is the peer's).
        address: String,
    },
    /// The peer's address is IPv4 and ours IPv6, or the reverse.
    #[error("media {media_index} is in another IP family than ours")]
    AddressFamilyMismatch {
        /// Index of the `m=` line.
        media_index: usize,
    },
    /// The answer does not have one `m=` line per offered one (§6).
    #[error("answer has {answered} media lines for {offered} offered")]
    MediaCountMismatch {
        /// `m=` lines in our offer.
        offered: usize,
        /// `m=` lines in the answer.
        answered: usize,
    },
    /// The answer rejected our audio stream (port 0 or another media).
    #[error("answer rejected the audio stream {media_index}")]
    AudioStreamRejected {
        /// Index of the `m=` line.
        media_index: usize,
    },
}

/// Answers `offer` (RFC 3264 §6), accepting whatever direction it asks for.
pub fn answer(offer: &SessionDescription, local: &LocalMedia) -> Result<Answer, NegotiationError> {
    answer_with_direction(offer, local, Direction::SendRecv)
}

/// Answers `offer`, doing at most `limit`: `SendOnly` while we hold the
/// peer, so that a re-offer of theirs does not take the call off hold.
pub fn answer_with_direction(
    offer: &SessionDescription,
    local: &LocalMedia,
    limit: Direction,
) -> Result<Answer, NegotiationError> {
    let session = offer.inner();
    let mut medias = Vec::with_capacity(session.medias.len());
    let mut negotiated = None;
    let mut saw_audio = false;
    for (media_index, media) in session.medias.iter().enumerate() {
        if negotiated.is_none() && media.port != 0 && is_rtp_audio(media) {
            saw_audio = true;
            let offered = formats(media);
            let codec = offered
                .iter()
                .find_map(|(payload_type, format)| match format {
                    Format::Codec(codec) if local.codecs.contains(*codec) => {
                        Some((*payload_type, *codec))
                    }
                    _ => None,
                });
            if let Some((payload_type, codec)) = codec {
                let telephone_event = local
                    .telephone_event
                    .and_then(|_| telephone_event_for(&offered, codec, |_| true));
                let remote = Remote::read(session, media, media_index, local.address)?;
                let direction = remote.direction.reversed().intersection(limit);
                let ptime = match codec.max_ptime_millis().and_then(Ptime::from_millis) {
                    Some(only) => only,
                    None => ptime(session, media).unwrap_or(local.ptime),
                };
                let rtcp_mux = local.rtcp_mux && has_rtcp_mux(media);
                medias.push(audio_media(
                    local.rtp_port,
                    &media.proto,
                    &[(payload_type, codec)],
                    telephone_event.as_slice(),
                    ptime,
                    rtcp_mux,
                    direction,
                ));
                negotiated = Some(NegotiatedMedia {
                    media_index,
                    remote_rtp: remote.rtp,
                    remote_rtcp: remote.rtcp(rtcp_mux),
                    codec,
                    payload_type,
                    receive_payload_type: payload_type,
                    telephone_event: telephone_event.map(|(payload_type, _)| payload_type),
                    receive_telephone_event: telephone_event.map(|(payload_type, _)| payload_type),
                    telephone_event_clock_rate: telephone_event
                        .map_or(codec.clock_rate(), |(_, clock_rate)| clock_rate),
                    direction,
                    ptime,
                    rtcp_mux,
                });
                continue;
            }
        }
        medias.push(rejected_media(media));
    }
    let media = negotiated.ok_or(if saw_audio {
        NegotiationError::NoCommonCodec
    } else {
        NegotiationError::NoAudioStream
    })?;
    Ok(Answer {
        session_description: session_description(local, medias),
        media,
    })
}

/// Our offer of one audio stream (RFC 3264 §5): every codec we support in
/// our order, telephone-event if we take it, and `direction` — `SendRecv`
/// normally, `SendOnly` to hold the peer, `Inactive` to hold a peer that
/// holds us. Also the offer of a 200 OK to an INVITE without SDP.
pub fn offer(local: &LocalMedia, direction: Direction) -> SessionDescription {
    let codecs: Vec<(PayloadType, Codec)> = local
        .codecs
        .iter()
        .map(|codec| (codec.payload_type(), codec))
        .collect();
    // Telephone-events on the clock of each codec offered, on numbers no
    // other format of the offer has.
    let mut telephone_events: Vec<(PayloadType, u32)> = Vec::with_capacity(2);
    if let Some(payload_type) = local.telephone_event {
        for (_, codec) in &codecs {
            let clock_rate = codec.clock_rate();
            if telephone_events.iter().any(|(_, rate)| *rate == clock_rate) {
                continue;
            }
            let taken = |candidate: &PayloadType| {
                codecs.iter().any(|(taken, _)| taken == candidate)
                    || telephone_events.iter().any(|(taken, _)| taken == candidate)
            };
            let mut candidates = (clock_rate == 8000)
                .then_some(payload_type)
                .into_iter()
                .chain(
                    TELEPHONE_EVENT_48K
                        .into_iter()
                        .filter_map(|number| PayloadType::new(number).ok()),
                );
            if let Some(free) = candidates.find(|candidate| !taken(candidate)) {
                telephone_events.push((free, clock_rate));
            }
        }
    }
    let media = audio_media(
        local.rtp_port,
        "RTP/AVP",
        &codecs,
        &telephone_events,
        local.ptime,
        local.rtcp_mux,
        direction,
    );
    session_description(local, vec![media])
}

/// Reads the peer's answer to our offer `offer_we_sent` (RFC 3264 §7).
pub fn accept_answer(
    offer_we_sent: &SessionDescription,
    answer: &SessionDescription,
) -> Result<NegotiatedMedia, NegotiationError> {
    let ours = offer_we_sent.inner();
    let theirs = answer.inner();
    let (media_index, our_media) = ours
        .medias
        .iter()
        .enumerate()
        .find(|(_, media)| media.port != 0 && is_rtp_audio(media))
        .ok_or(NegotiationError::NoAudioStream)?;
    if theirs.medias.len() != ours.medias.len() {
        return Err(NegotiationError::MediaCountMismatch {
            offered: ours.medias.len(),
            answered: theirs.medias.len(),
        });
    }
    let their_media = &theirs.medias[media_index];
    if their_media.port == 0 || !is_rtp_audio(their_media) {
        return Err(NegotiationError::AudioStreamRejected { media_index });
    }

    let offered = formats(our_media);
    let answered = formats(their_media);
    let (payload_type, codec) = answered
        .iter()
        .find_map(|(payload_type, format)| match format {
            // Matched by codec, not number: a peer may map PCMU to a
            // dynamic number of its own.
            Format::Codec(codec) if offered.iter().any(|(_, offered)| offered == format) => {
                Some((*payload_type, *codec))
            }
            _ => None,
        })
        .ok_or(NegotiationError::NoCommonCodec)?;
    let our_number = |wanted: Format| {
        offered
            .iter()
            .find(|(_, format)| *format == wanted)
            .map(|(payload_type, _)| *payload_type)
    };
    let receive_payload_type = our_number(Format::Codec(codec)).unwrap_or(payload_type);
    let telephone_event = telephone_event_for(&answered, codec, |clock_rate| {
        our_number(Format::TelephoneEvent(clock_rate)).is_some()
    });
    let receive_telephone_event = telephone_event.and_then(|(payload_type, clock_rate)| {
        our_number(Format::TelephoneEvent(clock_rate)).or(Some(payload_type))
    });

    let our_address = connection_address(ours, our_media, media_index)?;
    let remote = Remote::read(theirs, their_media, media_index, our_address)?;
    let direction = direction(ours, our_media).intersection(remote.direction.reversed());
    let ptime = ptime(theirs, their_media)
        .or_else(|| ptime(ours, our_media))
        .unwrap_or_default();
    let rtcp_mux = has_rtcp_mux(our_media) && has_rtcp_mux(their_media);
    Ok(NegotiatedMedia {
        media_index,
        remote_rtp: remote.rtp,
        remote_rtcp: remote.rtcp(rtcp_mux),
        codec,
        payload_type,
        receive_payload_type,
        telephone_event: telephone_event.map(|(payload_type, _)| payload_type),
        receive_telephone_event,
        telephone_event_clock_rate: telephone_event
            .map_or(codec.clock_rate(), |(_, clock_rate)| clock_rate),
        direction,
        ptime,
        rtcp_mux,
    })
}

/// The telephone-event format among `formats` to use with `codec`, of the
/// rates `usable` allows: the one on the codec's clock (RFC 4733 §2.1),
/// else, for a codec on another clock (Opus), one at 8000 Hz, as
/// baresip and Asterisk send with Opus. Never 48 kHz events beside an
/// 8 kHz codec.
fn telephone_event_for(
    formats: &[(PayloadType, Format)],
    codec: Codec,
    usable: impl Fn(u32) -> bool,
) -> Option<(PayloadType, u32)> {
    let at = |wanted: u32| {
        formats
            .iter()
            .find_map(|(payload_type, format)| match format {
                Format::TelephoneEvent(clock_rate) if *clock_rate == wanted && usable(wanted) => {
                    Some((*payload_type, wanted))
                }
                _ => None,
            })
    };
    at(codec.clock_rate()).or_else(|| at(8000))
}

/// The peer's side of the audio stream.
struct Remote {
    rtp: SocketAddr,
    /// From `a=rtcp`, if present.
    rtcp: Option<SocketAddr>,
    /// The peer's direction, less receiving if its address is a hold
    /// address.
    direction: Direction,
}

impl Remote {
    fn read(
        session: &sdp_types::Session,
        media: &sdp_types::Media,
        media_index: usize,
        our_address: IpAddr,
    ) -> Result<Self, NegotiationError> {
        let ip = connection_address(session, media, media_index)?;
        let mut direction = direction(session, media);
        if ip.is_unspecified() {
            // RFC 2543 hold: the peer cannot receive at 0.0.0.0 / ::.
            direction = Direction::from_flows(direction.sends(), false);
        } else if ip.is_ipv4() != our_address.is_ipv4() {
            return Err(NegotiationError::AddressFamilyMismatch { media_index });
        }
        let rtcp = rtcp_attribute(media)
            .map(|(port, address)| SocketAddr::new(address.unwrap_or(ip), port));
        Ok(Self {
            rtp: SocketAddr::new(ip, media.port),
            rtcp,
            direction,
        })
    }

    fn rtcp(&self, rtcp_mux: bool) -> SocketAddr {
        if rtcp_mux {
            return self.rtp;
        }
        self.rtcp.unwrap_or_else(|| {
            SocketAddr::new(
                self.rtp.ip(),
                self.rtp.port().checked_add(1).unwrap_or(self.rtp.port()),
            )
        })
    }
}

fn session_description(local: &LocalMedia, medias: Vec<sdp_types::Media>) -> SessionDescription {
    let mut session = sdp_types::Session::new(
        sdp_types::Origin::with_ip_addr(
            local.origin.session_id,
            local.origin.session_version,
            local.address,
        ),
        "-",
    );
    session.set_connection(local.address);
    session.add_time(sdp_types::Time::new(0, 0));
    session.add_medias(medias);
    SessionDescription::from_inner(session)
}

fn audio_media(
    port: u16,
    proto: &str,
    codecs: &[(PayloadType, Codec)],
    telephone_events: &[(PayloadType, u32)],
    ptime: Ptime,
    rtcp_mux: bool,
    direction: Direction,
) -> sdp_types::Media {
    let format_list: Vec<String> = codecs
        .iter()
        .map(|(payload_type, _)| *payload_type)
        .chain(
            telephone_events
                .iter()
                .map(|(payload_type, _)| *payload_type),
        )
        .map(|payload_type| payload_type.to_string())
        .collect();
    let mut media = empty_media("audio", port, proto, format_list.join(" "));
    for (payload_type, codec) in codecs {
        let mut rtpmap = sdp_types::RtpMap::new(
            payload_type.get(),
            codec.encoding_name(),
            codec.clock_rate(),
        );
        if let Some(channels) = codec.rtpmap_channels() {
            rtpmap.set_encoding_params(channels);
        }
        media.add_attribute(rtpmap);
    }
    for (payload_type, clock_rate) in telephone_events {
        media.add_attribute(sdp_types::RtpMap::new(
            payload_type.get(),
            "telephone-event",
            *clock_rate,
        ));
        media.add_attribute_with_value("fmtp", format!("{payload_type} {TELEPHONE_EVENTS}"));
    }
    media.add_attribute_with_value("ptime", ptime);
    // The longest packets every codec here can be played from (Opus: 20).
    if let Some(longest) = codecs
        .iter()
        .filter_map(|(_, codec)| codec.max_ptime_millis())
        .min()
    {
        media.add_attribute_with_value("maxptime", longest);
    }
    if rtcp_mux {
        media.add_attribute(sdp_types::Attribute::new("rtcp-mux"));
    }
    media.add_attribute(sdp_types::Attribute::new(direction.attribute_name()));
    media
}

/// A rejected stream (RFC 3264 §6): port 0, the offer's media, transport
/// and formats, nothing else.
fn rejected_media(offered: &sdp_types::Media) -> sdp_types::Media {
    empty_media(&offered.media, 0, &offered.proto, offered.fmt.clone())
}

fn empty_media(kind: &str, port: u16, proto: &str, format_list: String) -> sdp_types::Media {
    sdp_types::Media {
        media: kind.to_owned(),
        port,
        num_ports: None,
        proto: proto.to_owned(),
        fmt: format_list,
        media_title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sdp(body: &str) -> SessionDescription {
        SessionDescription::parse(body.as_bytes()).expect("test SDP parses")
    }

    fn local() -> LocalMedia {
        LocalMedia::new(
            "203.0.113.1".parse().unwrap(),
            20_000,
            SessionOrigin::new(4242, 1),
        )
    }

    fn address(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn pt(value: u8) -> PayloadType {
        PayloadType::new(value).unwrap()
    }

    fn text(description: &SessionDescription) -> String {
        String::from_utf8(description.to_bytes()).unwrap()
    }

    /// baresip 1.x, G.711 only, RTCP multiplexed.
    const BARESIP_OFFER: &str = "v=0\r\n\
        o=- 1669201548 2823063717 IN IP4 10.0.0.5\r\n\
        s=-\r\n\
        c=IN IP4 10.0.0.5\r\n\
        t=0 0\r\n\
        m=audio 10200 RTP/AVP 0 8 101\r\n\
        b=AS:64\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\n\
        a=rtcp-mux\r\n\
        a=rtcp-rsize\r\n\
        a=ptime:20\r\n\
        a=sendrecv\r\n\
        a=label:1\r\n\
        a=ssrc:2381766423 cname:3b5ce5a6-5e05-4a19-8b3b-3c6a1b5f1b9e\r\n";

    /// Linphone: Opus and Speex first, telephone-event at three rates, and
    /// a video stream.
    const LINPHONE_OFFER: &str = "v=0\r\n\
        o=alice 3236 2421 IN IP4 192.168.1.34\r\n\
        s=Talk\r\n\
        c=IN IP4 192.168.1.34\r\n\
        t=0 0\r\n\
        a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
        a=record:off\r\n\
        m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100\r\n\
        a=rtpmap:96 opus/48000/2\r\n\
        a=fmtp:96 useinbandfec=1\r\n\
        a=rtpmap:97 speex/16000\r\n\
        a=fmtp:97 vbr=on\r\n\
        a=rtpmap:98 speex/8000\r\n\
        a=fmtp:98 vbr=on\r\n\
        a=fmtp:18 annexb=yes\r\n\
        a=rtpmap:101 telephone-event/48000\r\n\
        a=rtpmap:99 telephone-event/16000\r\n\
        a=rtpmap:100 telephone-event/8000\r\n\
        a=rtcp-fb:* trr-int 1000\r\n\
        a=rtcp-fb:* ccm tmmbr\r\n\
        m=video 9078 RTP/AVP 96 97\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        a=rtpmap:97 H264/90000\r\n\
        a=fmtp:97 profile-level-id=42801F\r\n\
        a=rtcp-fb:* trr-int 1000\r\n\
        a=rtcp-fb:96 nack pli\r\n";

    /// A carrier SBC: G.729 first, then PCMU and telephone-event.
    const CARRIER_OFFER: &str = "v=0\r\n\
        o=Sonus_UAC 245615 98217 IN IP4 203.0.113.10\r\n\
        s=SIP Media Capabilities\r\n\
        c=IN IP4 203.0.113.20\r\n\
        t=0 0\r\n\
        m=audio 31854 RTP/AVP 18 0 101\r\n\
        a=rtpmap:18 G729/8000\r\n\
        a=fmtp:18 annexb=no\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\n\
        a=sendrecv\r\n\
        a=maxptime:20\r\n\
        a=ptime:20\r\n";

    /// A trunk with no `t=` line, `c=` at media level only, A-law first and
    /// 30 ms packets.
    const TRUNK_OFFER_WITHOUT_TIME: &str = "v=0\r\n\
        o=- 1723456789 1723456790 IN IP4 198.51.100.7\r\n\
        s=-\r\n\
        m=audio 20000 RTP/AVP 8 0 101\r\n\
        c=IN IP4 198.51.100.8\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\n\
        a=ptime:30\r\n";

    #[test]
    fn answers_a_baresip_offer() {
        let answer = answer(&sdp(BARESIP_OFFER), &local()).unwrap();
        assert_eq!(
            text(&answer.session_description),
            "v=0\r\n\
             o=- 4242 1 IN IP4 203.0.113.1\r\n\
             s=-\r\n\
             c=IN IP4 203.0.113.1\r\n\
             t=0 0\r\n\
             m=audio 20000 RTP/AVP 0 101\r\n\
             a=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-16\r\n\
             a=ptime:20\r\n\
             a=rtcp-mux\r\n\
             a=sendrecv\r\n"
        );
        assert_eq!(
            answer.media,
            NegotiatedMedia {
                media_index: 0,
                remote_rtp: address("10.0.0.5:10200"),
                remote_rtcp: address("10.0.0.5:10200"),
                codec: Codec::Pcmu,
                payload_type: PayloadType::PCMU,
                receive_payload_type: PayloadType::PCMU,
                telephone_event: Some(pt(101)),
                receive_telephone_event: Some(pt(101)),
                telephone_event_clock_rate: 8000,
                direction: Direction::SendRecv,
                ptime: Ptime::DEFAULT,
                rtcp_mux: true,
            }
        );
    }

    #[test]
    fn answers_linphone_with_g711_and_8khz_events_and_rejects_video() {
        let mut local = local();
        local.codecs = CodecPreference::new(&[Codec::Pcmu, Codec::Pcma]).unwrap();
        let answer = answer(&sdp(LINPHONE_OFFER), &local).unwrap();
        let media = &answer.media;
        assert_eq!(media.codec, Codec::Pcmu);
        assert_eq!(media.telephone_event, Some(pt(100)), "the 8 kHz one");
        assert_eq!(media.remote_rtp, address("192.168.1.34:7078"));
        assert_eq!(media.remote_rtcp, address("192.168.1.34:7079"));
        assert!(!media.rtcp_mux);
        let body = text(&answer.session_description);
        assert!(body.contains("m=audio 20000 RTP/AVP 0 100\r\n"), "{body}");
        assert!(body.contains("a=rtpmap:100 telephone-event/8000\r\n"));
        assert!(body.contains("a=fmtp:100 0-16\r\n"));
        assert!(
            body.ends_with("a=sendrecv\r\nm=video 0 RTP/AVP 96 97\r\n"),
            "{body}"
        );
        assert!(!body.contains("rtcp-mux"));
        assert_eq!(answer.session_description.media_count(), 2);
    }

    #[cfg(feature = "opus")]
    #[test]
    fn answers_linphone_with_opus_and_48khz_events() {
        let answer = answer(&sdp(LINPHONE_OFFER), &local()).unwrap();
        let media = &answer.media;
        assert_eq!(media.codec, Codec::Opus, "the offer's first codec");
        assert_eq!(media.payload_type, pt(96), "the offerer's number");
        assert_eq!(media.telephone_event, Some(pt(101)), "the 48 kHz one");
        assert_eq!(media.telephone_event_clock_rate, 48_000);
        let body = text(&answer.session_description);
        assert!(body.contains("m=audio 20000 RTP/AVP 96 101\r\n"), "{body}");
        assert!(body.contains("a=rtpmap:96 opus/48000/2\r\n"), "{body}");
        assert!(body.contains("a=rtpmap:101 telephone-event/48000\r\n"));
    }

    /// Our offer carries Opus on 111 with telephone-events at both rates;
    /// an answer that keeps only the 8 kHz events (as baresip's does) is
    /// taken with them.
    #[cfg(feature = "opus")]
    #[test]
    fn offers_opus_and_takes_an_answer_with_8khz_events() {
        let offer = offer(&local(), Direction::SendRecv);
        let body = text(&offer);
        assert!(
            body.contains("m=audio 20000 RTP/AVP 0 8 9 111 101 110\r\n"),
            "{body}"
        );
        assert!(body.contains("a=rtpmap:111 opus/48000/2\r\n"), "{body}");
        assert!(body.contains("a=rtpmap:101 telephone-event/8000\r\n"));
        assert!(body.contains("a=rtpmap:110 telephone-event/48000\r\n"));
        let reply = sdp("v=0\r\n\
            o=- 1 1 IN IP4 10.0.0.5\r\n\
            s=-\r\n\
            c=IN IP4 10.0.0.5\r\n\
            t=0 0\r\n\
            m=audio 10200 RTP/AVP 111 101\r\n\
            a=rtpmap:111 opus/48000/2\r\n\
            a=rtpmap:101 telephone-event/8000\r\n");
        let media = accept_answer(&offer, &reply).unwrap();
        assert_eq!(media.codec, Codec::Opus);
        assert_eq!(media.telephone_event, Some(pt(101)));
        assert_eq!(media.telephone_event_clock_rate, 8000);
    }

    /// Events at 48 kHz beside an 8 kHz codec would carry durations the
    /// stream's clock does not count: not taken (digits fall back to
    /// in-band detection).
    #[test]
    fn events_off_the_codec_clock_are_not_taken_for_g711() {
        let offer = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\n\
            m=audio 4000 RTP/AVP 0 110\r\n\
            a=rtpmap:110 telephone-event/48000\r\n");
        let answer = answer(&offer, &local()).unwrap();
        assert_eq!(answer.media.telephone_event, None);
        assert!(!text(&answer.session_description).contains("telephone-event"));
    }

    /// A peer that renumbers in its answer still sends with our numbers
    /// (RFC 3264 §6.1): we receive on ours, send on its.
    #[cfg(feature = "opus")]
    #[test]
    fn an_answer_that_renumbers_is_received_on_our_numbers() {
        let offer = offer(&local(), Direction::SendRecv);
        let reply = sdp("v=0\r\n\
            o=- 1 1 IN IP4 10.0.0.5\r\n\
            s=-\r\n\
            c=IN IP4 10.0.0.5\r\n\
            t=0 0\r\n\
            m=audio 10200 RTP/AVP 96 100\r\n\
            a=rtpmap:96 opus/48000/2\r\n\
            a=rtpmap:100 telephone-event/48000\r\n\
            a=ptime:60\r\n");
        let media = accept_answer(&offer, &reply).unwrap();
        assert_eq!(media.codec, Codec::Opus);
        assert_eq!(
            (media.payload_type, media.receive_payload_type),
            (pt(96), pt(111))
        );
        assert_eq!(
            (media.telephone_event, media.receive_telephone_event),
            (Some(pt(100)), Some(pt(110)))
        );
        assert_eq!(media.telephone_event_clock_rate, 48_000);
        assert!(text(&offer).contains("a=maxptime:20\r\n"));
        // An Opus offer asking for 60 ms packets is answered with 20.
        let linphone = LINPHONE_OFFER.replace("a=rtpmap:96 opus", "a=ptime:60\r\na=rtpmap:96 opus");
        let answer = answer(&sdp(&linphone), &local()).unwrap();
        assert_eq!(answer.media.ptime, Ptime::DEFAULT);
        let body = text(&answer.session_description);
        assert!(body.contains("a=ptime:20\r\na=maxptime:20\r\n"), "{body}");
    }

    /// A configured 8 kHz event number that collides with Opus's moves the
    /// 48 kHz events out of the way, and never onto a codec's number.
    #[cfg(feature = "opus")]
    #[test]
    fn offered_event_numbers_never_collide() {
        let mut local = local();
        local.telephone_event = Some(pt(110));
        let body = text(&offer(&local, Direction::SendRecv));
        assert!(
            body.contains("m=audio 20000 RTP/AVP 0 8 9 111 110 126\r\n"),
            "{body}"
        );
        assert!(
            body.contains("a=rtpmap:126 telephone-event/48000\r\n"),
            "{body}"
        );
    }

    #[test]
    fn answers_a_carrier_offer_past_g729() {
        let answer = answer(&sdp(CARRIER_OFFER), &local()).unwrap();
        assert_eq!(answer.media.codec, Codec::Pcmu);
        assert_eq!(answer.media.telephone_event, Some(pt(101)));
        assert_eq!(answer.media.remote_rtp, address("203.0.113.20:31854"));
        assert!(text(&answer.session_description).contains("m=audio 20000 RTP/AVP 0 101\r\n"));
    }

    #[test]
    fn an_offer_of_g729_only_has_no_common_codec() {
        let offer = sdp("v=0\r\n\
            o=Sonus_UAC 245615 98217 IN IP4 203.0.113.10\r\n\
            s=SIP Media Capabilities\r\n\
            c=IN IP4 203.0.113.20\r\n\
            t=0 0\r\n\
            m=audio 31854 RTP/AVP 18 101\r\n\
            a=rtpmap:18 G729/8000\r\n\
            a=fmtp:18 annexb=no\r\n\
            a=rtpmap:101 telephone-event/8000\r\n\
            a=fmtp:101 0-15\r\n");
        assert_eq!(
            answer(&offer, &local()),
            Err(NegotiationError::NoCommonCodec)
        );
    }

    #[test]
    fn answers_a_trunk_that_sends_no_time_line() {
        let answer = answer(&sdp(TRUNK_OFFER_WITHOUT_TIME), &local()).unwrap();
        assert_eq!(answer.media.codec, Codec::Pcma, "the offer's order wins");
        assert_eq!(answer.media.payload_type, PayloadType::PCMA);
        assert_eq!(answer.media.remote_rtp, address("198.51.100.8:20000"));
        assert_eq!(answer.media.ptime, Ptime::from_millis(30).unwrap());
        let body = text(&answer.session_description);
        assert!(body.contains("t=0 0\r\n"));
        assert!(body.contains("a=ptime:30\r\n"));
    }

    #[test]
    fn our_codec_list_limits_the_choice() {
        let mut pcmu_only = local();
        pcmu_only.codecs = CodecPreference::new(&[Codec::Pcmu]).unwrap();
        let answer = answer(&sdp(TRUNK_OFFER_WITHOUT_TIME), &pcmu_only).unwrap();
        assert_eq!(answer.media.codec, Codec::Pcmu);
    }

    #[test]
    fn no_telephone_event_unless_both_take_it() {
        let mut no_events = local();
        no_events.telephone_event = None;
        let answer_without = answer(&sdp(BARESIP_OFFER), &no_events).unwrap();
        assert_eq!(answer_without.media.telephone_event, None);
        assert!(!text(&answer_without.session_description).contains("telephone-event"));

        let offer = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 8\r\n");
        assert_eq!(
            answer(&offer, &local()).unwrap().media.telephone_event,
            None
        );
    }

    #[test]
    fn a_dynamic_number_for_pcmu_is_kept() {
        let offer = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
            m=audio 4000 RTP/AVP 96 97\r\na=rtpmap:96 PCMU/8000\r\na=rtpmap:97 telephone-event/8000\r\n");
        let answer = answer(&offer, &local()).unwrap();
        assert_eq!(answer.media.codec, Codec::Pcmu);
        assert_eq!(answer.media.payload_type, pt(96));
        assert!(text(&answer.session_description).contains("a=rtpmap:96 PCMU/8000\r\n"));
    }

    #[test]
    fn hold_with_sendonly_is_answered_recvonly() {
        let hold = BARESIP_OFFER
            .replace("2823063717", "2823063718")
            .replace("a=sendrecv", "a=sendonly");
        let answer = answer(&sdp(&hold), &local()).unwrap();
        assert_eq!(answer.media.direction, Direction::RecvOnly);
        assert!(!answer.media.direction.sends());
        assert!(text(&answer.session_description).ends_with("a=recvonly\r\n"));
    }

    #[test]
    fn direction_is_mirrored() {
        for (offered, answered) in [
            ("sendrecv", Direction::SendRecv),
            ("sendonly", Direction::RecvOnly),
            ("recvonly", Direction::SendOnly),
            ("inactive", Direction::Inactive),
        ] {
            let offer = sdp(&BARESIP_OFFER.replace("a=sendrecv", &format!("a={offered}")));
            assert_eq!(answer(&offer, &local()).unwrap().media.direction, answered);
        }
        // At session level too.
        let offer = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n");
        assert_eq!(
            answer(&offer, &local()).unwrap().media.direction,
            Direction::RecvOnly
        );
    }

    #[test]
    fn old_style_hold_with_a_zero_address() {
        let offer = sdp("v=0\r\n\
            o=- 1 2 IN IP4 192.0.2.50\r\n\
            s=-\r\n\
            c=IN IP4 0.0.0.0\r\n\
            t=0 0\r\n\
            m=audio 4000 RTP/AVP 0 101\r\n\
            a=rtpmap:101 telephone-event/8000\r\n");
        let answer = answer(&offer, &local()).unwrap();
        assert_eq!(answer.media.direction, Direction::RecvOnly);
        assert_eq!(answer.media.remote_rtp, address("0.0.0.0:4000"));
        assert!(text(&answer.session_description).contains("c=IN IP4 203.0.113.1\r\n"));

        let inactive = sdp("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n");
        assert_eq!(
            super::answer(&inactive, &local()).unwrap().media.direction,
            Direction::Inactive
        );
    }

    #[test]
    fn we_keep_holding_when_the_peer_re_offers() {
        let answer =
            answer_with_direction(&sdp(BARESIP_OFFER), &local(), Direction::SendOnly).unwrap();
        assert_eq!(answer.media.direction, Direction::SendOnly);
    }

    #[test]
    fn answers_ipv6() {
        let offer = sdp("v=0\r\n\
            o=- 5 5 IN IP6 2001:db8::10\r\n\
            s=-\r\n\
            c=IN IP6 2001:db8::10\r\n\
            t=0 0\r\n\
            m=audio 40000 RTP/AVP 0 101\r\n\
            a=rtpmap:0 PCMU/8000\r\n\
            a=rtpmap:101 telephone-event/8000\r\n\
            a=fmtp:101 0-15\r\n");
        let mut local_v6 = local();
        local_v6.address = "2001:db8::1".parse().unwrap();
        let answer = answer(&offer, &local_v6).unwrap();
        assert_eq!(answer.media.remote_rtp, address("[2001:db8::10]:40000"));
        let body = text(&answer.session_description);
        assert!(body.contains("o=- 4242 1 IN IP6 2001:db8::1\r\n"), "{body}");
        assert!(body.contains("c=IN IP6 2001:db8::1\r\n"));

        assert_eq!(
            super::answer(&offer, &local()),
            Err(NegotiationError::AddressFamilyMismatch { media_index: 0 })
        );
    }

    #[test]
    fn only_the_first_usable_audio_stream_is_accepted() {
        // SRTP first (best-effort SRTP phones), then plain RTP, then T.38.
        let offer = sdp("v=0\r\n\
            o=- 1 1 IN IP4 192.0.2.9\r\n\
            s=-\r\n\
            c=IN IP4 192.0.2.9\r\n\
            t=0 0\r\n\
            m=audio 4000 RTP/SAVP 0\r\n\
            a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n\
            m=audio 4002 RTP/AVP 8 0\r\n\
            m=audio 4004 RTP/AVP 0\r\n\
            m=image 4006 udptl t38\r\n\
            a=T38FaxVersion:0\r\n");
        let answer = answer(&offer, &local()).unwrap();
        assert_eq!(answer.media.media_index, 1);
        assert_eq!(answer.media.codec, Codec::Pcma);
        let body = text(&answer.session_description);
        assert!(
            body.contains("m=audio 0 RTP/SAVP 0\r\nm=audio 20000 RTP/AVP 8\r\n"),
            "{body}"
        );
        assert!(
            body.contains("m=audio 0 RTP/AVP 0\r\nm=image 0 udptl t38\r\n"),
            "{body}"
        );
        assert!(!body.contains("crypto"));
    }

    #[test]
    fn no_audio_stream_at_all() {
        let video_and_fax = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\n\
            m=video 4000 RTP/AVP 96\r\nm=image 4002 udptl t38\r\n");
        assert_eq!(
            answer(&video_and_fax, &local()),
            Err(NegotiationError::NoAudioStream)
        );
        let srtp_only = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/SAVP 0\r\n");
        assert_eq!(
            answer(&srtp_only, &local()),
            Err(NegotiationError::NoAudioStream)
        );
        let disabled = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 0 RTP/AVP 0\r\n");
        assert_eq!(
            answer(&disabled, &local()),
            Err(NegotiationError::NoAudioStream)
        );
        let no_media = sdp("v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\n");
        assert_eq!(
            answer(&no_media, &local()),
            Err(NegotiationError::NoAudioStream)
        );
    }

    #[test]
    fn an_audio_stream_needs_a_connection_address() {
        let offer = sdp("v=0\r\nm=audio 4000 RTP/AVP 0\r\n");
        assert_eq!(
            answer(&offer, &local()),
            Err(NegotiationError::MissingConnectionAddress { media_index: 0 })
        );
    }

    #[test]
    fn rtcp_goes_where_a_rtcp_says() {
        let offer = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\n\
            m=audio 4000 RTP/AVP 0\r\na=rtcp:4005 IN IP4 192.0.2.10\r\n");
        assert_eq!(
            answer(&offer, &local()).unwrap().media.remote_rtcp,
            address("192.0.2.10:4005")
        );
        // We do not take rtcp-mux when configured not to.
        let mut no_mux = local();
        no_mux.rtcp_mux = false;
        let answer = answer(&sdp(BARESIP_OFFER), &no_mux).unwrap();
        assert!(!answer.media.rtcp_mux);
        assert_eq!(answer.media.remote_rtcp, address("10.0.0.5:10201"));
        assert!(!text(&answer.session_description).contains("rtcp-mux"));
    }

    #[test]
    fn offers_our_codecs_in_our_order() {
        let mut local = local();
        local.codecs = CodecPreference::new(&[Codec::Pcmu, Codec::Pcma, Codec::G722]).unwrap();
        let offer = offer(&local, Direction::SendRecv);
        assert_eq!(
            text(&offer),
            "v=0\r\n\
             o=- 4242 1 IN IP4 203.0.113.1\r\n\
             s=-\r\n\
             c=IN IP4 203.0.113.1\r\n\
             t=0 0\r\n\
             m=audio 20000 RTP/AVP 0 8 9 101\r\n\
             a=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:9 G722/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-16\r\n\
             a=ptime:20\r\n\
             a=rtcp-mux\r\n\
             a=sendrecv\r\n"
        );
    }

    #[test]
    fn each_new_offer_or_answer_takes_the_next_version() {
        let mut local = local();
        let first = offer(&local, Direction::SendRecv);
        local.next_version();
        let hold = offer(&local, Direction::SendOnly);
        local.next_version();
        let re_answer = answer(&sdp(BARESIP_OFFER), &local).unwrap();
        assert_eq!(first.session_id(), "4242");
        assert_eq!(hold.session_id(), "4242");
        assert_eq!(re_answer.session_description.session_id(), "4242");
        assert_eq!(first.session_version(), 1);
        assert_eq!(hold.session_version(), 2);
        assert_eq!(re_answer.session_description.session_version(), 3);
        assert!(text(&hold).ends_with("a=sendonly\r\n"));
    }

    #[test]
    fn offer_and_answer_between_two_switchboards() {
        // Also the late-offer flow: an INVITE without SDP, our offer in the
        // 200 OK, the caller's answer in the ACK.
        let ours = local();
        let mut theirs = LocalMedia::new(
            "198.51.100.20".parse().unwrap(),
            30_000,
            SessionOrigin::new(99, 7),
        );
        theirs.codecs = CodecPreference::new(&[Codec::Pcma, Codec::Pcmu]).unwrap();
        let sent = offer(&ours, Direction::SendRecv);
        let their_answer = answer(&sent, &theirs).unwrap();
        assert_eq!(their_answer.media.codec, Codec::Pcmu, "offerer's order");
        assert_eq!(their_answer.media.remote_rtp, address("203.0.113.1:20000"));

        let negotiated = accept_answer(&sent, &their_answer.session_description).unwrap();
        assert_eq!(
            negotiated,
            NegotiatedMedia {
                media_index: 0,
                remote_rtp: address("198.51.100.20:30000"),
                remote_rtcp: address("198.51.100.20:30000"),
                codec: Codec::Pcmu,
                payload_type: PayloadType::PCMU,
                receive_payload_type: PayloadType::PCMU,
                telephone_event: Some(PayloadType::TELEPHONE_EVENT_DEFAULT),
                receive_telephone_event: Some(PayloadType::TELEPHONE_EVENT_DEFAULT),
                telephone_event_clock_rate: 8000,
                direction: Direction::SendRecv,
                ptime: Ptime::DEFAULT,
                rtcp_mux: true,
            }
        );
    }

    #[test]
    fn accepts_a_carrier_answer() {
        let sent = offer(&local(), Direction::SendRecv);
        let carrier_answer = sdp("v=0\r\n\
            o=Sonus_UAS 77 78 IN IP4 203.0.113.10\r\n\
            s=SIP Media Capabilities\r\n\
            c=IN IP4 203.0.113.20\r\n\
            t=0 0\r\n\
            m=audio 31000 RTP/AVP 8 96\r\n\
            a=rtpmap:8 PCMA/8000\r\n\
            a=rtpmap:96 telephone-event/8000\r\n\
            a=fmtp:96 0-15\r\n\
            a=ptime:20\r\n");
        let negotiated = accept_answer(&sent, &carrier_answer).unwrap();
        assert_eq!(negotiated.codec, Codec::Pcma);
        assert_eq!(
            negotiated.telephone_event,
            Some(pt(96)),
            "their number to send"
        );
        assert!(!negotiated.rtcp_mux);
        assert_eq!(negotiated.remote_rtcp, address("203.0.113.20:31001"));
    }

    #[test]
    fn holding_the_peer_through_our_offer() {
        let sent = offer(&local(), Direction::SendOnly);
        let held = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\na=recvonly\r\n");
        assert_eq!(
            accept_answer(&sent, &held).unwrap().direction,
            Direction::SendOnly
        );
        let zero = sdp("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n");
        let sent = offer(&local(), Direction::SendRecv);
        assert_eq!(
            accept_answer(&sent, &zero).unwrap().direction,
            Direction::RecvOnly
        );
    }

    #[test]
    fn refuses_answers_that_do_not_fit_the_offer() {
        let sent = offer(&local(), Direction::SendRecv);
        let two_lines = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\n\
            m=audio 4000 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n");
        assert_eq!(
            accept_answer(&sent, &two_lines),
            Err(NegotiationError::MediaCountMismatch {
                offered: 1,
                answered: 2
            })
        );
        let rejected = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 0 RTP/AVP 0\r\n");
        assert_eq!(
            accept_answer(&sent, &rejected),
            Err(NegotiationError::AudioStreamRejected { media_index: 0 })
        );
        let g729 = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 18\r\n");
        assert_eq!(
            accept_answer(&sent, &g729),
            Err(NegotiationError::NoCommonCodec)
        );
        let mut pcmu_only = local();
        pcmu_only.codecs = CodecPreference::new(&[Codec::Pcmu, Codec::Pcmu]).unwrap();
        let sent = offer(&pcmu_only, Direction::SendRecv);
        let pcma = sdp("v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 8\r\n");
        assert_eq!(
            accept_answer(&sent, &pcma),
            Err(NegotiationError::NoCommonCodec),
            "PCMA was not offered"
        );
    }

    #[test]
    fn codec_preference_is_never_empty() {
        assert_eq!(CodecPreference::new(&[]), None);
        let preference = CodecPreference::new(&[Codec::Pcma, Codec::Pcmu, Codec::Pcma]).unwrap();
        assert_eq!(
            preference.iter().collect::<Vec<_>>(),
            vec![Codec::Pcma, Codec::Pcmu]
        );
    }

    fn media_section() -> impl Strategy<Value = String> {
        use proptest::sample::select;
        let kind = select(vec!["audio", "audio", "audio", "video", "image", "AUDIO"]);
        let port = prop_oneof![Just(0u16), 1u16..=65535, 1u16..=65535];
        let proto = select(vec![
            "RTP/AVP", "RTP/AVP", "RTP/AVP", "RTP/SAVP", "udptl", "RTP/AVPF",
        ]);
        let formats = proptest::collection::vec(
            select(vec!["0", "8", "18", "96", "101", "127", "128", "x", "t38"]),
            1..6,
        );
        let attributes = proptest::collection::vec(
            select(vec![
                "a=rtpmap:96 PCMU/8000",
                "a=rtpmap:101 telephone-event/8000",
                "a=rtpmap:8 G729/8000",
                "a=rtpmap:0",
                "a=rtpmap:x y/z",
                "a=sendonly",
                "a=inactive",
                "a=rtcp-mux",
                "a=rtcp:9",
                "a=rtcp:x",
                "a=ptime:1e9",
                "a=ptime:-1",
                "a=ptime:20",
                "c=IN IP4 0.0.0.0",
                "c=IN IP6 ::1",
                "c=IN IP4 host.example",
                "c=IN IP4 192.0.2.1/127",
            ]),
            0..6,
        );
        (kind, port, proto, formats, attributes).prop_map(
            |(kind, port, proto, formats, attributes)| {
                let mut section = format!("m={kind} {port} {proto} {}\r\n", formats.join(" "));
                for attribute in attributes {
                    section.push_str(attribute);
                    section.push_str("\r\n");
                }
                section
            },
        )
    }

    proptest! {
        #[test]
        fn any_offer_gets_an_answer_of_the_same_shape_or_an_error(
            session_connection in proptest::sample::select(vec![
                "",
                "c=IN IP4 192.0.2.7\r\n",
                "c=IN IP4 192.0.2.7\r\n",
                "c=IN IP6 2001:db8::7\r\n",
            ]),
            sections in proptest::collection::vec(media_section(), 1..4),
        ) {
            let body = format!("v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\n{session_connection}t=0 0\r\n{}", sections.concat());
            let Ok(offer) = SessionDescription::parse(body.as_bytes()) else {
                return Ok(());
            };
            if let Ok(answer) = answer(&offer, &local()) {
                let printed = answer.session_description.to_bytes();
                let reparsed = SessionDescription::parse(&printed).unwrap();
                prop_assert_eq!(reparsed.media_count(), offer.media_count());
                let active = reparsed.inner().medias.iter().filter(|media| media.port != 0).count();
                prop_assert_eq!(active, 1);
                // Our own offer accepts the answer we just gave, seen from
                // the other side.
                let negotiated = accept_answer(&offer, &reparsed);
                if let Ok(negotiated) = negotiated {
                    prop_assert_eq!(negotiated.codec, answer.media.codec);
                }
            }
        }
    }
}
