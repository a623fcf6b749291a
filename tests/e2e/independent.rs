//! Standard tools against the agent: Python's `grpcio` with `grpcio-health-checking` and
//! `grpcio-reflection` (installed by the test from PyPI into a virtual environment under
//! the target folder, once) list the agent's services through reflection, v1alpha as
//! those packages speak it, and check its health, in plaintext and over mutual TLS.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::pki::{Pki, TlsAgent};
use crate::support::*;

const PACKAGES: [&str; 3] = ["grpcio", "grpcio-health-checking", "grpcio-reflection"];

const SCRIPT: &str = r#"
import sys
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

address = sys.argv[1]
if len(sys.argv) > 2:
    ca, cert, key = (open(p, "rb").read() for p in sys.argv[2:5])
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert)
    channel = grpc.secure_channel(address, credentials)
else:
    channel = grpc.insecure_channel(address)
reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
request = reflection_pb2.ServerReflectionRequest(list_services="")
names = sorted(
    service.name
    for reply in reflection.ServerReflectionInfo(iter([request]), timeout=10)
    for service in reply.list_services_response.service)
print("services:", " ".join(names))
health = health_pb2_grpc.HealthStub(channel)
for service in ["", "confsync.v1.Agent"]:
    reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    print("health", service or "(server)",
          health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
"#;

/// The virtual environment's python, with the packages installed (once per test run).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-grpc");
        let python = venv.join("bin/python");
        let ready = venv.join("installed");
        if !ready.exists() {
            let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
            assert!(made.is_ok_and(|s| s.success()), "python3 -m venv {}", venv.display());
            let installed = Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
                .args(PACKAGES)
                .output()
                .expect("run pip");
            assert!(
                installed.status.success(),
                "pip install {PACKAGES:?} failed:\n{}",
                String::from_utf8_lossy(&installed.stderr)
            );
            std::fs::write(&ready, PACKAGES.join("\n")).expect("mark the environment ready");
        }
        python
    })
}

fn run_script(args: &[&str]) -> String {
    let output = Command::new(python()).arg("-c").arg(SCRIPT).args(args).output().expect("python");
    assert!(
        output.status.success(),
        "the Python client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_lists_and_serves(text: &str) {
    assert_mentions(
        text,
        &[
            "confsync.v1.Agent",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "health (server) SERVING",
            "health confsync.v1.Agent SERVING",
        ],
    );
}

#[test]
fn python_grpcio_lists_the_services_and_checks_health_in_plaintext() {
    let dir = tempdir();
    let agent = Agent::start(dir.path(), "primary");
    assert_lists_and_serves(&run_script(&[&agent.address]));
}

#[test]
fn python_grpcio_lists_the_services_and_checks_health_over_mutual_tls() {
    let pki = Pki::new();
    let (agent_creds, admin) = (pki.issue("primary", "agent"), pki.issue("admin", "admin"));
    let dir = tempdir();
    let agent = TlsAgent::start(dir.path(), "primary", &agent_creds, &admin, &[]);
    let files = [admin.ca.clone(), admin.cert.clone(), admin.key.clone()];
    let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let text = run_script(&[&agent.address, &files[0], &files[1], &files[2]]);
    assert_lists_and_serves(&text);
}
