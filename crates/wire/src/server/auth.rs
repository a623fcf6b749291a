//! Who may call what: the one place where roles are enforced, as a tower layer in front of
//! every service of the agent (the agent service, health, reflection).
//!
//! | role | may call |
//! |---|---|
//! | `agent` | Hello, GetManifest, GetChunkList, GetChunks, GetFiles, Watch, GetChanges, Drift, health, reflection |
//! | `admin` | all of the above, and Plan, Apply, PlanRollback, Rollback, History, Verify, Hold, Release, Confirm, AdoptBase, PutBundle |
//!
//! Anything else, and any certificate without a role, is `PERMISSION_DENIED` naming the
//! role and the call. A plaintext agent (loopback only) enforces no roles. The layer also
//! records who asked ([`Caller`]) for the handlers, for example in the apply history.

use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::codegen::http;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tower::{Layer, Service};

use crate::tls::identity::{self, Role};

/// Calls any role may make (reads, for a destination pulling from its source).
const READ_CALLS: [&str; 8] = [
    "Hello",
    "GetManifest",
    "GetChunkList",
    "GetChunks",
    "GetFiles",
    "Watch",
    "GetChanges",
    "Drift",
];
/// Calls only an administrator may make.
const ADMIN_CALLS: [&str; 11] = [
    "Plan",
    "Apply",
    "PlanRollback",
    "Rollback",
    "History",
    "Verify",
    "Hold",
    "Release",
    "Confirm",
    "AdoptBase",
    "PutBundle",
];
const AGENT_SERVICE: &str = "confsync.v1.Agent";
/// Standard services that only describe the agent.
const OPEN_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// How the connections reaching this layer are to be treated.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Plaintext on loopback (or `--insecure`): every call is allowed.
    Open,
    /// Mutual TLS: calls are allowed by the role in the client's certificate.
    Roles,
    /// A plaintext client reached a TLS agent: every call is refused, saying why.
    RequireTls,
}

/// Who made a call, as handlers see it (a request extension).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The certificate's common name; `None` in plaintext.
    pub name: Option<String>,
    pub role: Option<Role>,
    pub address: Option<SocketAddr>,
}

impl Caller {
    /// "alice (admin) from 10.0.0.5:41000", or the address alone in plaintext.
    pub fn describe(&self) -> String {
        let address = self.address.map_or_else(|| "an unknown address".into(), |a| a.to_string());
        match (&self.name, self.role) {
            (Some(name), Some(role)) => format!("{name} ({role}) from {address}"),
            (Some(name), None) => format!("{name} from {address}"),
            _ => address,
        }
    }
}

/// "Who asked" for a request that passed the layer.
pub fn caller<T>(request: &tonic::Request<T>) -> String {
    request.extensions().get::<Caller>().map_or_else(
        || request.remote_addr().map_or_else(|| "unknown".to_string(), |a| a.to_string()),
        Caller::describe,
    )
}

/// Whether `role` may call the gRPC method at `path` (`/package.Service/Method`).
pub fn allowed(role: Role, path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (service, method) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    if OPEN_SERVICES.contains(&service) {
        return true;
    }
    if service != AGENT_SERVICE {
        return false;
    }
    READ_CALLS.contains(&method) || (role == Role::Admin && ADMIN_CALLS.contains(&method))
}

/// Why a call was denied, for messages.
fn needed(method: &str) -> String {
    if ADMIN_CALLS.contains(&method) {
        format!("{method} needs role admin")
    } else {
        format!("{method} is no call this agent serves")
    }
}

#[derive(Debug, Clone)]
pub struct AuthLayer {
    policy: Arc<Policy>,
}

impl AuthLayer {
    pub fn new(policy: Policy) -> AuthLayer {
        AuthLayer { policy: Arc::new(policy) }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth { inner, policy: Arc::clone(&self.policy) }
    }
}

