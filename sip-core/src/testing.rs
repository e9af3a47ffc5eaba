//! Builders for tests of this crate and of its users (feature
//! `test-support`): requests, responses and a fixed clock origin.

#![allow(clippy::disallowed_methods)] // the one place tests take a clock origin

use crate::message::{Limits, Message, Name, Request, Response, parse};
use bytes::Bytes;
use std::time::Instant;

/// A clock origin for fake-clock tests; tests only ever add durations to it.
pub fn epoch() -> Instant {
    Instant::now()
}

/// Parses a request from text with `\n` line ends, which are turned into CRLF.
pub fn request(text: &str) -> Request {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    match parse(Bytes::from(text), &Limits::default()).expect("test request parses") {
        Message::Request(request) => request,
        Message::Response(_) => panic!("expected a request"),
    }
}

/// An INVITE to DID 1000 over UDP with the given branch and an SDP body.
pub fn invite(branch: &str) -> Request {
    request(&format!(
        "INVITE sip:1000@127.0.0.1 SIP/2.0\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport\n\
Max-Forwards: 70\n\
From: \"Alice\" <sip:alice@127.0.0.1>;tag=alice1\n\
To: <sip:1000@127.0.0.1>\n\
Call-ID: call-{branch}@127.0.0.1\n\
CSeq: 1 INVITE\n\
Contact: <sip:alice@127.0.0.1:5070>\n\
Content-Type: application/sdp\n\
\n"
    ))
}

/// A response to `request`, with a To tag when given.
pub fn response_to(request: &Request, status: u16, to_tag: Option<&str>) -> Response {
    let mut response = Response::to_request(request, status);
    if let Some(tag) = to_tag {
        let to = request.headers.first(&Name::TO).expect("request has a To");
        response.headers.set(Name::TO, format!("{to};tag={tag}"));
    }
    response
}

/// A simulated network between endpoints: seeded loss, duplication and
/// reordering, and a clock that jumps to the next deadline.
pub mod network {
    use crate::endpoint::{Endpoint, Event};
    use crate::transport::{Peer, Transmit};
    use bytes::Bytes;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    /// Network conditions.
    #[derive(Debug, Clone, Copy)]
    pub struct Conditions {
        /// Probability that a message is lost.
        pub loss: f64,
        /// Probability that a message is delivered twice.
        pub duplication: f64,
        /// Largest one-way delay; each message draws 1 ms up to this, so
        /// messages overtake each other.
        pub max_delay: Duration,
    }

    impl Conditions {
        /// No loss, no duplication, 1 ms delay.
        pub const PERFECT: Conditions = Conditions {
            loss: 0.0,
            duplication: 0.0,
            max_delay: Duration::from_millis(1),
        };
    }

    struct InFlight {
        at: Instant,
        from: SocketAddr,
        transmit: Transmit,
    }

    /// Endpoints joined by a lossy network, addressed by their local address.
    pub struct Network {
        /// The simulated clock.
        pub now: Instant,
        /// The endpoints, each with the events it has produced.
        pub nodes: Vec<(Endpoint, Vec<Event>)>,
        conditions: Conditions,
        rng: StdRng,
        in_flight: Vec<InFlight>,
        /// Messages delivered so far, for assertions.
        pub delivered: usize,
    }

    impl Network {
        /// A network of `nodes` under `conditions`, seeded.
        pub fn new(nodes: Vec<Endpoint>, conditions: Conditions, seed: u64) -> Network {
            Network {
                now: super::epoch(),
                nodes: nodes.into_iter().map(|node| (node, Vec::new())).collect(),
                conditions,
                rng: StdRng::seed_from_u64(seed),
                in_flight: Vec::new(),
                delivered: 0,
            }
        }

        fn collect(&mut self) {
            for index in 0..self.nodes.len() {
                let from = self.nodes[index].0.config().local_address;
                while let Some(transmit) = self.nodes[index].0.poll_transmit() {
                    if self.rng.random_bool(self.conditions.loss) {
                        continue;
                    }
                    let copies = if self.rng.random_bool(self.conditions.duplication) {
                        2
                    } else {
                        1
                    };
                    for _ in 0..copies {
                        let max = self.conditions.max_delay.as_micros().max(1000) as u64;
                        let delay = Duration::from_micros(self.rng.random_range(1000..=max));
                        self.in_flight.push(InFlight {
                            at: self.now + delay,
                            from,
                            transmit: transmit.clone(),
                        });
                    }
                }
                while let Some(event) = self.nodes[index].0.poll_event() {
                    self.nodes[index].1.push(event);
                }
            }
        }

        /// Advances to the next delivery or timer, runs it, and returns false
        /// when nothing is left to happen before `until`.
        pub fn step(&mut self, until: Instant) -> bool {
            self.collect();
            let next_delivery = self.in_flight.iter().map(|m| m.at).min();
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|(node, _)| node.poll_timeout())
                .min();
            let Some(next) = [next_delivery, next_timer].into_iter().flatten().min() else {
                return false;
            };
            if next > until {
                return false;
            }
            self.now = self.now.max(next);
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) =
                self.in_flight.drain(..).partition(|m| m.at <= now);
            self.in_flight = later;
            for message in due {
                let destination = message.transmit.destination;
                if let Some((node, _)) = self
                    .nodes
                    .iter_mut()
                    .find(|(node, _)| node.config().local_address == destination.address)
                {
                    self.delivered += 1;
                    let source = Peer {
                        transport: destination.transport,
                        address: message.from,
                    };
                    node.handle_datagram(now, source, message.transmit.bytes);
                }
            }
            for (node, _) in &mut self.nodes {
                node.handle_timeout(now);
            }
            self.collect();
            true
        }

        /// Runs until `until` or until nothing is left to happen.
        pub fn run_until(&mut self, until: Instant) {
            while self.step(until) {}
        }

        /// Takes the events node `index` has produced so far.
        pub fn take_events(&mut self, index: usize) -> Vec<Event> {
            self.collect();
            std::mem::take(&mut self.nodes[index].1)
        }

        /// Delivers raw bytes to node `index` as if from `from` over UDP.
        pub fn inject(&mut self, index: usize, from: SocketAddr, bytes: &[u8]) {
            let now = self.now;
            self.nodes[index].0.handle_datagram(
                now,
                Peer {
                    transport: crate::transport::Transport::Udp,
                    address: from,
                },
                Bytes::copy_from_slice(bytes),
            );
        }
    }
}
