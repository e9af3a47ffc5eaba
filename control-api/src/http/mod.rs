//! The HTTP control API under `/api/v1` (axum), described by an OpenAPI 3
//! document generated from the handlers themselves
//! (`/api/v1/openapi.json`), so the two cannot drift apart.
//!
//! Every route but `/api/v1/health` needs a bearer token ([`auth`]).

pub mod accounts;
pub mod agents;
pub mod auth;
pub mod calls;
pub mod cdrs;
pub mod dids;
pub mod docs;
pub mod error;
pub mod events;
pub mod flows;
pub mod holidays;
pub mod inbound;
pub mod integer;
pub mod mailboxes;
pub mod naming;
pub mod paging;
pub mod passwords;
pub mod patch;
pub mod phones;
pub mod prompts;
pub mod recordings;
pub mod reports;
pub mod skills;
pub mod tokens;
pub mod users;
pub mod voicemails;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get, post};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::storage::{Backend, Storage};
use crate::switch::{Command, DirectoryChange};
use auth::Caller;
use error::{ApiError, ErrorBody};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub storage: Storage,
    /// The SIP digest realm phones' HA1s are computed in.
    pub realm: String,
    /// The call controller's command channel.
    pub commands: tokio::sync::mpsc::UnboundedSender<Command>,
    /// Held by [`Self::directory_write`].
    pub directory_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// What `/metrics` shows.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// The live events, for `/api/v1/events`.
    pub events: crate::events::EventHub,
    /// Turns true when the server stops (open event streams end).
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// Where recordings are.
    pub recordings_dir: std::path::PathBuf,
    /// Where voicemail messages are.
    pub voicemail_dir: std::path::PathBuf,
    /// How logins are policed.
    pub login: users::LoginPolicy,
    /// The usage report's billing unit, in seconds.
    pub billing_unit_seconds: u32,
    /// Text to speech (flows that `say` need it).
    pub tts: crate::tts::Tts,
}

impl AppState {
    /// Runs `write` (a change to phones or DIDs, stored and then told to
    /// the call controller) to its end, one at a time: the controller
    /// learns changes in the order they were stored, and a client that
    /// hangs up mid-request cannot leave a change stored but untold (the
    /// write runs in its own task, which the request only awaits).
    #[allow(clippy::disallowed_methods)] // the API is a driver: it spawns
    pub async fn directory_write<T: Send + 'static>(
        &self,
        write: impl std::future::Future<Output = Result<T, ApiError>> + Send + 'static,
    ) -> Result<T, ApiError> {
        let lock = self.directory_lock.clone();
        tokio::spawn(async move {
            let _one_at_a_time = lock.lock().await;
            write.await
        })
        .await
        .map_err(|error| ApiError::Internal(error.into()))?
    }

    /// Tells the call controller about a directory change and waits until
    /// it is in force, so that the request that made it is answered only
    /// when the next call sees it (a controller that has stopped, at
    /// shutdown, no longer needs to know); then tells the other nodes on
    /// the same PostgreSQL database ([`crate::directory_sync`]).
    pub async fn directory(&self, change: DirectoryChange) {
        let changed = crate::directory_sync::Changed::of(&change);
        let (applied, done) = tokio::sync::oneshot::channel();
        let command = Command::Directory {
            change,
            applied: Some(applied),
        };
        if self.commands.send(command).is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), done).await;
        }
        if let Some(changed) = changed {
            crate::directory_sync::announce(&self.storage, &changed).await;
        }
    }

    /// The wall-clock time now, as stored and shown (RFC 3339, UTC,
    /// seconds). The API is a driver: it reads the clock itself.
    pub fn now_rfc3339(&self) -> String {
        now_rfc3339()
    }
}

