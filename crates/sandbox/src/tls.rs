//! Credentials of the sandbox: a CA, a serving certificate signed by it and
//! a bearer token, made at first start and kept in the data directory so a
//! restarted sandbox is trusted by kubeconfigs written before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use rand::Rng;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// Why the sandbox's certificates or token could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Generating the CA or serving certificate failed.
    #[error("cannot generate the sandbox certificates")]
    Generate(#[from] rcgen::Error),
    /// A credentials file cannot be read or written.
    #[error("cannot read or write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's answer.
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a usable PEM file; delete it to have it made anew")]
    /// A stored certificate or key is damaged.
    BadPem {
        /// The file.
        path: PathBuf,
    },
    /// rustls refused the certificates.
    #[error("cannot build the TLS configuration")]
    Tls(#[from] rustls::Error),
}

/// What clients need to trust and authenticate to the sandbox.
pub struct Credentials {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub token: String,
}

const CA_COMMON_NAME: &str = "driftless-sandbox-ca";

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

fn serving_names(listen: SocketAddr) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let ip = listen.ip();
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    names
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn read(path: &Path) -> Result<Option<String>, CredentialsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CredentialsError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn write(path: &Path, contents: &str) -> Result<(), CredentialsError> {
    std::fs::write(path, contents).map_err(|source| CredentialsError::Io {
        path: path.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| CredentialsError::Io {
                path: path.to_owned(),
                source,
            },
        )?;
    }
    Ok(())
}

impl Credentials {
    /// Loads the credentials kept in `dir`, making whatever is missing.
    /// Without a directory they live only as long as the process.
    pub fn load_or_create(
        dir: Option<&Path>,
        listen: SocketAddr,
    ) -> Result<Self, CredentialsError> {
        let path = |name: &str| dir.map(|d| d.join(name));
        let stored = |name: &str| -> Result<Option<String>, CredentialsError> {
            match path(name) {
                Some(p) => read(&p),
                None => Ok(None),
            }
        };
        let names = serving_names(listen);
        let (ca_pem, ca_key) = match (stored("ca.crt")?, stored("ca.key")?) {
            (Some(cert), Some(key)) => {
                let key_pair = KeyPair::from_pem(&key).map_err(|_| CredentialsError::BadPem {
                    path: path("ca.key").unwrap_or_default(),
                })?;
                (cert, key_pair)
            }
            _ => {
                let key = KeyPair::generate()?;
                let cert = ca_params()?.self_signed(&key)?;
                (cert.pem(), key)
            }
        };
        let names_line = names.join(",");
        let serving = match (
            stored("server.crt")?,
            stored("server.key")?,
            stored("server.names")?,
        ) {
            (Some(cert), Some(key), Some(stored_names)) if stored_names.trim() == names_line => {
                Some((cert, key))
            }
            _ => None,
        };
        let (cert_pem, key_pem) = match serving {
            Some(pair) => pair,
            None => {
                let key = KeyPair::generate()?;
                let mut params = CertificateParams::new(names.clone())?;
                params
                    .distinguished_name
                    .push(DnType::CommonName, "driftless-sandbox");
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                let issuer = Issuer::new(ca_params()?, &ca_key);
                let cert = params.signed_by(&key, &issuer)?;
                (cert.pem(), key.serialize_pem())
            }
        };
        let token = stored("token")?.map_or_else(random_token, |t| t.trim().to_string());
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(|source| CredentialsError::Io {
                path: dir.to_owned(),
                source,
            })?;
            write(&dir.join("ca.crt"), &ca_pem)?;
            write(&dir.join("ca.key"), &ca_key.serialize_pem())?;
            write(&dir.join("server.crt"), &cert_pem)?;
            write(&dir.join("server.key"), &key_pem)?;
            write(&dir.join("server.names"), &names_line)?;
            write(&dir.join("token"), &token)?;
        }
        Ok(Credentials {
            ca_pem,
            cert_pem,
            key_pem,
            token,
        })
    }

    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, CredentialsError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let bad = |what: &str| CredentialsError::BadPem {
            path: PathBuf::from(what),
        };
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad("server.crt"))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|_| bad("server.key"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A kubeconfig that kubectl and kube-rs use as is.
    pub fn kubeconfig(&self, server: &str) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: driftless-sandbox\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\ncontexts:\n- name: driftless-sandbox\n  context:\n    cluster: driftless-sandbox\n    user: driftless-sandbox\n    namespace: default\ncurrent-context: driftless-sandbox\nusers:\n- name: driftless-sandbox\n  user:\n    token: {token}\n",
            token = self.token
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_kept_across_starts() {
        let dir = std::env::temp_dir().join(format!("driftless-tls-{}", std::process::id()));
        let addr: SocketAddr = "127.0.0.1:6443".parse().expect("addr");
        let first = Credentials::load_or_create(Some(&dir), addr).expect("create");
        let second = Credentials::load_or_create(Some(&dir), addr).expect("load");
        assert_eq!(first.ca_pem, second.ca_pem);
        assert_eq!(first.cert_pem, second.cert_pem);
        assert_eq!(first.token, second.token);
        second.server_config().expect("usable by rustls");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
