//! Certificates and TLS agents for the security tests: a CA made with the real
//! `confsync certs`, odd certificates (expired) made with the library, agents started with
//! `--tls-*`, and raw TLS channels for clients the CLI would never build (no certificate).

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use confsync_wire::tls::Role;
use confsync_wire::tls::pki::{Authority, CertRequest};
use confsync_wire::{Target, TlsFiles as ClientTls};

use crate::support::{Spawned, assert_exit, confsync, spawn_agent};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A certificate authority in a temporary folder, created by `confsync certs init`.
pub(crate) struct Pki {
    pub dir: tempfile::TempDir,
}

/// A certificate, its key, and the CA file a holder trusts.
#[derive(Debug, Clone)]
pub(crate) struct Creds {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    pub(crate) fn new() -> Pki {
        let dir = tempfile::tempdir().expect("create the PKI folder");
        let output = confsync(&["certs", "init", "--dir", &path(dir.path())]);
        assert_exit(&output, 0);
        Pki { dir }
    }

    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `confsync certs issue NAME --role ROLE --san 127.0.0.1 --san localhost`.
    pub(crate) fn issue(&self, name: &str, role: &str) -> Creds {
        let dir = path(self.dir.path());
        let mut args = vec!["certs", "issue", name, "--role", role, "--dir", &dir];
        if role == "agent" {
            args.extend(["--san", "127.0.0.1", "--san", "localhost"]);
        }
        assert_exit(&confsync(&args), 0);
        self.creds(name)
    }

    /// A certificate signed by this CA but valid only between the given Unix times.
    pub(crate) fn issue_valid(&self, name: &str, role: Role, from: i64, until: i64) -> Creds {
        let authority = Authority::load(self.dir.path()).expect("load the test CA");
        let time = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).expect("valid time");
        let request = CertRequest {
            name: name.to_string(),
            role,
            sans: vec!["127.0.0.1".into()],
            not_before: time(from),
            not_after: time(until),
        };
        let issued = authority.issue(&request).expect("issue a test certificate");
        std::fs::write(self.dir.path().join(format!("{name}.pem")), issued.cert_pem)
            .expect("write certificate");
        std::fs::write(self.dir.path().join(format!("{name}.key")), issued.key_pem)
            .expect("write key");
        self.creds(name)
    }

    fn creds(&self, name: &str) -> Creds {
        Creds {
            ca: self.ca(),
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}.key")),
        }
    }
}

impl Creds {
    /// The global CLI flags that present this certificate.
    pub(crate) fn cli_args(&self) -> Vec<String> {
        vec![
            "--ca".into(),
            path(&self.ca),
            "--cert".into(),
            path(&self.cert),
            "--key".into(),
            path(&self.key),
        ]
    }

    /// The agent flags that serve with this certificate.
    pub(crate) fn agent_args(&self) -> Vec<String> {
        vec![
            "--tls-ca".into(),
            path(&self.ca),
            "--tls-cert".into(),
            path(&self.cert),
            "--tls-key".into(),
            path(&self.key),
        ]
    }

    pub(crate) fn files(&self) -> ClientTls {
        ClientTls { ca: self.ca.clone(), cert: self.cert.clone(), key: self.key.clone() }
    }

    pub(crate) fn target(&self, address: &str) -> Target {
        Target { address: address.to_string(), tls: Some(self.files()) }
    }

    /// The same certificate, trusting another CA file.
    pub(crate) fn trusting(&self, ca: &Path) -> Creds {
        Creds { ca: ca.to_path_buf(), ..self.clone() }
    }
}

pub(crate) fn path(p: &Path) -> String {
    p.to_str().expect("UTF-8 test paths").to_string()
}

/// Runs the CLI with a certificate: `confsync --ca .. --cert .. --key .. ARGS`.
pub(crate) fn confsync_as(creds: &Creds, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = creds.cli_args();
    all.extend(args.iter().map(|a| a.to_string()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    confsync(&all)
}

/// A real `confsync agent` started with extra arguments (TLS flags); killed when dropped.
pub(crate) struct TlsAgent {
    child: Child,
    pub address: String,
    pub root: PathBuf,
    pub name: String,
    log: tempfile::NamedTempFile,
}

impl TlsAgent {
    /// An agent serving `root` with `creds` (an agent certificate), ready when this returns
    /// (checked with `admin`'s certificate).
    pub(crate) fn start(
        root: &Path,
        name: &str,
        creds: &Creds,
        admin: &Creds,
        env: &[(&str, &str)],
    ) -> TlsAgent {
        let agent = TlsAgent::spawn(root, name, "127.0.0.1:0", &creds.agent_args(), env);
        agent.wait_until_serving(Some(admin));
        agent
    }

    /// Spawns `confsync agent --root ROOT --listen LISTEN --name NAME EXTRA` and waits for
    /// the line with its address (not for it to answer).
    pub(crate) fn spawn(
        root: &Path,
        name: &str,
        listen: &str,
        extra: &[String],
        env: &[(&str, &str)],
    ) -> TlsAgent {
        let Spawned { child, address, log } = spawn_agent(root, name, listen, extra, env);
        TlsAgent { child, address, root: root.to_path_buf(), name: name.to_string(), log }
    }

    /// Waits until the agent answers `Hello` (over TLS with `creds`, or in plaintext).
    pub(crate) fn wait_until_serving(&self, creds: Option<&Creds>) {
        let target = match creds {
            Some(creds) => creds.target(&self.address),
            None => Target::plain(&self.address),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            match block_on(async {
                let mut client = confsync_wire::AgentClient::connect(&target).await?;
                client.hello().await
            }) {
                Ok(_) => return,
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("agent {} does not answer: {last}; log:\n{}", self.name, self.log());
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Waits up to `timeout` for a log line containing `text`.
    pub(crate) fn wait_for_log(&self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "agent {} never logged {text:?}; log:\n{log}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl TlsAgent {
    /// SIGKILL, as a crash or a power cut does.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TlsAgent {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- log of agent {} ({}) ----\n{}", self.name, self.address, self.log());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a future to completion on a fresh runtime.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start a tokio runtime")
        .block_on(future)
}

/// A raw gRPC client over TLS, trusting `ca` and presenting `identity` if given: the
/// clients the CLI would refuse to build (no certificate at all).
pub(crate) async fn raw_client(
    address: &str,
    ca: &Path,
    identity: Option<&Creds>,
) -> Result<confsync_proto::v1::agent_client::AgentClient<tonic::transport::Channel>, String> {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let read = |p: &Path| std::fs::read(p).expect("read a PEM file");
    let mut tls = ClientTlsConfig::new()
        .domain_name("127.0.0.1")
        .ca_certificate(Certificate::from_pem(read(ca)));
    if let Some(creds) = identity {
        tls = tls.identity(Identity::from_pem(read(&creds.cert), read(&creds.key)));
    }
    let channel = Endpoint::from_shared(format!("https://{address}"))
        .map_err(|e| e.to_string())?
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| confsync_wire::tls::client::error_chain(&e))?;
    Ok(confsync_proto::v1::agent_client::AgentClient::new(channel))
}

/// A status with its whole source chain, as an administrator would want to read it.
pub(crate) fn status_text(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(": ");
        text.push_str(&confsync_wire::tls::client::error_chain(source));
    }
    text
}
