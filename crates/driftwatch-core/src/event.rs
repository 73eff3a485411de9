//! [`LoginEvent`]: the one shape every input format is decoded into.
//!
//! Adapters in [`crate::decode`] produce it; everything after decode (resolve, enrich,
//! detect) reads only this type, so a rule never needs to know which vendor sent a record.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The input formats driftwatch decodes. `Auto` is not a format of a record but a request
/// to detect the format per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Okta System Log API JSON.
    Okta,
    /// Microsoft Entra ID sign-ins: Graph `signIn` objects or the Event Hub diagnostic shape.
    Entra,
    /// Google Workspace Admin SDK Reports API, application `login`.
    GoogleWorkspace,
    /// OCSF Authentication (class_uid 3002).
    Ocsf,
    /// Elastic Common Schema authentication events.
    Ecs,
    /// PAN-OS GlobalProtect syslog (CSV body).
    Globalprotect,
    /// Cisco ASA / AnyConnect syslog.
    CiscoAsa,
    /// OpenVPN server log.
    Openvpn,
    /// Fortinet FortiGate SSL-VPN key=value log.
    Fortinet,
}

impl Format {
    /// Every concrete format, in the order auto-detection tries them.
    pub const ALL: [Format; 9] = [
        Format::Okta,
        Format::Entra,
        Format::GoogleWorkspace,
        Format::Ocsf,
        Format::Ecs,
        Format::Globalprotect,
        Format::CiscoAsa,
        Format::Fortinet,
        Format::Openvpn,
    ];

    /// The stable name used in config, on the command line, in metrics and in alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Okta => "okta",
            Format::Entra => "entra",
            Format::GoogleWorkspace => "google_workspace",
            Format::Ocsf => "ocsf",
            Format::Ecs => "ecs",
            Format::Globalprotect => "globalprotect",
            Format::CiscoAsa => "cisco_asa",
            Format::Openvpn => "openvpn",
            Format::Fortinet => "fortinet",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Did the attempt succeed?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    /// The source does not say (e.g. a logout, or an MFA challenge still pending).
    Unknown,
}

/// Why a non-interactive event happened. These are counted but never scored: token
/// refreshes and service principals are most of a sign-in log and carry no evidence of
/// where a person sits (docs/domain.md, "Non-interactive sign-ins drown the signal").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonInteractive {
    /// A client refreshing or redeeming a token without the user present.
    TokenRefresh,
    /// An application or service principal authenticating as itself.
    ServicePrincipal,
    /// A managed identity, service account or other machine identity.
    ServiceAccount,
}

/// What kind of event a record is. Only [`EventKind::is_interactive`] kinds are scored.
/// Serialized as its flat name ([`EventKind::as_str`]), e.g. `"token_refresh"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A person signing in (SSO, web, portal). Success or failure is in [`LoginEvent::outcome`].
    InteractiveLogin,
    /// A multi-factor step (challenge, push, OTP) of an interactive sign-in.
    Mfa,
    /// A VPN tunnel or session being established.
    VpnSessionStart,
    /// A VPN tunnel or session ending; duration and bytes are in [`LoginEvent::vpn`] when given.
    VpnSessionEnd,
    /// A user signing out or a session expiring.
    Logout,
    /// A sign-in with no person at the keyboard.
    NonInteractive(NonInteractive),
}

impl EventKind {
    /// Kinds that say where a person is at a moment: the ones detectors score.
    pub fn is_interactive(self) -> bool {
        matches!(
            self,
            EventKind::InteractiveLogin | EventKind::Mfa | EventKind::VpnSessionStart
        )
    }

    /// Every kind, for parsing names and pre-registering metrics.
    pub const ALL: [EventKind; 8] = [
        EventKind::InteractiveLogin,
        EventKind::Mfa,
        EventKind::VpnSessionStart,
        EventKind::VpnSessionEnd,
        EventKind::Logout,
        EventKind::NonInteractive(NonInteractive::TokenRefresh),
        EventKind::NonInteractive(NonInteractive::ServicePrincipal),
        EventKind::NonInteractive(NonInteractive::ServiceAccount),
    ];

    /// The stable name used in metrics and alerts.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::InteractiveLogin => "interactive_login",
            EventKind::Mfa => "mfa",
            EventKind::VpnSessionStart => "vpn_session_start",
            EventKind::VpnSessionEnd => "vpn_session_end",
            EventKind::Logout => "logout",
            EventKind::NonInteractive(NonInteractive::TokenRefresh) => "token_refresh",
            EventKind::NonInteractive(NonInteractive::ServicePrincipal) => "service_principal",
            EventKind::NonInteractive(NonInteractive::ServiceAccount) => "service_account",
        }
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event kind {name:?}")))
    }
}

/// VPN session figures, when the source gives them (session end records mostly).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpnSession {
    /// Session length in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
    /// Bytes from the client to the network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<u64>,
    /// Bytes from the network to the client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    /// The address assigned inside the tunnel, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_ip: Option<IpAddr>,
}

/// What the source itself said about the network, kept as evidence beside our own GeoIP
/// (Okta `securityContext`, Entra risk fields). Never trusted over our databases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorContext {
    /// The source flagged the address as a proxy / anonymizer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_proxy: Option<bool>,
    /// The autonomous system the source attributed the address to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_number: Option<u32>,
    /// The source's own country for the address (ISO code or name, as given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// One login-related event from any source, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginEvent {
    /// When it happened (event time, not ingestion time), in UTC.
    pub time: DateTime<Utc>,
    /// The account as the source names it: e-mail, UPN, `DOMAIN\user` or bare username.
    /// Resolved to an employee by the roster's aliases.
    pub user: String,
    /// The client's public address as the source saw it.
    pub ip: IpAddr,
    pub outcome: Outcome,
    pub kind: EventKind,
    /// The format the record was decoded from.
    pub format: Format,
    /// The source's own event id, when it has one (Okta `uuid`, Entra `id`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// Device or host name / id, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Session id, when given (Okta externalSessionId, VPN session id, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The identity provider's id tying together the requests of one sign-in, when given
    /// (Okta `transaction.id`, Entra `correlationId`, OCSF `metadata.correlation_uid`):
    /// what the IdP's own logs and support are searched by, unlike `source_id`, which
    /// names one record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The application signed in to, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The user agent string, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The source's reason for a failure, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// VPN figures, for VPN kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpn: Option<VpnSession>,
    /// What the source said about the network.
    #[serde(default, skip_serializing_if = "is_default_vendor")]
    pub vendor: VendorContext,
}

fn is_default_vendor(v: &VendorContext) -> bool {
    *v == VendorContext::default()
}

impl LoginEvent {
    /// A minimal event with no optional fields; adapters fill in what they have.
    pub fn new(
        format: Format,
        time: DateTime<Utc>,
        user: String,
        ip: IpAddr,
        kind: EventKind,
        outcome: Outcome,
    ) -> Self {
        LoginEvent {
            time,
            user,
            ip,
            outcome,
            kind,
            format,
            source_id: None,
            device: None,
            session: None,
            correlation_id: None,
            app: None,
            user_agent: None,
            reason: None,
            vpn: None,
            vendor: VendorContext::default(),
        }
    }
}
