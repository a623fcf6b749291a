//! Transport and identity: mutual TLS between real agents and the real CLI on loopback,
//! roles from certificates, and the loopback-only rule for plaintext (issue cases 1–5).
//!
//! Every refusal is checked twice: the error names the problem, and neither the source's
//! nor the destination's tree (licenses included) changed.

use std::path::Path;
use std::time::Duration;

use crate::support::pki::{
    Creds, Pki, TlsAgent, block_on, confsync_as, path, raw_client, status_text,
};
use crate::support::*;
use confsync_proto::v1;
use confsync_wire::tls::Role;

/// A primary and a backup serving with agent certificates, and an administrator.
struct Site {
    pki: Pki,
    admin: Creds,
    backup_creds: Creds,
    source: TlsAgent,
    destination: TlsAgent,
    _roots: (tempfile::TempDir, tempfile::TempDir),
}

impl Site {
    fn new() -> Site {
        let (src, dst) = (tempdir(), tempdir());
        write(src.path(), "firmware/image.bin", &noise(64 * 1024, 7));
        write(src.path(), "config/app.conf", b"app = primary\n");
        write(src.path(), "capdb/devices.db", b"devices of the primary");
        write(src.path(), "licenses/primary.lic", b"licence of the primary");
        write(dst.path(), "config/app.conf", b"app = old\n");
        write(dst.path(), "capdb/extra.db", b"only on the backup");
        write(dst.path(), "licenses/backup.lic", b"licence of the backup");
        let pki = Pki::new();
        let admin = pki.issue("alice", "admin");
        let primary = pki.issue("primary", "agent");
        let backup_creds = pki.issue("backup-1", "agent");
        let source = TlsAgent::start(src.path(), "primary", &primary, &admin, &[]);
        let destination = TlsAgent::start(dst.path(), "backup-1", &backup_creds, &admin, &[]);
        Site { pki, admin, backup_creds, source, destination, _roots: (src, dst) }
    }

    fn trees(&self) -> (Tree, Tree) {
        (snapshot(&self.source.root), snapshot(&self.destination.root))
    }

    fn assert_unchanged(&self, before: &(Tree, Tree)) {
        let now = self.trees();
        assert_same_tree(&before.0, &now.0, "the source's tree");
        assert_same_tree(&before.1, &now.1, "the destination's tree");
    }

    fn sync_as(&self, creds: &Creds) -> std::process::Output {
        confsync_as(
            creds,
            &["sync", "--from", &self.source.address, "--to", &self.destination.address, "--yes"],
        )
    }
}

fn apply_request(site: &Site) -> v1::ApplyRequest {
    v1::ApplyRequest {
        source: site.source.address.clone(),
        plan_digest: vec![0; 32],
        ..Default::default()
    }
}

#[test]
fn an_admin_syncs_over_mutual_tls_and_is_recorded_as_who_asked() {
    let site = Site::new();
    let licenses = snapshot(&site.destination.root.join("licenses"));
    let output = site.sync_as(&site.admin);
    assert_exit(&output, 0);
    assert_categories_equal(&site.source.root, &site.destination.root);
    assert_same_tree(&licenses, &snapshot(&site.destination.root.join("licenses")), "licenses");
    let history = block_on(async {
        let mut client =
            confsync_wire::AgentClient::connect(&site.admin.target(&site.destination.address))
                .await?;
        client.history().await
    })
    .expect("read the history as admin");
    let who = &history.first().expect("one generation").entry.record.requested_by;
    assert!(who.contains("alice (admin)"), "requested_by {who:?}");
}

#[test]
fn a_client_without_a_certificate_is_refused() {
    let site = Site::new();
    let before = site.trees();
    let outcome = block_on(async {
        let mut client = raw_client(&site.destination.address, &site.pki.ca(), None).await?;
        let hello = client.hello(v1::HelloRequest {}).await.map_err(|s| status_text(&s));
        let apply =
            client.apply(apply_request(&site)).await.map(|_| ()).map_err(|s| status_text(&s));
        Ok::<_, String>((hello, apply))
    });
    let (hello, apply) = outcome.expect("the TLS connection itself is accepted");
    for result in [hello.map(|_| ()), apply] {
        let err = result.expect_err("refused without a certificate");
        assert_mentions(&err, &["CertificateRequired"]);
    }
    site.destination.wait_for_log("refused a TLS client", Duration::from_secs(5));
    site.assert_unchanged(&before);
}

