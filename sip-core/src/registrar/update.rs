//! Applying a REGISTER's contacts to the bindings (RFC 3261 §10.3 steps
//! 6–7): expiry intervals, the wildcard, Call-ID and CSeq ordering, the
//! per-user limit, and the expiry index kept in step.

use super::binding::{Binding, QValue, print_uri, uri_equivalent};
use super::{Registrar, RegistrarEvent, RemovalReason};
use crate::message::{Contact, Contacts, Name, Request, parse_delta_seconds};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A contact update that cannot be applied; nothing is changed.
pub(super) enum Refusal {
    /// `400` with this reason.
    BadRequest(Cow<'static, str>),
    /// `423` with Min-Expires.
    IntervalTooBrief,
    /// `500`: §10.3 step 7.
    OutOfOrder,
    /// `403`: over the per-user limit.
    TooManyContacts,
}

/// The parts of a REGISTER that go into its bindings.
pub(super) struct Update<'a> {
    pub(super) user: &'a str,
    pub(super) call_id: &'a str,
    pub(super) cseq: u32,
    pub(super) source: SocketAddr,
    pub(super) transport: &'a str,
}

impl Registrar {
    /// §10.3 steps 6–7 for an authenticated REGISTER: every contact
    /// update is applied, or on a refusal none is.
    pub(super) fn update_bindings(
        &mut self,
        now: Instant,
        request: &Request,
        update: &Update<'_>,
    ) -> Result<(), Refusal> {
        let contacts = request
            .headers
            .contacts()
            .map_err(|error| Refusal::BadRequest(error.to_string().into()))?;
        let expires = request
            .headers
            .expires()
            .map_err(|error| Refusal::BadRequest(error.to_string().into()))?;
        self.expire_user(now, update.user);
        match &contacts {
            Contacts::Wildcard if request.headers.all(&Name::CONTACT).count() != 1 => {
                Err(Refusal::BadRequest("Wildcard Contact Must Be Alone".into()))
            }
            Contacts::Wildcard => self.unbind_all(update, expires),
            Contacts::List(list) => self.bind(now, update, expires, list),
        }
    }

    /// Drops `user`'s lapsed bindings before they are counted or listed.
    fn expire_user(&mut self, now: Instant, user: &str) {
        let Some(bindings) = self.users.get_mut(user) else {
            return;
        };
        let expiries = &mut self.expiries;
        let events = &mut self.events;
        bindings.retain(|binding| {
            if binding.expires_at > now {
                return true;
            }
            expiries.remove(&(binding.expires_at, binding.id));
            events.push_back(RegistrarEvent::RegistrationRemoved {
                user: user.to_owned(),
                contact: binding.contact_text.clone(),
                reason: RemovalReason::Expired,
            });
            false
        });
        if bindings.is_empty() {
            self.users.remove(user);
        }
    }

    /// `Contact: *` with `Expires: 0` (RFC 3261 §10.2.2, §10.3 step 6).
    fn unbind_all(
        &mut self,
        update: &Update<'_>,
        expires_header: Option<u32>,
    ) -> Result<(), Refusal> {
        if expires_header != Some(0) {
            return Err(Refusal::BadRequest(
                "Wildcard Contact Requires Expires: 0".into(),
            ));
        }
        let existing = self.users.get(update.user).map_or(&[][..], Vec::as_slice);
        if existing
            .iter()
            .any(|binding| is_out_of_order(binding, update))
        {
            return Err(Refusal::OutOfOrder);
        }
        let events: Vec<RegistrarEvent> = existing
            .iter()
            .map(|binding| RegistrarEvent::RegistrationRemoved {
                user: update.user.to_owned(),
                contact: binding.contact_text.clone(),
                reason: RemovalReason::Unregistered,
            })
            .collect();
        self.commit(update.user, Vec::new());
        self.events.extend(events);
        Ok(())
    }

