//! Reading one media description (an `m=` section, RFC 8866 §5.14) of a
//! peer's offer or answer: its formats and their `a=rtpmap`, the connection
//! address at media or session level, direction, `a=ptime`, `a=rtcp-mux`
//! and `a=rtcp`. Peer input: every lookup tolerates junk and returns
//! "absent" rather than failing, except the connection address, without
//! which there is nowhere to send.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use super::Direction;
use super::offer_answer::NegotiationError;
use crate::codec::Codec;
use crate::rtp::PayloadType;

/// The RTP clock rates of the telephone-events we accept: the rates of
/// our audio codecs (RFC 4733 §2.1 ties the event clock to the audio's):
/// 8000 Hz for G.711 and G.722, 48000 Hz for Opus.
pub(crate) const TELEPHONE_EVENT_CLOCK_RATES: [u32; 2] = [8000, 48_000];

/// Packetization time (`a=ptime`, RFC 8866 §6.4): milliseconds of audio in
/// one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ptime(u16);

impl Ptime {
    /// 20 ms, the RFC 3551 default for G.711.
    pub const DEFAULT: Self = Self(20);

    /// A packetization time of `milliseconds`, if within 1..=200 ms: what
    /// G.711 peers use (10 to 60 in practice), with headroom.
    pub const fn from_millis(milliseconds: u16) -> Option<Self> {
        if milliseconds >= 1 && milliseconds <= 200 {
            Some(Self(milliseconds))
        } else {
            None
        }
    }

    /// Milliseconds per packet.
    pub const fn as_millis(self) -> u16 {
        self.0
    }

    /// As a duration.
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64)
    }

    /// Samples (RTP clock ticks) per packet at `clock_rate` Hz.
    pub const fn samples(self, clock_rate: u32) -> u32 {
        self.0 as u32 * (clock_rate / 1000)
    }
}

impl Default for Ptime {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for Ptime {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(formatter)
    }
}

/// What a format number on an audio `m=` line stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// One of our codecs.
    Codec(Codec),
    /// RFC 4733 telephone-event at one of
    /// [`TELEPHONE_EVENT_CLOCK_RATES`], this one.
    TelephoneEvent(u32),
    /// Anything else (G.729, comfort noise, telephone-event at another
    /// rate, Opus without the `opus` feature…).
    Other,
}

/// Whether `media` is an audio stream over plain RTP (RTP/AVP, or RTP/AVPF
/// whose feedback we may ignore). SRTP and WebRTC profiles are not.
pub(crate) fn is_rtp_audio(media: &sdp_types::Media) -> bool {
    media.media.eq_ignore_ascii_case("audio")
        && (media.proto.eq_ignore_ascii_case("RTP/AVP")
            || media.proto.eq_ignore_ascii_case("RTP/AVPF"))
}

/// The formats of an `m=` line in their order, each with what it stands
/// for. Tokens that are not payload types are skipped.
pub(crate) fn formats(media: &sdp_types::Media) -> Vec<(PayloadType, Format)> {
    media
        .fmt
        .split_ascii_whitespace()
        .filter_map(|token| token.parse::<PayloadType>().ok())
        .map(|payload_type| (payload_type, format_of(media, payload_type)))
        .collect()
}

fn format_of(media: &sdp_types::Media, payload_type: PayloadType) -> Format {
    let rtpmap = media
        .attributes_typed::<sdp_types::RtpMap>()
        .filter_map(Result::ok)
        .find(|rtpmap| rtpmap.payload_type == payload_type.get());
    match rtpmap {
        Some(rtpmap) => {
            if rtpmap.encoding_name.eq_ignore_ascii_case("telephone-event") {
                if TELEPHONE_EVENT_CLOCK_RATES.contains(&rtpmap.clock_rate) {
                    Format::TelephoneEvent(rtpmap.clock_rate)
                } else {
                    Format::Other
                }
            } else {
                Codec::from_rtpmap(
                    &rtpmap.encoding_name,
                    rtpmap.clock_rate,
                    rtpmap.encoding_params.as_deref(),
                )
                .map_or(Format::Other, Format::Codec)
            }
        }
        // Static payload types need no rtpmap (RFC 3551 §6).
        None => Codec::from_static_payload_type(payload_type).map_or(Format::Other, Format::Codec),
    }
}

/// The connection address for `media`: its own `c=` if any, else the
/// session's (RFC 8866 §5.7). A hostname is refused: resolving is not this
/// layer's job, and no trunk sends one.
pub(crate) fn connection_address(
    session: &sdp_types::Session,
    media: &sdp_types::Media,
    media_index: usize,
) -> Result<IpAddr, NegotiationError> {
    let connection = media
        .connections
        .first()
        .or(session.connection.as_ref())
        .ok_or(NegotiationError::MissingConnectionAddress { media_index })?;
    connection
        .try_address()
        .map(|address| address.ip)
        .map_err(|_| NegotiationError::InvalidConnectionAddress {
            media_index,
            address: connection.connection_address.clone(),
        })
}

/// The direction of `media`: its own attribute, else the session's, else
/// sendrecv (RFC 8866 §6.7).
pub(crate) fn direction(session: &sdp_types::Session, media: &sdp_types::Media) -> Direction {
    let find = |attributes: &[sdp_types::Attribute]| {
        attributes
            .iter()
            .filter(|attribute| attribute.value.is_none())
            .find_map(|attribute| Direction::from_attribute_name(&attribute.attribute))
    };
    find(&media.attributes)
        .or_else(|| find(&session.attributes))
        .unwrap_or_default()
}

