//! The media tick's hot paths: mixing one 20 ms frame for a 100-party
//! conference, and one packet through the jitter buffer.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{Criterion, criterion_group, criterion_main};
use media::audio::{FRAME_SAMPLES, Frame};
use media::jitter_buffer::{JitterBuffer, Playout};
use media::mixer::{Mixer, ParticipantId, Role};
use media::rtp::{RtpTimestamp, SequenceNumber};
use std::hint::black_box;
use std::time::{Duration, Instant};

const PARTICIPANTS: u64 = 100;

/// The role of each participant of a variant.
type RoleOf = fn(u64) -> Role;

/// Speech-like input: a different ramp per participant and tick.
fn input(participant: u64, tick: u64) -> Frame {
    let mut frame = [0; FRAME_SAMPLES];
    for (position, sample) in frame.iter_mut().enumerate() {
        *sample = ((participant * 37 + tick * 11 + position as u64 * 13) % 4_001) as i16 - 2_000;
    }
    frame
}

fn conference(roles: impl Fn(u64) -> Role) -> Mixer {
    let mut mixer = Mixer::with_capacity(PARTICIPANTS as usize);
    for participant in 0..PARTICIPANTS {
        mixer
            .add(ParticipantId::new(participant), roles(participant))
            .expect("fresh id");
    }
    mixer
}

fn mix_tick(mixer: &mut Mixer, inputs: &[Frame]) -> i64 {
    for (participant, frame) in inputs.iter().enumerate() {
        mixer
            .put_frame(ParticipantId::new(participant as u64), frame)
            .expect("present");
    }
    mixer.mix();
    (0..PARTICIPANTS)
        .map(|participant| {
            let output = mixer
                .output(ParticipantId::new(participant))
                .expect("present");
            i64::from(output[0])
        })
        .sum()
}

fn mixer(c: &mut Criterion) {
    let mut group = c.benchmark_group("mixer");
    // Fresh frames each tick: a ring of input sets, walked by the loop.
    let input_sets: Vec<Vec<Frame>> = (0..8)
        .map(|tick| {
            (0..PARTICIPANTS)
                .map(|participant| input(participant, tick))
                .collect()
        })
        .collect();
    let variants: [(&str, RoleOf); 2] = [
        ("conference_100_normal", |_| Role::Normal),
        (
            "conference_100_2_listen_1_whisper",
            |participant| match participant {
                0 | 1 => Role::Listen,
                2 => Role::Whisper {
                    to: ParticipantId::new(3),
                },
                _ => Role::Normal,
            },
        ),
    ];
    for (name, roles) in variants {
        let mut mixer = conference(roles);
        let mut tick = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                tick = (tick + 1) % input_sets.len();
                black_box(mix_tick(&mut mixer, black_box(&input_sets[tick])))
            })
        });
    }
    group.finish();
}

fn jitter_buffer(c: &mut Criterion) {
    let mut group = c.benchmark_group("jitter_buffer");
    let payload = [0xd5u8; 160];
    let start = criterion_epoch();
    // Steady state: one packet in and one frame out per tick, forever.
    let mut buffer = JitterBuffer::new();
    let mut number = 0u32;
    group.bench_function("push_pop_one_packet", |b| {
        b.iter(|| {
            let now = start + Duration::from_millis(20 * u64::from(number));
            buffer.push(
                now,
                SequenceNumber::new(number as u16),
                RtpTimestamp::new(number.wrapping_mul(160)),
                black_box(&payload),
            );
            number = number.wrapping_add(1);
            match buffer.pop(now) {
                Playout::Frame { payload, .. } => payload[0],
                _ => 0,
            }
        })
    });
    group.finish();
}

/// The benchmark's fake clock starts at an arbitrary instant.
fn criterion_epoch() -> Instant {
    #[allow(clippy::disallowed_methods)] // a benchmark is a driver
    Instant::now()
}

criterion_group!(benches, mixer, jitter_buffer);
criterion_main!(benches);
