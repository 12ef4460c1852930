//! The secure brokers of `scripts/secure-kafka.sh` work with an independent client
//! (kafka-python): produce and consume over SSL, SASL_PLAINTEXT and SASL_SSL, and refusal of
//! a wrong password, of a missing SASL login and of a client without TLS.

#![allow(clippy::unwrap_used)] // test code; a failure should panic

use connect_e2e::secure_kafka::{SaslLogin, SecureKafka, SecurityProtocol};
use connect_e2e::temp_dir;

fn assert_roundtrip(kafka: &SecureKafka, protocol: SecurityProtocol, login: Option<&SaslLogin>) {
    let summary = kafka
        .roundtrip_with_kafka_python(protocol, login, 3)
        .unwrap_or_else(|e| panic!("{} with {login:?}: {e}", protocol.as_str()));
    assert_eq!(
        summary["consumed"],
        3,
        "{} with {login:?}: {summary}",
        protocol.as_str()
    );
}

fn assert_refused(
    kafka: &SecureKafka,
    protocol: SecurityProtocol,
    login: Option<&SaslLogin>,
    tls: bool,
) {
    if let Err(e) = kafka.refused_with_kafka_python(protocol, login, tls) {
        panic!(
            "the {} broker let in a client with {login:?}, tls {tls}: {e}",
            protocol.as_str()
        );
    }
}

#[test]
fn kafka_python_gets_in_with_tls_and_sasl_and_is_refused_without() {
    let mut kafka = SecureKafka::start(&temp_dir("secure-kafka"));
    assert_eq!(
        kafka.mechanisms,
        ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    );

    assert_roundtrip(&kafka, SecurityProtocol::Ssl, None);
    for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let login = SaslLogin::valid(mechanism);
        assert_roundtrip(&kafka, SecurityProtocol::SaslPlaintext, Some(&login));
        assert_roundtrip(&kafka, SecurityProtocol::SaslSsl, Some(&login));
    }

    let scram = SaslLogin::valid("SCRAM-SHA-256");
    // Plain TCP to the TLS port.
    assert_refused(&kafka, SecurityProtocol::Ssl, None, false);
    // No SASL login.
    assert_refused(&kafka, SecurityProtocol::SaslPlaintext, None, false);
    assert_refused(&kafka, SecurityProtocol::SaslSsl, None, true);
    // A wrong SCRAM password (tansu's PLAIN takes any password), and an unknown user.
    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
        let wrong_password = SaslLogin::new(mechanism, "connect", "wrong-password");
        assert_refused(
            &kafka,
            SecurityProtocol::SaslPlaintext,
            Some(&wrong_password),
            false,
        );
        assert_refused(
            &kafka,
            SecurityProtocol::SaslSsl,
            Some(&wrong_password),
            true,
        );
    }
    let unknown = SaslLogin::new("SCRAM-SHA-256", "nobody", "connect-secret");
    assert_refused(
        &kafka,
        SecurityProtocol::SaslPlaintext,
        Some(&unknown),
        false,
    );
    // SASL without TLS to the SASL_SSL port.
    assert_refused(&kafka, SecurityProtocol::SaslSsl, Some(&scram), false);

    kafka.stop();
}
