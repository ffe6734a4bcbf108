//! The lab's certificates: a lab CA that the probe is told to trust, a MITM CA with a
//! state-root-like subject that it is not, and leaf server configurations made on demand.

use crate::scenario::CertKind;
use crate::LabError;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The name on the lab blockpage server's certificate: valid, but never for the name asked.
pub const BLOCKPAGE_NAME: &str = "blockpage.lab.test";
/// The name on `wrong_name` certificates.
const WRONG_NAME: &str = "someone-else.lab.test";
/// Bound on cached configurations: SNIs come from the probe and could be anything.
const CACHE_MAX: usize = 512;

/// Which leaf to present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leaf {
    /// An origin's certificate of the given kind.
    Origin(CertKind),
    /// Issued for the SNI by the MITM CA.
    Mitm,
    /// The blockpage server's certificate, whatever the SNI.
    Blockpage,
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
    pem: String,
}

/// Certificate authorities and the configurations made from them.
pub struct Pki {
    lab: Ca,
    mitm: Ca,
    provider: Arc<CryptoProvider>,
    cache: Mutex<HashMap<(Leaf, String), Arc<ServerConfig>>>,
}

fn make_ca(cn: &str, org: &str) -> Result<Ca, LabError> {
    let key = KeyPair::generate()?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, org);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2045, 1, 1);
    let cert = p.self_signed(&key)?;
    Ok(Ca {
        der: cert.der().clone(),
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    })
}

fn leaf_params(name: &str, expired: bool) -> Result<CertificateParams, LabError> {
    let mut p = CertificateParams::new(vec![name.to_string()])?;
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    if expired {
        p.not_before = date_time_ymd(2019, 1, 1);
        p.not_after = date_time_ymd(2020, 1, 1);
    } else {
        p.not_before = date_time_ymd(2024, 1, 1);
        p.not_after = date_time_ymd(2040, 1, 1);
    }
    Ok(p)
}

impl Pki {
    /// Makes fresh CAs (new keys for every world).
    pub fn new() -> Result<Pki, LabError> {
        Ok(Pki {
            lab: make_ca("Interfero Lab Root", "Interfero Lab")?,
            mitm: make_ca(
                "Qaznet Trust Network (Interfero lab copy)",
                "Interfero Lab fictional state root",
            )?,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The lab CA in PEM: what the probe and control trust.
    pub fn lab_ca_pem(&self) -> String {
        self.lab.pem.clone()
    }

    /// The MITM CA in PEM (never to be trusted; exposed for tests and documentation).
    pub fn mitm_ca_pem(&self) -> String {
        self.mitm.pem.clone()
    }

    /// A server configuration presenting `leaf` for `name` (cached).
    pub fn config(&self, leaf: Leaf, name: &str) -> Result<Arc<ServerConfig>, LabError> {
        let key = (leaf, name.to_ascii_lowercase());
        if let Some(c) = self.cache.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(c);
        }
        let cfg = Arc::new(self.build(leaf, &key.1)?);
        if let Ok(mut m) = self.cache.lock() {
            if m.len() >= CACHE_MAX {
                m.clear();
            }
            m.insert(key, cfg.clone());
        }
        Ok(cfg)
    }

    fn build(&self, leaf: Leaf, name: &str) -> Result<ServerConfig, LabError> {
        let key = KeyPair::generate()?;
        let chain = match leaf {
            Leaf::Origin(CertKind::Valid) => self.signed(&self.lab, name, false, &key)?,
            Leaf::Origin(CertKind::Expired) => self.signed(&self.lab, name, true, &key)?,
            Leaf::Origin(CertKind::WrongName) => self.signed(&self.lab, WRONG_NAME, false, &key)?,
            Leaf::Origin(CertKind::SelfSigned) => {
                vec![leaf_params(name, false)?.self_signed(&key)?.der().clone()]
            }
            // The same CA as the interception, another key: the site's own leaf.
            Leaf::Origin(CertKind::StateRoot) => self.signed(&self.mitm, name, false, &key)?,
            Leaf::Mitm => self.signed(&self.mitm, name, false, &key)?,
            Leaf::Blockpage => self.signed(&self.lab, BLOCKPAGE_NAME, false, &key)?,
        };
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut cfg = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)?;
        // The origins speak HTTP/1.1 only.
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(cfg)
    }

    fn signed(
        &self,
        ca: &Ca,
        name: &str,
        expired: bool,
        key: &KeyPair,
    ) -> Result<Vec<CertificateDer<'static>>, LabError> {
        let cert = leaf_params(name, expired)?.signed_by(key, &ca.issuer)?;
        // Send the CA too, as real servers send intermediates; harmless for roots.
        Ok(vec![cert.der().clone(), ca.der.clone()])
    }
}
