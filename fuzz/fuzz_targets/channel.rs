//! Fuzzes a whole media channel (one call leg) with untrusted datagrams:
//! latching, RTP and RTCP (muxed) parsing, reframing of odd packet sizes,
//! the jitter buffer, G.711 decoding, in-band and RFC 4733 digits, and the
//! relay of what it accepts into a second channel (a PCMU, PCMA or G.722
//! leg, by the first byte, into a PCMA one). Each datagram is prefixed by a length byte and a byte that picks
//! its source (one of four addresses) and the milliseconds before it; the
//! channel ticks every 20 ms of that virtual time. No input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use media::audio::SILENCE;
use media::channel::{Channel, ChannelConfig, ReceiveMode};
use media::codec::Codec;
use media::rtp::{RtpPacket, Ssrc};
use media::sdp::{self, LocalMedia, SessionDescription, SessionOrigin};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

fn negotiated(codec: Codec, port: u16) -> media::sdp::NegotiatedMedia {
    let payload = codec.payload_type().get();
    let offer = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {payload} 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    let offer = SessionDescription::parse(offer.as_bytes()).expect("a valid offer");
    let local = LocalMedia::new(LOCAL, 40_000, SessionOrigin::new(1, 1));
    sdp::answer(&offer, &local).expect("an answerable offer").media
}

fn channel(now: Instant, ssrc: u32) -> Channel {
    let config = ChannelConfig::new(Ssrc::new(ssrc), "fuzz", 7, SystemTime::UNIX_EPOCH);
    Channel::new(now, config)
}

fuzz_target!(|data: &[u8]| {
    let start = epoch();
    let mut now = start;
    let mut next_tick = start + Duration::from_millis(20);
    let mut leg = channel(start, 1);
    let mut other = channel(start, 2);
    // The first byte picks the leg's codec (a G.722 leg is decoded through
    // its ADPCM state and is not relayed into the G.711 one).
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    leg.set_remote(start, negotiated(Codec::ALL[usize::from(pick) % Codec::ALL.len()], 5000));
    other.set_remote(start, negotiated(Codec::Pcma, 6000));
    leg.set_receive_mode(ReceiveMode::Decode);
    let mut rest = data;
    while rest.len() >= 2 {
        let length = usize::from(rest[0]).min(rest.len() - 2);
        let control = rest[1];
        let datagram = &rest[2..2 + length];
        rest = &rest[2 + length..];
        now += Duration::from_millis(u64::from(control >> 2));
        while next_tick <= now {
            let _ = leg.tick(next_tick);
            leg.push_frame(next_tick, &SILENCE);
            if leg.poll_timeout().is_some_and(|due| due <= next_tick) {
                leg.handle_timeout(next_tick);
            }
            next_tick += Duration::from_millis(20);
        }
        let source = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            5000 + u16::from(control & 3),
        );
        let received = leg.handle_datagram(now, source, datagram);
        if received.is_relayable()
            && let (Some(format), Ok(packet)) = (leg.relay_format(), RtpPacket::parse(datagram))
        {
            let _ = other.relay_from(now, &packet, format);
        }
        while leg.poll_transmit().is_some() {}
        while other.poll_transmit().is_some() {}
        while leg.poll_event().is_some() {}
    }
    let _ = leg.close(now);
    let _ = leg.stats();
});
