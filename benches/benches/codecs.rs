//! One 20 ms frame through each codec's encoder and decoder, as a decoded
//! (mixed) leg does every tick: what a codec costs per leg.
#![allow(missing_docs)] // criterion_group! generates undocumented functions

use criterion::{Criterion, criterion_group, criterion_main};
use media::audio::{FRAME_SAMPLES, Frame, SAMPLE_RATE};
use media::codec::{Codec, Decoder, Encoder, MAX_FRAME_BYTES};
use std::hint::black_box;

/// Speech-band input: two tones, a different phase every frame.
fn input(frame_index: usize) -> Frame {
    std::array::from_fn(|n| {
        let t = (frame_index * FRAME_SAMPLES + n) as f64 / f64::from(SAMPLE_RATE);
        let angle = 2.0 * std::f64::consts::PI * t;
        (6000.0 * (angle * 440.0).sin() + 3000.0 * (angle * 1270.0).sin()) as i16
    })
}

fn codecs(c: &mut Criterion) {
    let frames: Vec<Frame> = (0..50).map(input).collect();
    for codec in Codec::ALL {
        let name = codec.encoding_name();
        let mut encoder = Encoder::new(codec);
        let mut next = 0;
        c.bench_function(&format!("codec/encode/{name}"), |b| {
            b.iter(|| {
                let mut payload = [0u8; MAX_FRAME_BYTES];
                next = (next + 1) % frames.len();
                black_box(encoder.encode(black_box(&frames[next]), &mut payload))
            })
        });
        // A second of encoded packets, decoded in a loop.
        let mut encoder = Encoder::new(codec);
        let packets: Vec<Vec<u8>> = frames
            .iter()
            .map(|frame| {
                let mut payload = [0u8; MAX_FRAME_BYTES];
                let length = encoder.encode(frame, &mut payload);
                payload[..length].to_vec()
            })
            .collect();
        let mut decoder = Decoder::new(codec);
        let mut next = 0;
        c.bench_function(&format!("codec/decode/{name}"), |b| {
            b.iter(|| {
                let mut frame = [0i16; FRAME_SAMPLES];
                next = (next + 1) % packets.len();
                black_box(decoder.decode(black_box(&packets[next]), &mut frame))
            })
        });
    }
}

criterion_group!(benches, codecs);
criterion_main!(benches);
