//! The relay fast path of a bridged two-leg call: one G.711 packet from
//! phone X arrives at leg A, is relayed into leg B's stream and queued for
//! phone Y. Measured without sockets (the channels' own work per packet)
//! and with loopback sockets (adding the `recvfrom` and `sendto` a media
//! worker makes per packet).
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{Criterion, criterion_group, criterion_main};
use media::channel::{Channel, ChannelConfig, ReceiveMode};
use media::codec::Codec;
use media::rtp::{PayloadType, RtpHeader, RtpPacket, RtpTimestamp, SequenceNumber, Ssrc};
use media::sdp::{Direction, NegotiatedMedia, Ptime};
use std::hint::black_box;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

/// The media clock's step between two packets.
const PACKET_INTERVAL: Duration = Duration::from_millis(20);

const PHONE_X: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
    4000,
);
const PHONE_Y: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)),
    5000,
);

/// What an offer/answer with a phone at `remote` negotiates.
fn negotiated(remote: SocketAddr, codec: Codec) -> NegotiatedMedia {
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
        direction: Direction::SendRecv,
        ptime: Ptime::DEFAULT,
        rtcp_mux: true,
    }
}

/// The two legs of a bridged call, as a media worker holds them, and the
/// next packet phone X sends to leg A.
struct Bridge {
    now: Instant,
    a: Channel,
    b: Channel,
    datagram: [u8; RtpHeader::LEN + 160],
    sequence: u16,
    timestamp: u32,
}

impl Bridge {
    fn new(from_x: Codec, to_y: Codec) -> Self {
        let now = bench_epoch();
        let leg = |ssrc: u32| {
            let config = ChannelConfig::new(
                Ssrc::new(ssrc),
                format!("switchboard-{ssrc}@192.0.2.10"),
                u64::from(ssrc),
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            );
            let mut channel = Channel::new(now, config);
            channel.set_receive_mode(ReceiveMode::Relay);
            channel
        };
        let (mut a, mut b) = (leg(0xa), leg(0xb));
        a.set_remote(now, negotiated(PHONE_X, from_x));
        b.set_remote(now, negotiated(PHONE_Y, to_y));
        let mut datagram = [0; RtpHeader::LEN + 160];
        // A talkspurt in progress: no marker.
        RtpHeader {
            marker: false,
            payload_type: from_x.payload_type(),
            sequence_number: SequenceNumber::new(0),
            timestamp: RtpTimestamp::new(0),
            ssrc: Ssrc::new(0x0102_0304),
        }
        .write(&[0x55; 160], &mut datagram)
        .expect("the buffer fits a G.711 packet");
        Self {
            now,
            a,
            b,
            datagram,
            sequence: 0,
            timestamp: 0,
        }
    }