#[test]
fn a_certificate_from_another_ca_is_refused_both_ways() {
    let site = Site::new();
    let before = site.trees();
    let other = Pki::new();
    // An administrator certificate from another CA, presented to our agents.
    let mallory = other.issue("mallory", "admin").trusting(&site.pki.ca());
    let output = site.sync_as(&mallory);
    assert_ne!(output.status.code(), Some(0));
    assert_mentions(&stderr(&output), &["UnknownCA", "another certificate authority"]);
    site.destination.wait_for_log("UnknownIssuer", Duration::from_secs(5));
    // Our administrator, trusting only the other CA: the agent is the stranger now.
    let fooled = site.admin.trusting(&other.ca());
    let output = site.sync_as(&fooled);
    assert_ne!(output.status.code(), Some(0));
    assert_mentions(&stderr(&output), &["UnknownIssuer", "another certificate authority"]);
    site.assert_unchanged(&before);
}

#[test]
fn an_expired_certificate_is_refused_and_an_agent_will_not_serve_with_one() {
    let site = Site::new();
    let before = site.trees();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let day = 86_400;
    let expired = site.pki.issue_valid("old-admin", Role::Admin, now - 30 * day, now - day);
    let output = site.sync_as(&expired);
    assert_ne!(output.status.code(), Some(0));
    assert_mentions(&stderr(&output), &["CertificateExpired", "has expired"]);
    site.destination.wait_for_log("certificate expired", Duration::from_secs(5));
    site.assert_unchanged(&before);

    let stale_agent = site.pki.issue_valid("old-agent", Role::Agent, now - 30 * day, now - day);
    let root = tempdir();
    let mut args: Vec<String> =
        ["agent", "--root", &pki::path(root.path()), "--listen", "127.0.0.1:0"]
            .map(String::from)
            .to_vec();
    args.extend(stale_agent.agent_args());
    let output = confsync(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ne!(output.status.code(), Some(0));
    assert_mentions(
        &stderr(&output),
        &["has expired", "confsync certs issue old-agent --role agent"],
    );
}

#[test]
fn an_agent_certificate_may_read_but_not_plan_apply_roll_back_or_hold() {
    let site = Site::new();
    let before = site.trees();
    let output = site.sync_as(&site.backup_creds);
    assert_exit(&output, 4);
    assert_mentions(&stderr(&output), &["\"backup-1\" has role agent", "may not call Plan"]);

    let denied = block_on(async {
        let mut c = raw_client(&site.destination.address, &site.pki.ca(), Some(&site.backup_creds))
            .await
            .expect("connect with an agent certificate");
        // Reads are what an agent certificate is for.
        c.hello(v1::HelloRequest {}).await.expect("hello is a read");
        c.get_manifest(v1::ManifestRequest { categories: vec![], known: vec![] })
            .await
            .expect("manifests are reads");
        let text = |r: Result<(), tonic::Status>| {
            let status = r.expect_err("refused to an agent certificate");
            assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
            status.message().to_string()
        };
        vec![
            ("Apply", text(c.apply(apply_request(&site)).await.map(|_| ()))),
            ("Rollback", text(c.rollback(v1::RollbackRequest::default()).await.map(|_| ()))),
            (
                "PlanRollback",
                text(c.plan_rollback(v1::RollbackRequest::default()).await.map(|_| ())),
            ),
            ("History", text(c.history(v1::HistoryRequest {}).await.map(|_| ()))),
            ("Hold", text(c.hold(v1::HoldRequest { reason: "mine".into() }).await.map(|_| ()))),
            ("Release", text(c.release(v1::ReleaseRequest {}).await.map(|_| ()))),
        ]
    });
    for (call, message) in denied {
        assert_mentions(
            &message,
            &["role agent", &format!("may not call {call}"), "needs role admin"],
        );
    }
    // The log names the caller's address plainly (never `Some(127.0.0.1:...)`).
    let logged = site.destination.wait_for_log("denied by role", Duration::from_secs(5));
    let line = logged.lines().find(|l| l.contains("denied by role")).unwrap_or_default();
    assert!(line.contains("address=127.0.0.1:") && !line.contains("Some("), "{line}");
    site.assert_unchanged(&before);
}

#[test]
fn a_certificate_without_a_role_may_call_nothing() {
    let site = Site::new();
    let before = site.trees();
    let nobody = issue_without_role(&site.pki, "nobody");
    let err = block_on(async {
        let mut c = raw_client(&site.destination.address, &site.pki.ca(), Some(&nobody))
            .await
            .expect("the handshake succeeds: the CA signed it");
        c.hello(v1::HelloRequest {}).await.expect_err("no role, no call")
    });
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert_mentions(err.message(), &["\"nobody\"", "carries no confsync role", "Hello"]);
    site.assert_unchanged(&before);
}

/// A client certificate signed by the CA, with no `confsync:role:` URI.
fn issue_without_role(pki: &Pki, name: &str) -> Creds {
    let dir = pki.dir.path();
    let ca_cert = std::fs::read_to_string(dir.join("ca.pem")).expect("CA certificate");
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(dir.join("ca.key")).expect("CA key"))
            .expect("CA key");
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_cert, ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).expect("sign");
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("write");
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).expect("write");
    Creds {
        ca: pki.ca(),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    }
}

