//! Reading certificates and keys from PEM files, with errors that name the file and say
//! what was expected in it.

use std::path::{Path, PathBuf};

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate, its key and the CA that signed the peers' certificates, as PEM files.
/// The same three files serve an agent (it listens with them and pulls with them) and an
/// administrator's CLI.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    // The I/O error is part of the sentence and not its source: a chain printed whole
    // would say it twice.
    #[error("cannot read {what} {}: {error}", path.display())]
    Read { what: &'static str, path: PathBuf, error: std::io::Error },
    #[error("{} holds no {what} in PEM form ({detail}); give the file `confsync certs` wrote", path.display())]
    NotPem { what: &'static str, path: PathBuf, detail: String },
}

/// The raw bytes of a PEM file.
pub fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, FileError> {
    std::fs::read(path).map_err(|error| FileError::Read { what, path: path.to_path_buf(), error })
}

/// Every certificate in a PEM file (a leaf first, then any intermediates); at least one.
pub fn certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, FileError> {
    let bytes = read(path, what)?;
    let not_pem = |detail: String| FileError::NotPem { what, path: path.to_path_buf(), detail };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| not_pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(not_pem("no CERTIFICATE block".into()));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, FileError> {
    let what = "private key";
    let bytes = read(path, what)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| FileError::NotPem {
        what,
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Warns when a private key file can be read by others than its owner.
pub fn warn_if_key_is_readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            key = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the private key can be read by other users; restrict it with chmod 600"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        let err = certificates(&missing, "CA certificate").expect_err("missing");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").expect("write");
        let err = certificates(&garbage, "certificate").expect_err("garbage");
        assert!(
            err.to_string().contains("garbage.pem") && err.to_string().contains("PEM"),
            "{err}"
        );
        let err = private_key(&garbage).expect_err("garbage key");
        assert!(err.to_string().contains("private key"), "{err}");
    }
}