/// The wall-clock time now (RFC 3339, UTC, seconds).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/docs", get(docs::page))
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/api/v1/tokens/{id}", delete(tokens::revoke))
        .route("/api/v1/login", post(users::login))
        .route("/api/v1/users", post(users::create).get(users::list))
        .route(
            "/api/v1/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route("/api/v1/users/{id}/unlock", post(users::unlock))
        .route(
            "/api/v1/accounts",
            post(accounts::create).get(accounts::list),
        )
        .route(
            "/api/v1/accounts/{id}",
            get(accounts::get)
                .patch(accounts::update)
                .delete(accounts::delete),
        )
        .route("/api/v1/dids", post(dids::create).get(dids::list))
        .route(
            "/api/v1/dids/{id}",
            get(dids::get).patch(dids::update).delete(dids::delete),
        )
        .route("/api/v1/flows", post(flows::create).get(flows::list))
        .route(
            "/api/v1/flows/{id}",
            get(flows::get).patch(flows::update).delete(flows::delete),
        )
        .route("/api/v1/flows/{id}/versions", get(flows::versions))
        .route("/api/v1/reports/usage", get(reports::usage))
        .route("/api/v1/reports/service-level", get(reports::service_level))
        .route("/api/v1/events", get(events::stream))
        .route("/api/v1/events/ws", get(events::socket))
        .route("/api/v1/recordings", get(recordings::list))
        .route(
            "/api/v1/recordings/{id}",
            get(recordings::get).delete(recordings::delete),
        )
        .route("/api/v1/recordings/{id}/audio", get(recordings::audio))
        .route("/api/v1/prompts", get(prompts::list))
        .route("/api/v1/prompts/bundled", get(prompts::bundled))
        .route(
            "/api/v1/prompts/{name}",
            get(prompts::get)
                .put(prompts::upload)
                .delete(prompts::delete)
                .layer(axum::extract::DefaultBodyLimit::max(
                    prompts::LARGEST_UPLOAD,
                )),
        )
        .route("/api/v1/prompts/{name}/audio", get(prompts::audio))
        .route(
            "/api/v1/voicemail-boxes",
            post(mailboxes::create).get(mailboxes::list),
        )
        .route(
            "/api/v1/voicemail-boxes/{id}",
            get(mailboxes::get)
                .patch(mailboxes::update)
                .delete(mailboxes::delete),
        )
        .route("/api/v1/voicemails", get(voicemails::list))
        .route(
            "/api/v1/voicemails/{id}",
            get(voicemails::get)
                .patch(voicemails::update)
                .delete(voicemails::delete),
        )
        .route("/api/v1/voicemails/{id}/audio", get(voicemails::audio))
        .route("/api/v1/calls", get(calls::list).post(calls::place))
        .route("/api/v1/calls/{call_id}", delete(calls::hang_up))
        .route("/api/v1/calls/{call_id}/transfer", post(calls::transfer))
        .route(
            "/api/v1/calls/{call_id}/recording",
            post(calls::start_recording).delete(calls::stop_recording),
        )
        .route("/api/v1/calls/{call_id}/play", post(calls::play))
        .route("/api/v1/cdrs", get(cdrs::list))
        .route("/api/v1/cdrs.csv", get(cdrs::export))
        .route("/api/v1/cdrs/{id}", get(cdrs::get))
        .route("/api/v1/phones", post(phones::create).get(phones::list))
        .route(
            "/api/v1/phones/{id}",
            get(phones::get)
                .patch(phones::update)
                .delete(phones::delete),
        )
        .route("/api/v1/skills", post(skills::create).get(skills::list))
        .route(
            "/api/v1/skills/{id}",
            get(skills::get)
                .patch(skills::update)
                .delete(skills::delete),
        )
        .route("/api/v1/agents", post(agents::create).get(agents::list))
        .route(
            "/api/v1/agents/{id}",
            get(agents::get)
                .patch(agents::update)
                .delete(agents::delete),
        )
        .route(
            "/api/v1/holidays",
            post(holidays::create).get(holidays::list),
        )
        .route(
            "/api/v1/holidays/{id}",
            get(holidays::get)
                .patch(holidays::update)
                .delete(holidays::delete),
        )
        .fallback(not_found)
        .with_state(state)
}

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard control API",
        description = "Provision and control Switchboard over HTTP. Every route but health needs `Authorization: Bearer <token>`.",
    ),
    paths(
        health, openapi_json, docs::page, metrics,
        tokens::list, tokens::create, tokens::revoke,
        users::login, users::create, users::list, users::get, users::update, users::delete,
        users::unlock,
        accounts::create, accounts::list, accounts::get, accounts::update, accounts::delete,
        phones::create, phones::list, phones::get, phones::update, phones::delete,
        dids::create, dids::list, dids::get, dids::update, dids::delete,
        flows::create, flows::list, flows::get, flows::update, flows::delete, flows::versions,
        skills::create, skills::list, skills::get, skills::update, skills::delete,
        agents::create, agents::list, agents::get, agents::update, agents::delete,
        holidays::create, holidays::list, holidays::get, holidays::update, holidays::delete,
        cdrs::list, cdrs::get, cdrs::export,
        reports::usage, reports::service_level,
        calls::list, calls::place, calls::hang_up, calls::transfer, calls::start_recording,
        calls::stop_recording, calls::play, events::stream, events::socket,
        recordings::list, recordings::get, recordings::audio, recordings::delete,
        voicemails::list, voicemails::get, voicemails::audio, voicemails::update,
        voicemails::delete, mailboxes::create, mailboxes::list, mailboxes::get,
        mailboxes::update, mailboxes::delete, prompts::upload, prompts::list, prompts::bundled, prompts::get,
        prompts::audio, prompts::delete,
    ),
    components(schemas(
        ErrorBody, Health, auth::Role,
        tokens::Token, tokens::CreatedToken, tokens::NewToken,
        users::User, users::NewUser, users::UserChanges, users::Credentials, users::Session,
        accounts::Account, accounts::NewAccount, accounts::AccountChanges,
        phones::Phone, phones::NewPhone, phones::PhoneChanges,
        dids::Did, dids::NewDid, dids::DidChanges, dids::AnsweredBy,
        inbound::Inbound, inbound::OneTimeSchedule, inbound::WeeklySchedule, inbound::Day, inbound::InboundSettings,
        inbound::Speech, inbound::CallOptions, inbound::CallOptionAction,
        inbound::VoicemailSettings,
        flows::Flow, flows::NewFlow, flows::FlowChanges, flows::FlowVersion,
        skills::Skill, skills::NewSkill, skills::SkillChanges,
        agents::Agent, agents::AgentSkill, agents::SkillLevel, agents::NewAgent, agents::AgentChanges,
        holidays::Holiday, holidays::NewHoliday, holidays::HolidayChanges,
        reports::Usage, reports::UsageRow, reports::ServiceLevel, reports::SkillLevel,
        cdrs::CdrRecord, crate::cdr::Direction, crate::cdr::HungUpBy, crate::cdr::LegQuality,
        crate::switch::LiveCall, crate::switch::LiveLeg, crate::events::LiveEvent,
        calls::NewCall, calls::CallParty, calls::CallDestination, calls::PlacedCall,
        calls::Transfer, calls::RecordingStarted, calls::PlayPrompt, calls::PromptListeners,
        recordings::Recording, voicemails::Voicemail, voicemails::VoicemailChanges,
        mailboxes::Mailbox, mailboxes::NewMailbox, mailboxes::MailboxChanges, mailboxes::Owner,
        prompts::UploadedPrompt,
    )),
    modifiers(&BearerAuth, &TimeZones),
    tags(
        (name = "tokens", description = "Bearer tokens for this API"),
        (name = "users", description = "People who log in with a password, and their roles"),
        (name = "accounts", description = "Accounts (clients) that DIDs, phones, agents, holidays and recordings belong to"),
        (name = "phones", description = "SIP users that register and are called by extension"),
        (name = "dids", description = "The numbers carriers send calls to, and what answers them"),
        (name = "skills", description = "What agents are good at"),
        (name = "agents", description = "People who log in and take calls on a phone's extension, with their skills"),
        (name = "holidays", description = "Days an account's DIDs are closed"),
        (name = "flows", description = "IVR flows: JSON documents of verbs, versioned"),
        (name = "cdrs", description = "Call detail records"),
        (name = "reports", description = "Usage by client and month, service level by skill"),
        (name = "calls", description = "Calls in progress: placed, hung up, transferred, recorded, played to"),
        (name = "events", description = "The live event stream"),
        (name = "recordings", description = "Call recordings and their retention"),
        (name = "voicemails", description = "Voicemail boxes (an account's, a group's or an agent's) and the messages flows leave in them"),
        (name = "prompts", description = "Prompts and hold music uploaded for flows"),
        (name = "server", description = "The server itself"),
    ),
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Lists the IANA time zones a `time_zone` field takes.
struct TimeZones;