    /// Phone X's next packet, 20 ms after the last (only the sequence
    /// number and timestamp change). Each iteration then copies it, as the
    /// kernel copies a datagram into the worker's buffer.
    fn next_packet(&mut self) {
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(160);
        self.datagram[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        self.datagram[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        self.now += PACKET_INTERVAL;
    }

    /// The media worker's path before the channel returned the parsed
    /// packet: `datagram` from `source` is parsed again for `relay_from`.
    /// Returns the bytes leg B queued.
    fn relay_parsing_twice(&mut self, source: SocketAddr, datagram: &[u8]) -> usize {
        let now = self.now;
        if !self.a.handle_datagram(now, source, datagram).is_relayable() {
            return 0;
        }
        let Some(format) = self.a.relay_format() else {
            return 0;
        };
        let Ok(packet) = RtpPacket::parse(datagram) else {
            return 0;
        };
        let _ = self.b.relay_from(now, &packet, format);
        self.b
            .poll_transmit()
            .map_or(0, |transmit| transmit.bytes.len())
    }

    /// The same with the packet as leg A parsed it.
    fn relay_parsed_once(&mut self, source: SocketAddr, datagram: &[u8]) -> usize {
        let now = self.now;
        let (_, relayable) = self.a.handle_datagram_to_relay(now, source, datagram);
        let Some(packet) = relayable else {
            return 0;
        };
        let _ = self.b.relay(now, &packet);
        self.b
            .poll_transmit()
            .map_or(0, |transmit| transmit.bytes.len())
    }
}

fn relay(c: &mut Criterion) {
    let mut group = c.benchmark_group("relay");
    let variants = [
        ("pcmu_to_pcmu", Codec::Pcmu, Codec::Pcmu),
        ("pcmu_to_pcma", Codec::Pcmu, Codec::Pcma),
    ];
    for (name, from_x, to_y) in variants {
        let mut bridge = Bridge::new(from_x, to_y);
        group.bench_function(format!("{name}_parsing_twice"), |b| {
            b.iter(|| {
                bridge.next_packet();
                let datagram = bridge.datagram;
                black_box(bridge.relay_parsing_twice(PHONE_X, black_box(&datagram)))
            })
        });
        let mut bridge = Bridge::new(from_x, to_y);
        group.bench_function(format!("{name}_parsed_once"), |b| {
            b.iter(|| {
                bridge.next_packet();
                let datagram = bridge.datagram;
                black_box(bridge.relay_parsed_once(PHONE_X, black_box(&datagram)))
            })
        });
    }
    group.finish();
}

/// Loopback sockets standing for phone X, leg A's RTP socket, leg B's RTP
/// socket and phone Y.
struct Sockets {
    phone_x: UdpSocket,
    leg_a: UdpSocket,
    leg_b: UdpSocket,
    phone_y: UdpSocket,
    buffer: [u8; 2048],
}

impl Sockets {
    fn new() -> Self {
        let bind = || {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("a loopback port");
            socket.set_nonblocking(true).expect("non-blocking");
            socket
        };
        Self {
            phone_x: bind(),
            leg_a: bind(),
            leg_b: bind(),
            phone_y: bind(),
            buffer: [0; 2048],
        }
    }

    /// What a media worker does with one readable event on leg A's socket
    /// holding one datagram; `until_would_block` adds the read that finds
    /// the socket empty, as an edge-triggered loop (the engine's) makes.
    fn relay_one(&mut self, bridge: &mut Bridge, until_would_block: bool) -> usize {
        let Ok((length, source)) = self.leg_a.recv_from(&mut self.buffer) else {
            return 0;
        };
        let now = bridge.now;
        let (_, relayable) = bridge
            .a
            .handle_datagram_to_relay(now, source, &self.buffer[..length]);
        if let Some(packet) = relayable {
            let _ = bridge.b.relay(now, &packet);
        }
        let mut sent = 0;
        while let Some(transmit) = bridge.b.poll_transmit() {
            sent += self
                .leg_b
                .send_to(transmit.bytes, transmit.destination)
                .unwrap_or(0);
        }
        if until_would_block {
            let empty = self.leg_a.recv_from(&mut self.buffer);
            debug_assert!(empty.is_err());
        }
        sent
    }

    /// Untimed: empties phone Y's queue and has phone X send `datagram`.
    fn send_from_x(&mut self, datagram: &[u8]) {
        while self.phone_y.recv_from(&mut self.buffer).is_ok() {}
        let leg_a = self.leg_a.local_addr().expect("bound");
        self.phone_x
            .send_to(datagram, leg_a)
            .expect("loopback accepts the datagram");
    }
}

/// A media worker's whole per-packet work: `recvfrom` on leg A, the
/// channels with the packet parsed once, `sendto` from leg B; then the same
/// with the extra `recvfrom` that finds leg A's socket empty. Phone X's
/// `sendto` and the draining of phone Y are not timed.
fn relay_with_sockets(c: &mut Criterion) {
    let mut group = c.benchmark_group("relay_with_sockets");
    for (name, until_would_block) in [
        ("pcmu_to_pcmu_one_read", false),
        ("pcmu_to_pcmu_reading_until_would_block", true),
    ] {
        let mut bridge = Bridge::new(Codec::Pcmu, Codec::Pcmu);
        let mut sockets = Sockets::new();
        let now = bridge.now;
        let phone_x = sockets.phone_x.local_addr().expect("bound");
        let phone_y = sockets.phone_y.local_addr().expect("bound");
        bridge.a.set_remote(now, negotiated(phone_x, Codec::Pcmu));
        bridge.b.set_remote(now, negotiated(phone_y, Codec::Pcmu));
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let mut timed = Duration::ZERO;
                for _ in 0..iterations {
                    bridge.next_packet();
                    sockets.send_from_x(&bridge.datagram);
                    let started = bench_epoch();
                    black_box(sockets.relay_one(&mut bridge, until_would_block));
                    timed += started.elapsed();
                }
                timed
            })
        });
    }
    group.finish();
}

/// The benchmark's fake clock starts at an arbitrary instant; the socket
/// variant also times itself with it.
fn bench_epoch() -> Instant {
    #[allow(clippy::disallowed_methods)] // a benchmark is a driver
    Instant::now()
}

criterion_group!(benches, relay, relay_with_sockets);
criterion_main!(benches);