    /// Adds, refreshes and removes the listed contacts (§10.3 steps 6–7):
    /// all of them or, on any refusal, none.
    fn bind(
        &mut self,
        now: Instant,
        update: &Update<'_>,
        expires_header: Option<u32>,
        contacts: &[Contact],
    ) -> Result<(), Refusal> {
        if contacts.is_empty() {
            return Ok(());
        }
        let existing = self.users.get(update.user).map_or(&[][..], Vec::as_slice);
        let mut bindings = existing.to_vec();
        let mut events = Vec::new();
        for contact in contacts {
            let expires = match contact.params.get("expires") {
                Some(param) => param
                    .value
                    .as_deref()
                    .and_then(parse_delta_seconds)
                    .ok_or(Refusal::BadRequest("Malformed Contact expires".into()))?,
                None => expires_header.unwrap_or(self.config.default_expires),
            };
            if expires != 0 && expires < self.config.min_expires {
                return Err(Refusal::IntervalTooBrief);
            }
            let expires = expires.min(self.config.max_expires);
            let q = match contact.params.get("q") {
                Some(param) => Some(
                    param
                        .value
                        .as_deref()
                        .and_then(QValue::parse)
                        .ok_or(Refusal::BadRequest("Malformed Contact q".into()))?,
                ),
                None => None,
            };
            let instance_id = contact
                .params
                .get_val("+sip.instance")
                .map(|value| value.as_str().trim_matches('"').to_owned());
            let uri = &contact.uri.uri;
            // Step 7 against the bindings as they were before this request.
            if existing.iter().any(|binding| {
                binding.matches(uri, instance_id.as_deref()) && is_out_of_order(binding, update)
            }) {
                return Err(Refusal::OutOfOrder);
            }
            let expires_at = now + Duration::from_secs(u64::from(expires));
            let position = bindings
                .iter()
                .position(|binding| binding.matches(uri, instance_id.as_deref()));
            match position {
                Some(index) if expires == 0 => {
                    let binding = bindings.remove(index);
                    events.push(RegistrarEvent::RegistrationRemoved {
                        user: update.user.to_owned(),
                        contact: binding.contact_text,
                        reason: RemovalReason::Unregistered,
                    });
                }
                Some(index) => {
                    let binding = &mut bindings[index];
                    if !uri_equivalent(&binding.contact, uri) {
                        let contact_text = print_uri(uri);
                        events.push(RegistrarEvent::RegistrationRemoved {
                            user: update.user.to_owned(),
                            contact: std::mem::replace(
                                &mut binding.contact_text,
                                contact_text.clone(),
                            ),
                            reason: RemovalReason::Replaced,
                        });
                        events.push(RegistrarEvent::RegistrationAdded {
                            user: update.user.to_owned(),
                            contact: contact_text,
                        });
                        binding.contact = uri.clone();
                    }
                    binding.received = update.source;
                    binding.transport.clear();
                    binding.transport.push_str(update.transport);
                    binding.expires_at = expires_at;
                    binding.updated_at = now;
                    if binding.call_id != update.call_id {
                        binding.call_id = update.call_id.to_owned();
                    }
                    binding.cseq = update.cseq;
                    binding.q = q;
                    binding.instance_id = instance_id;
                }
                None if expires == 0 => {}
                None => {
                    let contact_text = print_uri(uri);
                    events.push(RegistrarEvent::RegistrationAdded {
                        user: update.user.to_owned(),
                        contact: contact_text.clone(),
                    });
                    bindings.push(Binding {
                        contact: uri.clone(),
                        contact_text,
                        received: update.source,
                        transport: update.transport.to_owned(),
                        expires_at,
                        updated_at: now,
                        call_id: update.call_id.to_owned(),
                        cseq: update.cseq,
                        q,
                        instance_id,
                        id: 0,
                    });
                }
            }
        }
        if bindings.len() > self.config.max_contacts_per_user {
            return Err(Refusal::TooManyContacts);
        }
        // New bindings get their ids only once the update is certain.
        for binding in bindings.iter_mut().filter(|binding| binding.id == 0) {
            binding.id = self.next_id();
        }
        self.commit(update.user, bindings);
        self.events.extend(events);
        Ok(())
    }

