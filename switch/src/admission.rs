//! Routing and admission: the one place where a number is looked up and a
//! new call is admitted or refused, before any media is spent on it.
//!
//! [`Routing`] holds what the directory provisions (each DID's and each
//! phone's route, the DIDs out of service) and what admission counts (the
//! calls in progress of each DID with a calls limit). [`Routing::admit`]
//! decides, in this order:
//!
//! 1. a DID out of service: 404, never the trunk;
//! 2. a number with a route: that route, a DID's resolved at the wall
//!    time (holidays, schedules);
//! 3. else, with a trunk configured, a dialable number goes out through
//!    it; anything else is 404;
//! 4. a DID at its calls limit: the limit's flow, or 486 Busy Here.

use std::collections::{HashMap, HashSet};

use crate::id::{Extension, Number};
use crate::route::{FlowSource, Route};

/// What the directory routes, and the limited DIDs' calls in progress.
#[derive(Debug, Default)]
pub struct Routing {
    routes: HashMap<Number, Route>,
    /// DIDs of ours that are deactivated (404, never the trunk).
    inactive_dids: HashSet<Number>,
    /// Calls in progress of each DID that has a calls limit.
    did_calls: HashMap<Number, u32>,
    /// Numbers with no route may go out through a trunk.
    trunk: bool,
}

/// A new call let in.
#[derive(Debug)]
pub struct Admitted {
    /// Where the call goes.
    pub route: Route,
    /// The DID whose calls limit the call counts against, if any: pass it
    /// to [`Routing::call_started`] once the call exists, and to
    /// [`Routing::call_ended`] when it ends.
    pub limited_did: Option<Number>,
}

/// A new call turned away, with the status the caller gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The SIP status.
    pub status: u16,
    /// Why, for the log (no number in it: numbers are logged at debug).
    pub reason: &'static str,
}

impl Routing {
    /// Routing with nothing provisioned; numbers with no route go out
    /// through a trunk when `trunk` is true.
    pub fn new(trunk: bool) -> Routing {
        Routing {
            trunk,
            ..Routing::default()
        }
    }

    /// Whether numbers with no route go out through a trunk.
    pub fn has_trunk(&self) -> bool {
        self.trunk
    }

    /// The route provisioned for `number` (a DID's unresolved).
    pub fn route(&self, number: &str) -> Option<&Route> {
        self.routes.get(number)
    }

    /// Whether `number` is a DID of ours out of service.
    pub fn is_inactive(&self, number: &str) -> bool {
        self.inactive_dids.contains(number)
    }

    /// Phone `extension` answers to its own number.
    pub fn phone_active(&mut self, extension: Extension) {
        self.routes
            .insert(Number::from(extension.as_str()), Route::Phone(extension));
    }

    /// Phone `extension` is gone: its own route goes, a DID of that number
    /// routed elsewhere stays.
    pub fn phone_gone(&mut self, extension: &str) {
        if matches!(self.routes.get(extension), Some(Route::Phone(target)) if **target == *extension)
        {
            self.routes.remove(extension);
        }
    }

    /// DID `number` is in service with `route`.
    pub fn did_active(&mut self, number: Number, route: Route) {
        self.inactive_dids.remove(&number);
        self.routes.insert(number, route);
    }

    /// DID `number` is ours but out of service.
    pub fn did_inactive(&mut self, number: Number) {
        self.routes.remove(&number);
        self.inactive_dids.insert(number);
    }

    /// DID `number` is no longer ours.
    pub fn did_gone(&mut self, number: &str) {
        self.routes.remove(number);
        self.inactive_dids.remove(number);
    }

    /// Forgets every route and DID (before the directory is read again);
    /// calls in progress keep counting.
    pub fn clear(&mut self) {
        self.routes.clear();
        self.inactive_dids.clear();
    }

    /// Admits or refuses a new call to `number` at wall time `wall`.
    pub fn admit(
        &self,
        number: &str,
        wall: chrono::DateTime<chrono::Utc>,
    ) -> Result<Admitted, Refused> {
        if self.inactive_dids.contains(number) {
            return Err(Refused {
                status: 404,
                reason: "the dialled DID is not in service",
            });
        }
        let route = match self.routes.get(number) {
            Some(route) => route.clone(),
            None if self.trunk && is_dialable(number) => Route::Trunk(Number::from(number)),
            None => {
                return Err(Refused {
                    status: 404,
                    reason: "no route for the dialled number",
                });
            }
        };
        let Route::Did(did) = route else {
            return Ok(Admitted {
                route,
                limited_did: None,
            });
        };
        match &did.calls_limit {
            Some(limit) if self.calls_of(number) >= limit.calls => match &limit.flow {
                Some(flow) => Ok(Admitted {
                    route: Route::Flow {
                        flow: FlowSource::Compiled(flow.clone()),
                        time_zone: did.time_zone,
                    },
                    limited_did: None,
                }),
                None => Err(Refused {
                    status: 486,
                    reason: "the DID's calls limit is reached",
                }),
            },
            limit => Ok(Admitted {
                route: did.route_at(wall),
                limited_did: limit.is_some().then(|| Number::from(number)),
            }),
        }
    }