#[derive(Debug, Clone)]
pub struct Auth<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Auth<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        match decide(&self.policy, &request) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                // The clone is ready-checked on the next poll; the one polled serves now.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                Box::pin(inner.call(request))
            }
            Err(status) => {
                let response = status.into_http::<ResBody>();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

fn decide<B>(policy: &Policy, request: &http::Request<B>) -> Result<Caller, tonic::Status> {
    let path = request.uri().path();
    let method = path.rsplit('/').next().unwrap_or(path);
    let extensions = request.extensions();
    match policy {
        Policy::Open => Ok(Caller {
            address: extensions.get::<TcpConnectInfo>().and_then(TcpConnectInfo::remote_addr),
            ..Caller::default()
        }),
        Policy::RequireTls => Err(tonic::Status::unauthenticated(
            "this agent accepts only mutual TLS, and this client connected in plaintext: \
             give --ca, --cert and --key (or CONFSYNC_CA, CONFSYNC_CERT, CONFSYNC_KEY, or a tls \
             entry in the server list)",
        )),
        Policy::Roles => {
            let info = extensions.get::<TlsConnectInfo<TcpConnectInfo>>();
            let address = info.and_then(|i| i.get_ref().remote_addr());
            let certs = info.and_then(TlsConnectInfo::peer_certs);
            let Some(leaf) = certs.as_deref().and_then(|c| c.first()) else {
                return Err(tonic::Status::unauthenticated(
                    "no client certificate was presented; give --cert and --key",
                ));
            };
            let identity = identity::identify(leaf).map_err(tonic::Status::unauthenticated)?;
            let Some(role) = identity.role else {
                tracing::warn!(name = %identity.name, address = %shown(address), call = method, "denied: the certificate carries no confsync role");
                return Err(tonic::Status::permission_denied(format!(
                    "the certificate {:?} carries no confsync role, so it may not call {method}; \
                     issue one with `confsync certs issue NAME --role admin|agent`",
                    identity.name
                )));
            };
            if !allowed(role, path) {
                tracing::warn!(name = %identity.name, %role, address = %shown(address), call = method, "denied by role");
                return Err(tonic::Status::permission_denied(format!(
                    "the certificate {:?} has role {role}, which may not call {method} ({})",
                    identity.name,
                    needed(method)
                )));
            }
            Ok(Caller { name: Some(identity.name), role: Some(role), address })
        }
    }
}

/// An address for a log line (`127.0.0.1:50100`, or `unknown`), never `Some(...)`.
fn shown(address: Option<SocketAddr>) -> String {
    address.map_or_else(|| "unknown".to_string(), |a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_of_the_protocol_is_classified() {
        let proto = include_str!("../../../../proto/confsync/v1/agent.proto");
        let rpcs: Vec<&str> = proto
            .lines()
            .filter_map(|l| l.trim().strip_prefix("rpc "))
            .filter_map(|l| l.split('(').next())
            .map(str::trim)
            .collect();
        assert!(rpcs.len() >= 11, "{rpcs:?}");
        for rpc in rpcs {
            assert!(
                READ_CALLS.contains(&rpc) ^ ADMIN_CALLS.contains(&rpc),
                "{rpc} must be either a read or an admin call"
            );
        }
    }

    #[test]
    fn agents_read_and_admins_do_everything() {
        let path = |m: &str| format!("/{AGENT_SERVICE}/{m}");
        for m in READ_CALLS {
            assert!(allowed(Role::Agent, &path(m)) && allowed(Role::Admin, &path(m)), "{m}");
        }
        for m in ADMIN_CALLS {
            assert!(!allowed(Role::Agent, &path(m)) && allowed(Role::Admin, &path(m)), "{m}");
        }
        assert!(allowed(Role::Agent, "/grpc.health.v1.Health/Check"));
        assert!(!allowed(Role::Admin, "/other.Service/Call"));
        assert!(!allowed(Role::Admin, &path("Unknown")));
    }
}
