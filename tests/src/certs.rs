//! Test certificates: a CA of the test's own and certificates it signs, written as PEM files,
//! for the TLS tests (HTTPS REST listener, Redis over TLS).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};

/// A self-signed certificate authority, its certificate in `ca.pem`.
pub struct TestCa {
    dir: PathBuf,
    key: KeyPair,
    cert: Certificate,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA writing its files into `dir`.
    pub fn new(dir: &Path) -> Self {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("cannot make a key: {e}"));
        let mut params = CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("bad CA parameters: {e}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "connect-rs test CA");
        let cert = params
            .self_signed(&key)
            .unwrap_or_else(|e| panic!("cannot sign the CA: {e}"));
        write(&dir.join("ca.pem"), &cert.pem());
        Self {
            dir: dir.to_owned(),
            key,
            cert,
        }
    }

    /// `ca.pem`.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A certificate for `names` (DNS names or IP addresses) signed by the CA, written as
    /// `<stem>.pem` and `<stem>-key.pem`; their paths.
    pub fn issue(&self, stem: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap_or_else(|e| panic!("cannot make a key: {e}"));
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("bad certificate parameters: {e}"));
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or(stem));
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .unwrap_or_else(|e| panic!("cannot sign {stem}: {e}"));
        let paths = (
            self.dir.join(format!("{stem}.pem")),
            self.dir.join(format!("{stem}-key.pem")),
        );
        write(&paths.0, &cert.pem());
        write(&paths.1, &key.serialize_pem());
        paths
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