    /// Replaces `user`'s bindings and keeps the expiry index in step.
    fn commit(&mut self, user: &str, bindings: Vec<Binding>) {
        let old = self.users.get(user).map_or(&[][..], Vec::as_slice);
        let unchanged = |a: &Binding, b: &Binding| a.id == b.id && a.expires_at == b.expires_at;
        for binding in old {
            if !bindings.iter().any(|new| unchanged(new, binding)) {
                self.expiries.remove(&(binding.expires_at, binding.id));
            }
        }
        for binding in &bindings {
            if !old.iter().any(|previous| unchanged(previous, binding)) {
                self.expiries
                    .insert((binding.expires_at, binding.id), user.to_owned());
            }
        }
        if bindings.is_empty() {
            self.users.remove(user);
        } else if let Some(slot) = self.users.get_mut(user) {
            *slot = bindings;
        } else {
            self.users.insert(user.to_owned(), bindings);
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_binding_id += 1;
        self.next_binding_id
    }
}

/// §10.3 step 7: the same Call-ID with a CSeq not above the stored one.
fn is_out_of_order(binding: &Binding, update: &Update<'_>) -> bool {
    binding.call_id == update.call_id && update.cseq <= binding.cseq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Name;
    use crate::registrar::RegistrarConfig;
    use crate::registrar::test_phone::*;

    #[test]
    fn too_brief_interval_gets_423_with_min_expires() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let response = register(
            &mut registrar,
            &mut phone,
            epoch(),
            &["<sip:alice@192.0.2.10>"],
            "Expires: 30\r\n",
        );
        assert_eq!(response.status, 423);
        assert_eq!(
            response.headers.first(&Name::MIN_EXPIRES).unwrap().as_str(),
            "60"
        );
        assert!(to_tag(&response).is_some());
        assert_eq!(registrar.bindings_count(), 0);
        let response = register(
            &mut registrar,
            &mut phone,
            epoch(),
            &["<sip:alice@192.0.2.10>;expires=59"],
            "Expires: 600\r\n",
        );
        assert_eq!(response.status, 423, "the contact's own expires wins");
    }