#[test]
fn plaintext_to_a_tls_agent_and_tls_to_a_plaintext_agent_fail_clearly() {
    let site = Site::new();
    let before = site.trees();
    let output =
        confsync(&["diff", "--from", &site.source.address, "--to", &site.destination.address]);
    assert_exit(&output, 4);
    assert_mentions(
        &stderr(&output),
        &["accepts only mutual TLS", "connected in plaintext", "--cert"],
    );
    site.destination.wait_for_log("plaintext client connected", Duration::from_secs(5));

    let plain_root = tempdir();
    write(plain_root.path(), "config/app.conf", b"plain");
    let plain = Agent::start(plain_root.path(), "plain");
    let plain_before = snapshot(plain_root.path());
    let output =
        confsync_as(&site.admin, &["diff", "--from", &site.source.address, "--to", &plain.address]);
    assert_exit(&output, 3);
    assert_mentions(&stderr(&output), &["TLS handshake", "serves plaintext"]);
    assert_same_tree(&plain_before, &snapshot(plain_root.path()), "the plaintext agent's tree");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !plain.log().contains("a TLS client connected") {
        assert!(std::time::Instant::now() < deadline, "no log line; log:\n{}", plain.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    site.assert_unchanged(&before);
}

#[test]
fn plaintext_is_for_loopback_only_unless_insecure() {
    let root = tempdir();
    let dir = pki::path(root.path());
    // An agent may not listen in plaintext on every address ...
    let output = confsync(&["agent", "--root", &dir, "--listen", "0.0.0.0:0", "--name", "open"]);
    assert_ne!(output.status.code(), Some(0));
    assert_mentions(
        &stderr(&output),
        &["refusing to serve plaintext on 0.0.0.0", "--insecure", "[tls]"],
    );
    // ... unless told so, and then it says so.
    let open = TlsAgent::spawn(root.path(), "open", "0.0.0.0:0", &["--insecure".to_string()], &[]);
    assert!(open.address.starts_with("0.0.0.0:"), "{}", open.address);
    open.wait_for_log(
        "serving plaintext on a non-loopback address (--insecure)",
        Duration::from_secs(10),
    );
    drop(open);

    // A client will not send in the clear to another machine ...
    let output = confsync(&["diff", "--from", "192.0.2.1:7420", "--to", "192.0.2.2:7420"]);
    assert_exit(&output, 4);
    assert_mentions(
        &stderr(&output),
        &["refusing to connect to 192.0.2.2:7420 without TLS", "--insecure"],
    );
    // ... and neither will an agent pulling from its source.
    let local = Agent::start(root.path(), "local");
    let before = snapshot(root.path());
    let output = confsync(&["diff", "--from", "192.0.2.1:7420", "--to", &local.address]);
    assert_exit(&output, 3);
    assert_mentions(&stderr(&output), &["refusing to connect to 192.0.2.1:7420 without TLS"]);
    assert_same_tree(&before, &snapshot(root.path()), "the agent's tree");
}

#[test]
fn certs_keeps_keys_private_and_never_overwrites_silently() {
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new();
    let dir = pki::path(pki.dir.path());
    let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&pki.dir.path().join("ca.key")), 0o600);
    let creds = pki.issue("backup-1", "agent");
    assert_eq!(mode(&creds.key), 0o600);
    let key_before = std::fs::read(&creds.key).expect("read key");

    let again = confsync(&["certs", "init", "--dir", &dir]);
    assert_exit(&again, 2);
    assert_mentions(&stderr(&again), &["already exists", "--force"]);
    let again = confsync(&["certs", "issue", "backup-1", "--role", "agent", "--dir", &dir]);
    assert_exit(&again, 2);
    assert_mentions(&stderr(&again), &["already exists", "--force"]);
    assert_eq!(std::fs::read(&creds.key).expect("read key"), key_before);

    let bad_role = confsync(&["certs", "issue", "eve", "--role", "root", "--dir", &dir]);
    assert_exit(&bad_role, 2);
    assert_mentions(&stderr(&bad_role), &["choose admin or agent"]);
    let bad_name = confsync(&["certs", "issue", "../eve", "--role", "admin", "--dir", &dir]);
    assert_exit(&bad_name, 2);
    let no_ca = confsync(&[
        "certs",
        "issue",
        "eve",
        "--role",
        "admin",
        "--dir",
        &pki::path(&pki.dir.path().join("none")),
    ]);
    assert_ne!(no_ca.status.code(), Some(0));
    assert_mentions(&stderr(&no_ca), &["certs init"]);
}