/// `a=ptime` of `media`, else of the session (some trunks put it there).
/// Fractions ("20.0") are rounded; nonsense is ignored.
pub(crate) fn ptime(session: &sdp_types::Session, media: &sdp_types::Media) -> Option<Ptime> {
    let parse = |value: &str| {
        let milliseconds: f64 = value.trim().parse().ok()?;
        if !(1.0..=200.0).contains(&milliseconds) {
            return None;
        }
        // In 1..=200, so the conversion is exact.
        Ptime::from_millis(milliseconds.round() as u16)
    };
    media
        .get_first_attribute_value("ptime")
        .or_else(|| session.get_first_attribute_value("ptime"))
        .flatten()
        .and_then(parse)
}

/// Whether `media` carries `a=rtcp-mux` (RFC 5761 §5.1.1).
pub(crate) fn has_rtcp_mux(media: &sdp_types::Media) -> bool {
    media.has_attribute("rtcp-mux")
}

/// `a=rtcp` of `media` (RFC 3605): the RTCP port, and address if given.
pub(crate) fn rtcp_attribute(media: &sdp_types::Media) -> Option<(u16, Option<IpAddr>)> {
    let rtcp = media.get_first_attribute_typed::<sdp_types::Rtcp>()?.ok()?;
    let address = rtcp
        .try_address()
        .and_then(Result::ok)
        .map(|address| address.ip);
    Some((rtcp.port, address))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media_of(body: &str) -> (sdp_types::Session, sdp_types::Media) {
        let session = sdp_types::Session::parse(body.as_bytes()).unwrap();
        let media = session.medias[0].clone();
        (session, media)
    }

    #[test]
    fn formats_follow_rtpmap_before_static_numbers() {
        let (_, media) = media_of(
            "v=0\r\nm=audio 1 RTP/AVP 18 0 96 8 101 100 99 x\r\n\
             a=rtpmap:18 G729/8000\r\n\
             a=rtpmap:96 pcmu/8000\r\n\
             a=rtpmap:8 L16/8000\r\n\
             a=rtpmap:101 telephone-event/48000\r\n\
             a=rtpmap:100 TELEPHONE-EVENT/8000\r\n\
             a=rtpmap:99 telephone-event/16000\r\n",
        );
        let pt = |value| PayloadType::new(value).unwrap();
        assert_eq!(
            formats(&media),
            vec![
                (pt(18), Format::Other),
                (pt(0), Format::Codec(Codec::Pcmu)),
                (pt(96), Format::Codec(Codec::Pcmu)),
                (pt(8), Format::Other),
                (pt(101), Format::TelephoneEvent(48_000)),
                (pt(100), Format::TelephoneEvent(8000)),
                (pt(99), Format::Other),
            ]
        );
    }

    #[test]
    fn media_level_beats_session_level() {
        let (session, media) = media_of(
            "v=0\r\nc=IN IP4 192.0.2.1\r\na=sendonly\r\na=ptime:30\r\n\
             m=audio 1 RTP/AVP 0\r\nc=IN IP4 192.0.2.2\r\na=inactive\r\na=ptime:20.0\r\n",
        );
        assert_eq!(
            connection_address(&session, &media, 0),
            Ok("192.0.2.2".parse().unwrap())
        );
        assert_eq!(direction(&session, &media), Direction::Inactive);
        assert_eq!(ptime(&session, &media), Ptime::from_millis(20));

        let (session, media) = media_of(
            "v=0\r\nc=IN IP4 192.0.2.1\r\na=sendonly\r\na=ptime:30\r\nm=audio 1 RTP/AVP 0\r\n",
        );
        assert_eq!(
            connection_address(&session, &media, 0),
            Ok("192.0.2.1".parse().unwrap())
        );
        assert_eq!(direction(&session, &media), Direction::SendOnly);
        assert_eq!(ptime(&session, &media), Ptime::from_millis(30));
    }

    #[test]
    fn bad_or_missing_values_are_absent_or_typed_errors() {
        let (session, media) = media_of("v=0\r\nm=audio 1 RTP/AVP 0\r\na=ptime:0\r\na=rtcp:x\r\n");
        assert_eq!(
            connection_address(&session, &media, 0),
            Err(NegotiationError::MissingConnectionAddress { media_index: 0 })
        );
        assert_eq!(ptime(&session, &media), None);
        assert_eq!(rtcp_attribute(&media), None);
        assert_eq!(direction(&session, &media), Direction::SendRecv);

        let (session, media) =
            media_of("v=0\r\nc=IN IP4 pbx.example.com\r\nm=audio 1 RTP/AVP 0\r\n");
        assert_eq!(
            connection_address(&session, &media, 0),
            Err(NegotiationError::InvalidConnectionAddress {
                media_index: 0,
                address: "pbx.example.com".into()
            })
        );
    }

    #[test]
    fn reads_rtcp_attributes() {
        let (_, media) = media_of(
            "v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:53021 IN IP4 126.16.64.4\r\na=rtcp-mux\r\n",
        );
        assert_eq!(
            rtcp_attribute(&media),
            Some((53021, Some("126.16.64.4".parse().unwrap())))
        );
        assert!(has_rtcp_mux(&media));
        let (_, media) = media_of("v=0\r\nm=audio 1 RTP/AVP 0\r\na=rtcp:53021\r\n");
        assert_eq!(rtcp_attribute(&media), Some((53021, None)));
        assert!(!has_rtcp_mux(&media));
    }

    #[test]
    fn only_plain_rtp_audio_is_ours() {
        let (_, media) = media_of("v=0\r\nm=audio 1 RTP/SAVP 0\r\n");
        assert!(!is_rtp_audio(&media));
        let (_, media) = media_of("v=0\r\nm=AUDIO 1 rtp/avpf 0\r\n");
        assert!(is_rtp_audio(&media));
        let (_, media) = media_of("v=0\r\nm=image 1 udptl t38\r\n");
        assert!(!is_rtp_audio(&media));
    }
}
