//! Who a certificate belongs to: its common name, and its confsync role, carried as a
//! subject alternative name URI `confsync:role:<role>`.

use std::fmt;
use std::str::FromStr;

use x509_parser::extensions::GeneralName;

/// The prefix of the URI that names a certificate's role.
pub const ROLE_URI_PREFIX: &str = "confsync:role:";

/// What a certificate's holder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An administrator: plan, apply, roll back, history, hold, release, and reads.
    Admin,
    /// Another agent pulling data: hello, manifests, chunks, watch.
    Agent,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }

    /// The subject alternative name URI that carries this role.
    pub fn uri(self) -> String {
        format!("{ROLE_URI_PREFIX}{}", self.name())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "agent" => Ok(Role::Agent),
            other => Err(format!("unknown role {other:?}; choose admin or agent")),
        }
    }
}

/// What a peer's certificate says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The subject's common name (the NAME given to `confsync certs issue`).
    pub name: String,
    /// `None` when the certificate names no role, or several.
    pub role: Option<Role>,
    /// Seconds since the Unix epoch after which the certificate is no longer valid.
    pub not_after: i64,
}

/// Reads name, role and expiry from a DER certificate.
pub fn identify(der: &[u8]) -> Result<Identity, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the certificate cannot be parsed: {e}"))?;
    let name = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("(no common name)")
        .to_string();
    let mut roles = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for general in &san.value.general_names {
            if let GeneralName::URI(uri) = general
                && let Some(role) = uri.strip_prefix(ROLE_URI_PREFIX)
            {
                roles.push(role.parse::<Role>().ok());
            }
        }
    }
    let role = match roles.as_slice() {
        [Some(role)] => Some(*role),
        _ => None,
    };
    Ok(Identity { name, role, not_after: cert.validity().not_after.timestamp() })
}
