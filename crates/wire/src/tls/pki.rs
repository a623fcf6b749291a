//! The certificate authority and the certificates `confsync certs` issues (rcgen, ECDSA
//! P-256). A folder holds `ca.pem` + `ca.key`, and `NAME.pem` + `NAME.key` per issued
//! certificate. Private keys are created with mode 0600 and never overwritten silently.
//!
//! - An `agent` certificate serves (server authentication, for its `--san` names and
//!   addresses) and pulls from other agents (client authentication).
//! - An `admin` certificate only connects (client authentication).
//!
//! Both carry their role as the URI `confsync:role:<role>` (see [`super::identity`]).

use std::net::IpAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::tls::Role;

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca.key";
/// How long a new CA is valid.
pub const CA_DAYS: i64 = 3650;
/// How long an issued certificate is valid unless told otherwise.
pub const DEFAULT_DAYS: i64 = 825;

/// What to put in a certificate.
#[derive(Debug, Clone)]
pub struct CertRequest {
    /// The common name, and the file name in the folder.
    pub name: String,
    pub role: Role,
    /// Host names and addresses the agent is reached at (agents only).
    pub sans: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl CertRequest {
    /// Valid from a day ago (clock skew) for `days` days.
    pub fn valid_for(name: &str, role: Role, sans: Vec<String>, days: i64) -> CertRequest {
        let now = OffsetDateTime::now_utc();
        CertRequest {
            name: name.to_string(),
            role,
            sans,
            not_before: now - Duration::days(1),
            not_after: now + Duration::days(days),
        }
    }
}

/// A PEM certificate and its PEM private key.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A loaded certificate authority, able to sign.
pub struct Authority {
    pub cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    /// Creates a new self-signed CA named `name`.
    pub fn generate(name: &str) -> anyhow::Result<(Authority, Issued)> {
        let key = KeyPair::generate().context("generating the CA key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.distinguished_name.push(DnType::OrganizationName, "confsync");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(CA_DAYS);
        let cert = params.self_signed(&key).context("signing the CA certificate")?;
        let issued = Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() };
        let authority = Authority::from_pem(&issued.cert_pem, &issued.key_pem)?;
        Ok((authority, issued))
    }

    pub fn from_pem(cert_pem: &str, key_pem: &str) -> anyhow::Result<Authority> {
        let key = KeyPair::from_pem(key_pem).context("the CA key is not a PEM private key")?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .context("the CA certificate is not a PEM certificate")?;
        Ok(Authority { cert_pem: cert_pem.to_string(), issuer })
    }

    /// Loads `ca.pem` and `ca.key` from `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Authority> {
        let cert_path = dir.join(CA_CERT);
        let key_path = dir.join(CA_KEY);
        let cert = std::fs::read_to_string(&cert_path).with_context(|| {
            format!(
                "reading the CA certificate {}; create a CA first with `confsync certs init --dir {}`",
                cert_path.display(),
                dir.display()
            )
        })?;
        let key = std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading the CA key {}", key_path.display()))?;
        Authority::from_pem(&cert, &key)
            .with_context(|| format!("loading the CA in {}", dir.display()))
    }

    /// Issues a certificate with a fresh key.
    pub fn issue(&self, request: &CertRequest) -> anyhow::Result<Issued> {
        let key = KeyPair::generate().context("generating a key")?;
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, request.name.as_str());
        params.distinguished_name.push(DnType::OrganizationName, "confsync");
        params.is_ca = IsCa::ExplicitNoCa;
        params.not_before = request.not_before;
        params.not_after = request.not_after;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match request.role {
            Role::Agent => {
                vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth]
            }
            Role::Admin => vec![ExtendedKeyUsagePurpose::ClientAuth],
        };
        let mut sans =
            vec![SanType::URI(request.role.uri().try_into().context("encoding the role URI")?)];
        for san in &request.sans {
            sans.push(san_entry(san)?);
        }
        params.subject_alt_names = sans;
        let cert = params
            .signed_by(&key, &self.issuer)
            .with_context(|| format!("signing the certificate for {}", request.name))?;
        Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

/// "confsync CA HOST DATE TAG": distinct for every CA, so that a certificate of another
/// CA is reported as of an unknown issuer rather than as a bad signature.
pub fn default_ca_name(hostname: &str) -> String {
    use std::io::Read;
    let mut tag = [0u8; 4];
    let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut tag));
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    let today = OffsetDateTime::now_utc().date();
    format!("confsync CA {hostname} {today} {tag}")
}

/// A `--san` value: an IP address, or a DNS name.
fn san_entry(san: &str) -> anyhow::Result<SanType> {
    let san = san.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = san.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let valid = !san.is_empty()
        && san.len() <= 253
        && san.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
        });
    anyhow::ensure!(
        valid,
        "--san {san:?} is neither an IP address nor a host name (letters, digits, '-' and '.')"
    );
    Ok(SanType::DnsName(san.try_into().context("encoding the host name")?))
}

/// Whether `host` can be a subject alternative name (an IP address or a host name).
pub fn check_san(host: &str) -> bool {
    san_entry(host).is_ok()
}

/// Checks a certificate name: it becomes a file name in the folder.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    anyhow::ensure!(
        valid,
        "certificate name {name:?} must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' or '-'"
    );
    anyhow::ensure!(name != "ca", "\"ca\" is the certificate authority's own name; choose another");
    Ok(())
}

/// Creates `dir` (mode 0700) when missing.
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the certificate folder {}", dir.display()))
}

/// Writes `contents` to `path` with `mode`, atomically and durably; refuses to replace
/// an existing file unless `replace`, and never leaves a key readable by others, even for
/// a moment (the temporary file is private until its mode is set).
pub fn write_file(path: &Path, contents: &str, mode: u32, replace: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        replace || path.symlink_metadata().is_err(),
        "{} already exists; remove it or pass --force to replace it",
        path.display()
    );
    confsync_engine::fsutil::write_file(path, contents.as_bytes(), mode, replace)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::identity::identify;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;

    #[test]
    fn issued_certificates_carry_name_and_role() {
        let (ca, _) = Authority::generate("test CA").expect("CA");
        for role in [Role::Admin, Role::Agent] {
            let request = CertRequest::valid_for(
                "backup-1",
                role,
                vec!["10.0.0.2".into(), "backup-1.lan".into()],
                30,
            );
            let issued = ca.issue(&request).expect("issue");
            let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).expect("pem");
            let identity = identify(&der).expect("parse");
            assert_eq!(identity.name, "backup-1");
            assert_eq!(identity.role, Some(role));
        }
    }

    #[test]
    fn names_and_sans_are_checked() {
        for bad in ["", "../x", ".hidden", "a/b", "ca", "-rf"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        check_name("backup-1").expect("valid");
        assert!(san_entry("not a host").is_err());
        assert!(matches!(san_entry("::1"), Ok(SanType::IpAddress(_))));
        assert!(matches!(san_entry("backup-1.lan"), Ok(SanType::DnsName(_))));
    }

    #[test]
    fn keys_are_private_and_not_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("a.key");
        write_file(&key, "secret", 0o600, false).expect("write");
        let mode = std::fs::metadata(&key).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let err = write_file(&key, "other", 0o600, false).expect_err("exists");
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(&key).expect("read"), "secret");
    }
}