impl Modify for TimeZones {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
        // Absent or null: the default (or no change).
        let zones: Vec<serde_json::Value> = chrono_tz::TZ_VARIANTS
            .iter()
            .map(|zone| serde_json::Value::from(zone.name()))
            .chain([serde_json::Value::Null])
            .collect();
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in ["NewDid", "DidChanges"] {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
                object.properties.insert(
                    "time_zone".to_string(),
                    ObjectBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                        .description(Some("An IANA time zone (default UTC)"))
                        .enum_values(Some(zones.clone()))
                        .into(),
                );
            }
        }
    }
}

/// The health check's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` while the server runs and its database answers.
    pub status: String,
    /// Which database it stores in: `sqlite` or `postgres`.
    pub database: String,
}

/// Whether the server is up and its database answers. No token needed.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "server",
    responses(
        (status = 200, description = "Up", body = Health),
        (status = 500, description = "The database does not answer", body = ErrorBody),
    )
)]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.storage.ping().await?;
    Ok(Json(Health {
        status: "ok".to_string(),
        database: match state.storage.backend() {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
        .to_string(),
    }))
}

/// The server's counters in Prometheus text format: calls active and
/// started, registrations, SIP responses by class, RTP received and lost,
/// the CDR writer's backlog. Any token reads it (Prometheus sends it as
/// `bearer_token`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "server",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain"),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn metrics(
    State(state): State<AppState>,
    _caller: Caller,
) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// This API's OpenAPI 3 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "server",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json"),
    )
)]
pub async fn openapi_json() -> Json<serde_json::Value> {
    Json(openapi_document())
}

