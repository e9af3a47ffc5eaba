//! Joining a call's two legs in media: relayed or mixed, on hold or
//! not, as their codecs and hold states say.

use super::*;

/// Joins or parts a bridged call's legs after a hold or resume: while one
/// side holds, the other hears hold music; when neither does, they are
/// bridged again.
pub(super) fn apply_hold(call: &Call, prompts: &Prompts, media: &mut dyn MediaPort) {
    let Some(outbound) = callee(&call.legs).filter(|leg| leg.is_up()) else {
        return;
    };
    let inbound = &call.caller;
    match (inbound.holding, outbound.holding) {
        (false, false) => {
            info!("call resumed");
            media.stop_playback(&inbound.media);
            media.stop_playback(&outbound.media);
            connect(media, call.bridge_mix, &inbound.media, &outbound.media);
        }
        (caller_holds, callee_holds) => {
            info!(caller_holds, callee_holds, "call on hold");
            media.isolate(&inbound.media);
            media.isolate(&outbound.media);
            for (leg, held) in [
                (&outbound.media, caller_holds && !callee_holds),
                (&inbound.media, callee_holds && !caller_holds),
            ] {
                if held {
                    let music = Playable::Looped(prompts.hold_music.clone());
                    media.play(leg, Player::single(music));
                } else {
                    media.stop_playback(leg);
                }
            }
        }
    }
}

/// A bridged call whose legs' codecs (after a re-INVITE, or a late offer
/// answered in the ACK) cannot be relayed to each other is moved into a
/// mix.
pub(super) fn mix_if_codecs_differ(call: &mut Call, media: &mut dyn MediaPort) {
    if let Some(outbound) = callee(&call.legs).filter(|leg| leg.is_up())
        && call.bridge_mix.is_none()
        && !codecs_relay(call.caller.codec, outbound.codec)
    {
        info!("codecs differ: mixing the call");
        call.bridge_mix = Some(media.create_mix(Some(&outbound.media)));
        if !call.caller.holding && !outbound.holding {
            connect(media, call.bridge_mix, &call.caller.media, &outbound.media);
        }
    }
}

/// Every codec we have, `first` first.
pub(super) fn codecs_preferring(first: Codec) -> CodecPreference {
    let ours: Vec<Codec> = std::iter::once(first).chain(Codec::ALL).collect();
    CodecPreference::new(&ours).unwrap_or_default()
}

/// Whether a caller's and a callee's codecs can be relayed to each other
/// packet by packet (G.722 on one side and G.711 on the other cannot: such
/// calls are mixed). Unknown yet counts as relayable.
pub(super) fn codecs_relay(caller: Option<Codec>, callee: Option<Codec>) -> bool {
    match (caller, callee) {
        (Some(caller), Some(callee)) => caller.relays_to(callee),
        _ => true,
    }
}

/// Joins a call's two legs: through `mix` when calls are mixed, else
/// relayed packet by packet.
pub(super) fn connect(media: &mut dyn MediaPort, mix: Option<Mix>, a: &MediaLeg, b: &MediaLeg) {
    match mix {
        Some(mix) => {
            media.join(a, mix, Role::Normal);
            media.join(b, mix, Role::Normal);
        }
        None => media.bridge(a, b),
    }
}