#[test]
fn agent_toml_and_the_server_list_carry_the_certificates() {
    let pki = Pki::new();
    let admin = pki.issue("alice", "admin");
    let mut agents = Vec::new();
    let mut roots = Vec::new();
    for (name, content) in [("primary", &b"app = primary\n"[..]), ("backup-1", &b"app = old\n"[..])]
    {
        let creds = pki.issue(name, "agent");
        let root = tempdir();
        write(root.path(), "config/app.conf", content);
        write(root.path(), "licenses/own.lic", name.as_bytes());
        // Paths relative to agent.toml's folder.
        for (file, to) in [(&creds.ca, "ca.pem"), (&creds.cert, "me.pem"), (&creds.key, "me.key")] {
            std::fs::copy(file, root.path().join(to)).expect("copy a PEM file");
        }
        let config = root.path().join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "name = {name:?}\nroot = \".\"\n[tls]\nca = \"ca.pem\"\ncert = \"me.pem\"\nkey = \"me.key\"\n"
            ),
        )
        .expect("write agent.toml");
        let agent = TlsAgent::spawn(
            root.path(),
            name,
            "127.0.0.1:0",
            &["--config".to_string(), pki::path(&config)],
            &[],
        );
        agent.wait_until_serving(Some(&admin));
        agents.push(agent);
        roots.push(root);
    }
    let list = tempdir();
    let servers = list.path().join("servers.toml");
    let tls = format!(
        "tls = {{ ca = {:?}, cert = {:?}, key = {:?} }}",
        pki::path(&admin.ca),
        pki::path(&admin.cert),
        pki::path(&admin.key)
    );
    std::fs::write(
        &servers,
        format!(
            "[[server]]\nname = \"primary\"\naddress = {:?}\nrole = \"primary\"\n{tls}\n\n\
             [[server]]\nname = \"backup-1\"\naddress = {:?}\nrole = \"backup\"\n{tls}\n",
            agents[0].address, agents[1].address
        ),
    )
    .expect("write servers.toml");
    let servers = pki::path(&servers);
    let output = confsync(&[
        "--servers",
        &servers,
        "sync",
        "--from",
        "primary",
        "--to",
        "backup-1",
        "--only",
        "config",
        "--yes",
    ]);
    assert_exit(&output, 0);
    assert_same_tree(
        &snapshot(&roots[0].path().join("config")),
        &snapshot(&roots[1].path().join("config")),
        "config after the sync",
    );
    assert_eq!(
        std::fs::read(roots[1].path().join("licenses/own.lic")).expect("licence"),
        b"backup-1"
    );

    // `insecure = true` in agent.toml allows plaintext beyond loopback, with a warning.
    let open = tempdir();
    let config = open.path().join("agent.toml");
    std::fs::write(&config, "root = \".\"\ninsecure = true\n").expect("write agent.toml");
    let agent = TlsAgent::spawn(
        open.path(),
        "open",
        "0.0.0.0:0",
        &["--config".to_string(), pki::path(&config)],
        &[],
    );
    agent.wait_for_log("(--insecure)", Duration::from_secs(10));
}

/// A destination killed in the middle of a transfer over mutual TLS (issue 23, item 10):
/// the error says what happened and what to do, in words, not the TLS library's (no
/// `h2 protocol error`, no `close_notify` link); its tree is unchanged.
#[test]
fn a_destination_killed_mid_transfer_is_said_in_words_with_what_to_do() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.img", 16 << 20, 5);
    write(src.path(), "config/app.conf", b"app = new\n");
    write(dst.path(), "config/app.conf", b"app = old\n");
    let pki = Pki::new();
    let admin = pki.issue("alice", "admin");
    let (primary, backup) = (pki.issue("primary", "agent"), pki.issue("backup-1", "agent"));
    let source = TlsAgent::start(src.path(), "primary", &primary, &admin, &[]);
    let mut destination = TlsAgent::start(
        dst.path(),
        "backup-1",
        &backup,
        &admin,
        &[("CONFSYNC_FAILPOINTS", "transfer-delay-ms=100")],
    );
    let before = snapshot(dst.path());
    let mut args = admin.cli_args();
    let sync = sync_args(&source.address, &destination.address, &[]);
    args.extend(sync.iter().map(|a| a.to_string()));
    args.push("--json".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut sync = Running::spawn(&args);
    sync.wait_for(Duration::from_secs(60), is_transferring);
    destination.kill();
    let (status, events, stderr) = sync.finish(Duration::from_secs(60));
    assert_eq!(status.code(), Some(3), "{events:#?}\n{stderr}");
    let said = format!("{events:?}{stderr}");
    assert_mentions(
        &said,
        &["went away during the apply", "nothing was changed", "run again once it is back"],
    );
    assert!(!said.contains("h2 protocol error") && !said.contains("docs.rs"), "{said}");
    let after = snapshot(dst.path());
    let tree = |t: &Tree| -> Tree {
        t.iter()
            .filter(|(p, _)| !p.starts_with(".confsync"))
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect()
    };
    assert_same_tree(&tree(&before), &tree(&after), "the destination's tree");
}