/// The OpenAPI document: what utoipa derives from the handlers, with the
/// flow language's own JSON Schema (the `ivr` crate's) for flow documents.
pub fn openapi_document() -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let schemas = &mut document["components"]["schemas"];
    for (name, schema) in ivr::json_schemas("#/components/schemas/") {
        schemas[name] = schema;
    }
    let flow_document = serde_json::json!({"$ref": "#/components/schemas/FlowDocument"});
    for (schema, required) in [
        ("NewFlow", true),
        ("Flow", true),
        ("FlowVersion", true),
        ("FlowChanges", false),
    ] {
        let property = &mut schemas[schema]["properties"]["document"];
        if property.is_object() {
            *property = if required {
                flow_document.clone()
            } else {
                serde_json::json!({"oneOf": [flow_document, {"type": "null"}]})
            };
        }
    }
    // A DID's `answered_by` takes only its variant's keys; the inbound
    // settings' variant is their object with `type` added to it.
    let settings = document["components"]["schemas"]["InboundSettings"].clone();
    if let Some(variants) = document["components"]["schemas"]["AnsweredBy"]["oneOf"].as_array_mut()
    {
        for variant in variants {
            if let Some(parts) = variant["allOf"].as_array().cloned() {
                let mut merged = settings.clone();
                for part in parts.iter().filter(|part| part.get("$ref").is_none()) {
                    if let (Some(into), Some(from)) = (
                        merged["properties"].as_object_mut(),
                        part["properties"].as_object(),
                    ) {
                        into.extend(from.clone());
                    }
                    let required = part["required"].as_array().cloned().unwrap_or_default();
                    match merged["required"].as_array_mut() {
                        Some(into) => into.extend(required),
                        None => merged["required"] = serde_json::Value::Array(required),
                    }
                }
                merged["description"] = parts[0]["description"].clone();
                *variant = merged;
            }
            if variant.is_object() {
                variant["additionalProperties"] = serde_json::Value::Bool(false);
            }
        }
    }
    // A call option's action, a spoken or played greeting and a voicemail
    // box's owner take only their variant's keys.
    for name in ["CallOptionAction", "Speech", "Owner"] {
        if let Some(variants) = document["components"]["schemas"][name]["oneOf"].as_array_mut() {
            for variant in variants.iter_mut().filter(|variant| variant.is_object()) {
                variant["additionalProperties"] = serde_json::Value::Bool(false);
            }
        }
    }
    // Call options are keyed by DTMF key.
    let options = &mut document["components"]["schemas"]["CallOptions"]["properties"]["options"];
    if options.is_object() {
        options["propertyNames"] = serde_json::json!({"pattern": "^[0-9*#]$"});
        options["minProperties"] = serde_json::json!(1);
    }
    // An upload's body is the file's bytes.
    document["paths"]["/api/v1/prompts/{name}"]["put"]["requestBody"]["content"]["application/octet-stream"]
        ["schema"] = serde_json::json!({"type": "string", "format": "binary"});
    forbid_nul(&mut document);
    document
}

/// Says of every free-text string in `schema` (and below) that it holds
/// no NUL: no database stores NUL in text, and the API refuses it.
fn forbid_nul(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(fields) => {
            let is_string = match fields.get("type") {
                Some(serde_json::Value::String(kind)) => kind == "string",
                Some(serde_json::Value::Array(kinds)) => kinds.iter().any(|kind| kind == "string"),
                _ => false,
            };
            let free = !["enum", "const", "format", "$ref"]
                .iter()
                .any(|key| fields.contains_key(*key));
            for value in fields.values_mut() {
                forbid_nul(value);
            }
            if is_string && free {
                let no_nul = serde_json::json!({"pattern": "^[^\\x00]*$"});
                match fields.get_mut("allOf") {
                    Some(serde_json::Value::Array(all)) => all.push(no_nul),
                    _ => {
                        fields.insert("allOf".to_string(), serde_json::json!([no_nul]));
                    }
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(forbid_nul),
        _ => {}
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".to_string())
}