    #[test]
    fn long_intervals_are_clamped_and_contact_expires_wins() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let response = register(
            &mut registrar,
            &mut phone,
            epoch(),
            &[
                "<sip:alice@192.0.2.10>;expires=120",
                "<sip:alice@192.0.2.11>",
            ],
            "Expires: 86400\r\n",
        );
        assert_eq!(response.status, 200);
        assert_eq!(
            contacts_of(&response),
            [
                "<sip:alice@192.0.2.10>;expires=120",
                "<sip:alice@192.0.2.11>;expires=3600"
            ]
        );
    }

    #[test]
    fn unregister_one_contact_with_expires_zero() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>", "<sip:alice@192.0.2.11>"],
            "",
        );
        events(&mut registrar);
        let response = register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "Expires: 0\r\n",
        );
        assert_eq!(response.status, 200);
        assert_eq!(
            contacts_of(&response),
            ["<sip:alice@192.0.2.11>;expires=3600"]
        );
        assert_eq!(
            events(&mut registrar),
            [RegistrarEvent::RegistrationRemoved {
                user: "alice".into(),
                contact: "sip:alice@192.0.2.10".into(),
                reason: RemovalReason::Unregistered
            }]
        );
        assert_eq!(registrar.bindings_count(), 1);
    }

    #[test]
    fn unregister_everything_with_the_wildcard() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>", "<sip:alice@192.0.2.11>"],
            "",
        );
        events(&mut registrar);

        let response = register(&mut registrar, &mut phone, t0, &["*"], "Expires: 60\r\n");
        assert_eq!(response.status, 400, "* needs Expires: 0");
        let response = register(&mut registrar, &mut phone, t0, &["*"], "");
        assert_eq!(response.status, 400, "* needs an Expires header");
        let response = register(
            &mut registrar,
            &mut phone,
            t0,
            &["*", "<sip:alice@192.0.2.12>"],
            "Expires: 0\r\n",
        );
        assert_eq!(response.status, 400, "* must be alone");
        assert_eq!(registrar.bindings_count(), 2);

        let response = register(&mut registrar, &mut phone, t0, &["*"], "Expires: 0\r\n");
        assert_eq!(response.status, 200);
        assert!(contacts_of(&response).is_empty());
        assert_eq!(registrar.bindings_count(), 0);
        assert_eq!(registrar.poll_timeout(), None);
        let removed = events(&mut registrar);
        assert_eq!(removed.len(), 2);
        assert!(removed.iter().all(|event| matches!(
            event,
            RegistrarEvent::RegistrationRemoved {
                reason: RemovalReason::Unregistered,
                ..
            }
        )));
    }

    #[test]
    fn several_contacts_are_ordered_by_q_then_recency() {
        let mut registrar = registrar();
        let mut desk = Phone::new("alice", "secret");
        let mut soft = Phone::new("alice", "secret");
        soft.call_id = "softphone@192.0.2.20".into();
        let t0 = epoch();
        register(
            &mut registrar,
            &mut desk,
            t0,
            &["<sip:alice@192.0.2.10>;q=0.5"],
            "",
        );
        register(
            &mut registrar,
            &mut soft,
            t0 + Duration::from_secs(1),
            &["<sip:alice@192.0.2.20>;q=0.5"],
            "",
        );
        register(
            &mut registrar,
            &mut soft,
            t0 + Duration::from_secs(2),
            &["<sip:alice@192.0.2.30>;q=0.9", "<sip:alice@192.0.2.40>"],
            "",
        );
        let order: Vec<String> = registrar
            .lookup(t0 + Duration::from_secs(3), "alice")
            .into_iter()
            .map(|binding| binding.contact_text)
            .collect();
        assert_eq!(
            order,
            [
                "sip:alice@192.0.2.40",
                "sip:alice@192.0.2.30",
                "sip:alice@192.0.2.20",
                "sip:alice@192.0.2.10"
            ]
        );
        assert_eq!(registrar.bindings_count(), 4);
        assert!(registrar.lookup(t0, "bob").is_empty());
    }

    #[test]
    fn too_many_contacts_are_refused_as_a_whole() {
        let mut config = RegistrarConfig::new(REALM);
        config.max_contacts_per_user = 2;
        let mut registrar = Registrar::with_seed(config, 1);
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        let response = register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.11>", "<sip:alice@192.0.2.12>"],
            "",
        );
        assert_eq!(response.status, 403);
        assert_eq!(registrar.bindings_count(), 1);
        // Replacing one while adding one fits.
        let response = register(
            &mut registrar,
            &mut phone,
            t0,
            &[
                "<sip:alice@192.0.2.10>;expires=0",
                "<sip:alice@192.0.2.11>",
                "<sip:alice@192.0.2.12>",
            ],
            "",
        );
        assert_eq!(response.status, 200);
        assert_eq!(registrar.bindings_count(), 2);
    }

    #[test]
    fn lapsed_bindings_do_not_count_toward_the_limit() {
        let mut config = RegistrarConfig::new(REALM);
        config.max_contacts_per_user = 1;
        let mut registrar = Registrar::with_seed(config, 3);
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>;expires=60"],
            "",
        );
        // handle_timeout has not run yet; the new contact still fits.
        let later = t0 + Duration::from_secs(61);
        let mut fresh = Phone::new("alice", "secret");
        let response = register(
            &mut registrar,
            &mut fresh,
            later,
            &["<sip:alice@192.0.2.99>"],
            "",
        );
        assert_eq!(response.status, 200, "{response}");
        assert_eq!(
            contacts_of(&response),
            ["<sip:alice@192.0.2.99>;expires=3600"]
        );
    }

    #[test]
    fn out_of_order_cseq_fails_with_500_and_changes_nothing() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        let mut request = phone.request(
            &["<sip:alice@192.0.2.10>;expires=0", "<sip:alice@192.0.2.11>"],
            "",
        );
        request.headers.set(Name::CSEQ, "2 REGISTER");
        let outcome = send(&mut registrar, t0, &request);
        assert_eq!(outcome.response.status, 500);
        assert_eq!(registrar.lookup(t0, "alice").len(), 1);
        assert_eq!(
            registrar.lookup(t0, "alice")[0].contact_text,
            "sip:alice@192.0.2.10"
        );
        // Another Call-ID (a rebooted phone) may use any CSeq.
        let mut rebooted = Phone::new("alice", "secret");
        rebooted.call_id = "after-reboot@192.0.2.10".into();
        let response = register(
            &mut registrar,
            &mut rebooted,
            t0,
            &["<sip:alice@192.0.2.10>"],
            "",
        );
        assert_eq!(response.status, 200);
        assert_eq!(
            registrar.lookup(t0, "alice")[0].call_id,
            "after-reboot@192.0.2.10"
        );
    }

    #[test]
    fn malformed_parameters_get_400() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        for (contact, extra) in [
            ("<sip:alice@192.0.2.10>;expires=soon", ""),
            ("<sip:alice@192.0.2.10>;q=2", ""),
            ("<sip:alice@192.0.2.10>", "Expires: never\r\n"),
        ] {
            let response = register(&mut registrar, &mut phone, t0, &[contact], extra);
            assert_eq!(response.status, 400, "{contact} {extra}");
        }
        let mut request = phone.request(&[], "");
        request.headers.remove(&Name::AUTHORIZATION);
        request
            .headers
            .push(Name::AUTHORIZATION, "Digest username=\"alice");
        assert_eq!(send(&mut registrar, t0, &request).response.status, 400);
        assert_eq!(registrar.bindings_count(), 0);
    }

    #[test]
    fn instance_id_moves_a_binding() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        let instance = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
        let first = format!("<sip:alice@192.0.2.10:5060>;{instance}");
        let response = register(&mut registrar, &mut phone, t0, &[&first], "");
        assert_eq!(response.status, 200);
        assert_eq!(
            contacts_of(&response),
            [format!(
                "<sip:alice@192.0.2.10:5060>;expires=3600;{instance}"
            )]
        );
        events(&mut registrar);
        let moved = format!("<sip:alice@192.0.2.77:5062>;{instance}");
        let response = register(&mut registrar, &mut phone, t0, &[&moved], "");
        assert_eq!(response.status, 200);
        assert_eq!(registrar.bindings_count(), 1);
        assert_eq!(
            events(&mut registrar),
            [
                RegistrarEvent::RegistrationRemoved {
                    user: "alice".into(),
                    contact: "sip:alice@192.0.2.10:5060".into(),
                    reason: RemovalReason::Replaced
                },
                RegistrarEvent::RegistrationAdded {
                    user: "alice".into(),
                    contact: "sip:alice@192.0.2.77:5062".into()
                }
            ]
        );
    }

    #[test]
    fn query_without_contacts_lists_bindings() {
        let mut registrar = registrar();
        let mut phone = Phone::new("alice", "secret");
        let t0 = epoch();
        register(
            &mut registrar,
            &mut phone,
            t0,
            &["<sip:alice@192.0.2.10>;q=0.25"],
            "",
        );
        let response = register(
            &mut registrar,
            &mut phone,
            t0 + Duration::from_secs(10),
            &[],
            "",
        );
        assert_eq!(response.status, 200);
        assert_eq!(
            contacts_of(&response),
            ["<sip:alice@192.0.2.10>;expires=3590;q=0.25"]
        );
    }
}
