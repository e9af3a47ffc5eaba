//! The one index from what SIP and media name (an outbound leg's dialog,
//! its INVITE's transaction, a media channel) to the call it belongs to.
//! It changes only where a leg is added ([`Index::add_outbound`],
//! [`Index::add_channel`]) or released ([`Index::remove_outbound`],
//! [`Index::remove_channel`]), and when a trunk's challenge makes a new
//! INVITE ([`Index::rekey_invite`]).

use super::*;

/// Calls by what their legs are named by.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// Call id by an outbound leg's Call-ID (its dialog).
    by_dialog: HashMap<String, CallId>,
    /// Call id by an outbound INVITE's client transaction.
    by_invite: HashMap<ClientKey, CallId>,
    /// Call id by a media channel.
    by_channel: HashMap<ChannelId, CallId>,
}

impl Index {
    /// Lists outbound leg `leg` of call `call_id`: its dialog, its
    /// INVITE, and its channel.
    pub(super) fn add_outbound(&mut self, call_id: &str, leg: &OutboundLeg) {
        self.by_dialog
            .insert(outbound_call_id(&leg.invite), CallId::from(call_id));
        self.by_invite
            .insert(leg.ua.client_key.clone(), CallId::from(call_id));
        self.add_channel(call_id, &leg.media);
    }

    /// Forgets outbound leg `leg`.
    pub(super) fn remove_outbound(&mut self, leg: &OutboundLeg) {
        self.by_dialog.remove(&outbound_call_id(&leg.invite));
        self.by_invite.remove(&leg.ua.client_key);
        self.remove_channel(&leg.media);
    }

    /// Lists the first leg of a placed call, still ringing: its INVITE and
    /// channel (its dialog becomes the call's caller's).
    pub(super) fn add_placed(&mut self, call_id: &str, leg: &OutboundLeg) {
        self.by_invite
            .insert(leg.ua.client_key.clone(), CallId::from(call_id));
        self.add_channel(call_id, &leg.media);
    }

    /// Forgets a placed call's first leg's INVITE (answered or given up);
    /// its channel stays listed while it is the call's caller.
    pub(super) fn remove_placed_invite(&mut self, key: &ClientKey) {
        self.by_invite.remove(key);
    }

    /// Lists media leg `media` of call `call_id`.
    pub(super) fn add_channel(&mut self, call_id: &str, media: &MediaLeg) {
        if let Some(channel) = media.id() {
            self.by_channel.insert(channel, CallId::from(call_id));
        }
    }

    /// Forgets media leg `media`.
    pub(super) fn remove_channel(&mut self, media: &MediaLeg) {
        if let Some(channel) = media.id() {
            self.by_channel.remove(&channel);
        }
    }

    /// A trunk's challenge was answered with a new INVITE: `new` replaces
    /// `old` for call `call_id`.
    pub(super) fn rekey_invite(&mut self, old: &ClientKey, new: ClientKey, call_id: &str) {
        self.by_invite.remove(old);
        self.by_invite.insert(new, CallId::from(call_id));
    }

    /// The call whose outbound leg's Call-ID is `call_id`.
    pub(super) fn call_of_dialog(&self, call_id: &str) -> Option<&CallId> {
        self.by_dialog.get(call_id)
    }

    /// The call of an outbound INVITE.
    pub(super) fn call_of_invite(&self, key: &ClientKey) -> Option<&CallId> {
        self.by_invite.get(key)
    }

    /// The call of a media channel.
    pub(super) fn call_of_channel(&self, channel: ChannelId) -> Option<&CallId> {
        self.by_channel.get(&channel)
    }
}