    /// A call admitted against `did`'s calls limit is in progress.
    pub fn call_started(&mut self, did: &str) {
        *self.did_calls.entry(Number::from(did)).or_default() += 1;
    }

    /// A call counted against `did`'s calls limit ended.
    pub fn call_ended(&mut self, did: &str) {
        if let Some(count) = self.did_calls.get_mut(did) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.did_calls.remove(did);
            }
        }
    }

    /// Calls in progress counted against `did`'s calls limit.
    pub fn calls_of(&self, did: &str) -> u32 {
        self.did_calls.get(did).copied().unwrap_or(0)
    }
}

/// Whether `user` is a number a trunk could dial: digits (and `*`, `#`),
/// with an optional leading `+`.
pub fn is_dialable(user: &str) -> bool {
    let digits = user.strip_prefix('+').unwrap_or(user);
    !digits.is_empty()
        && digits
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'*' || byte == b'#')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::did::{CallsLimit, DidRoute};
    use std::sync::Arc;

    fn noon() -> chrono::DateTime<chrono::Utc> {
        "2026-12-07T12:00:00Z".parse().unwrap()
    }

    fn limited(calls: u32, flow: Option<Arc<ivr::Flow>>) -> Route {
        Route::Did(Arc::new(DidRoute {
            default: Route::Echo,
            time_zone: chrono_tz::UTC,
            calls_limit: Some(CallsLimit { calls, flow }),
            holiday_flow: None,
            holidays: Vec::new(),
            schedules: Vec::new(),
        }))
    }

    #[test]
    fn an_inactive_did_is_refused_and_never_goes_to_the_trunk() {
        let mut routing = Routing::new(true);
        routing.did_inactive("5551000".into());
        let refused = routing.admit("5551000", noon()).unwrap_err();
        assert_eq!(refused.status, 404);
        routing.did_active("5551000".into(), Route::Echo);
        assert_eq!(routing.admit("5551000", noon()).unwrap().route, Route::Echo);
        routing.did_gone("5551000");
        assert_eq!(
            routing.admit("5551000", noon()).unwrap().route,
            Route::Trunk("5551000".into())
        );
    }

    #[test]
    fn numbers_with_no_route_go_out_only_with_a_trunk_and_only_if_dialable() {
        let without = Routing::new(false);
        assert_eq!(without.admit("5551234", noon()).unwrap_err().status, 404);
        let with = Routing::new(true);
        assert_eq!(
            with.admit("+4420*1#", noon()).unwrap().route,
            Route::Trunk("+4420*1#".into())
        );
        assert_eq!(with.admit("alice", noon()).unwrap_err().status, 404);
        assert_eq!(with.admit("+", noon()).unwrap_err().status, 404);
    }

    #[test]
    fn a_phone_gone_leaves_a_did_of_its_number_routed_elsewhere() {
        let mut routing = Routing::new(false);
        routing.phone_active("1001".into());
        assert_eq!(routing.route("1001"), Some(&Route::Phone("1001".into())));
        routing.phone_gone("1001");
        assert_eq!(routing.route("1001"), None);
        routing.did_active("1001".into(), Route::Echo);
        routing.phone_gone("1001");
        assert_eq!(routing.route("1001"), Some(&Route::Echo));
    }

    #[test]
    fn a_did_at_its_calls_limit_is_busy_or_plays_its_flow() {
        let mut routing = Routing::new(false);
        routing.did_active("7000".into(), limited(2, None));
        for _ in 0..2 {
            let admitted = routing.admit("7000", noon()).unwrap();
            assert_eq!(admitted.route, Route::Echo);
            assert_eq!(admitted.limited_did.as_deref(), Some("7000"));
            routing.call_started("7000");
        }
        assert_eq!(
            routing.admit("7000", noon()).unwrap_err(),
            Refused {
                status: 486,
                reason: "the DID's calls limit is reached"
            }
        );
        routing.call_ended("7000");
        assert_eq!(routing.calls_of("7000"), 1);
        assert!(routing.admit("7000", noon()).is_ok());

        let text = ivr::flow::parse(&serde_json::json!({"verbs": [{"verb": "hangup"}]}));
        let text = Arc::new(text.unwrap());
        routing.did_active("7100".into(), limited(0, Some(text)));
        let over = routing.admit("7100", noon()).unwrap();
        assert!(matches!(over.route, Route::Flow { .. }), "{:?}", over.route);
        assert_eq!(over.limited_did, None);
    }
}