/// A wrong key path is said once, with the file (issue 23, item 10): the OS error is part
/// of the sentence, not repeated by the error chain, by the agent and by the CLI.
#[test]
fn a_wrong_key_path_is_said_once() {
    let pki = Pki::new();
    let creds = pki.issue("backup-1", "agent");
    let root = tempdir();
    let missing = pki.dir.path().join("no-such.key");
    let missing = missing.to_str().expect("UTF-8 path");
    let ca = path(&creds.ca);
    let cert = path(&creds.cert);
    let agent = confsync(&[
        "agent",
        "--root",
        &path(root.path()),
        "--listen",
        "127.0.0.1:0",
        "--tls-ca",
        &ca,
        "--tls-cert",
        &cert,
        "--tls-key",
        missing,
    ]);
    let cli = confsync(&[
        "--ca",
        &ca,
        "--cert",
        &cert,
        "--key",
        missing,
        "diff",
        "--from",
        "127.0.0.1:1",
        "--to",
        "127.0.0.1:2",
    ]);
    for (who, output) in [("the agent", &agent), ("the CLI", &cli)] {
        assert_ne!(output.status.code(), Some(0), "{who}");
        let said = stderr(output);
        assert!(said.contains(&format!("cannot read private key {missing}")), "{who}: {said}");
        assert_eq!(said.matches("No such file or directory").count(), 1, "{who}: {said}");
    }
}

/// A flood of connections from the administrator's own address (issue 23, item 12): 500
/// connections that never start a handshake, held and reopened, plus a stream of TLS
/// attempts without a certificate (what a load tool or a scanner does). Every `diff` the
/// administrator runs meanwhile, over mutual TLS from the same address, gets through.
#[test]
fn a_flood_from_one_address_does_not_lock_out_an_administrator_with_a_certificate() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let site = Site::new();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flooding = std::sync::Arc::new(AtomicBool::new(false));
    let address = site.destination.address.clone();
    let idle = {
        let (stop, address) = (std::sync::Arc::clone(&stop), address.clone());
        let flooding = std::sync::Arc::clone(&flooding);
        std::thread::spawn(move || {
            let mut held: Vec<std::net::TcpStream> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                // Drop what the agent closed, and open again up to 500.
                held.retain(|s| {
                    let mut byte = [0u8; 1];
                    let _ = s.set_nonblocking(true);
                    !matches!(s.peek(&mut byte), Ok(0))
                });
                while held.len() < 500 {
                    match std::net::TcpStream::connect(&address) {
                        Ok(s) => held.push(s),
                        Err(_) => break,
                    }
                }
                flooding.store(held.len() >= 500, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let noisy = {
        let (stop, address) = (std::sync::Arc::clone(&stop), address.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(mut s) = std::net::TcpStream::connect(&address) {
                    // The start of a TLS record, then nothing that makes a handshake.
                    let _ = s.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
                }
                // A few hundred a second: enough to churn, not enough to use up the
                // machine's ephemeral ports (which would fail every client alike).
                std::thread::sleep(Duration::from_millis(3));
            }
        })
    };
    let started = std::time::Instant::now();
    while !flooding.load(Ordering::Relaxed) {
        assert!(started.elapsed() < Duration::from_secs(20), "the flood never held 500");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut failed = Vec::new();
    for _ in 0..10 {
        let diff = confsync_as(
            &site.admin,
            &["diff", "--from", &site.source.address, "--to", &site.destination.address],
        );
        if diff.status.code() == Some(3) {
            failed.push(stderr(&diff));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = (idle.join(), noisy.join());
    assert!(failed.is_empty(), "{} of 10 diffs failed under the flood: {failed:#?}", failed.len());
}
