//! The envelope: a JSON header line with the signatures, then the exact payload bytes.

use serde::{Deserialize, Serialize};

use super::{sha256, SigningIdentity};

/// The envelope version written in every header.
const ENVELOPE: &str = "promoseal/1";

/// The longest header line read (signatures of a generous threshold fit many times over).
pub const MAX_HEADER: usize = 16 * 1024;

/// What an envelope holds; part of every signed message, so a signature over one kind can never
/// be replayed as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EnvelopeType {
    Bundle,
    Root,
}

impl EnvelopeType {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeType::Bundle => "bundle",
            EnvelopeType::Root => "root",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignatureSpec {
    pub key_id: String,
    /// Standard base64 of the 64-byte Ed25519 signature.
    pub sig: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Header {
    envelope: String,
    #[serde(rename = "type")]
    kind: EnvelopeType,
    signatures: Vec<SignatureSpec>,
}

/// An envelope split into its parts; the payload is borrowed, byte for byte.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub kind: EnvelopeType,
    pub signatures: Vec<SignatureSpec>,
    pub payload: &'a [u8],
    /// SHA-256 of the payload: what every signature covers (with the domain prefix).
    pub digest: [u8; 32],
}

impl<'a> Envelope<'a> {
    /// Splits an envelope. Only the header is parsed (strictly); the payload is hashed, not read.
    pub fn parse(bytes: &'a [u8]) -> Result<Envelope<'a>, String> {
        let window = bytes
            .get(..bytes.len().min(MAX_HEADER + 1))
            .unwrap_or(bytes);
        let newline = window
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| format!("no envelope header line within {MAX_HEADER} bytes"))?;
        let (head, rest) = bytes.split_at(newline);
        let payload = rest.get(1..).unwrap_or_default();
        let header: Header =
            crate::error::parse_json(head).map_err(|e| format!("envelope header: {e}"))?;
        if header.envelope != ENVELOPE {
            return Err(format!(
                "envelope header: unsupported envelope `{}` (this build reads `{ENVELOPE}`)",
                header.envelope
            ));
        }
        Ok(Envelope {
            kind: header.kind,
            signatures: header.signatures,
            payload,
            digest: sha256(payload),
        })
    }

    /// Seals exact payload bytes under every given key.
    pub fn seal(kind: EnvelopeType, payload: &[u8], signers: &[&SigningIdentity]) -> Vec<u8> {
        let digest = sha256(payload);
        let header = Header {
            envelope: ENVELOPE.into(),
            kind,
            signatures: signers
                .iter()
                .map(|s| s.sign(kind.as_str(), &digest))
                .collect(),
        };
        // A struct of strings always serializes.
        let mut out = serde_json::to_vec(&header).unwrap_or_default();
        out.push(b'\n');
        out.extend_from_slice(payload);
        out
    }

    /// Adds signatures to an already sealed envelope (co-signing a root, say), keeping the
    /// payload bytes as they are.
    pub fn add_signatures(bytes: &[u8], signers: &[&SigningIdentity]) -> Result<Vec<u8>, String> {
        let env = Envelope::parse(bytes)?;
        let mut signatures = env.signatures;
        for s in signers {
            signatures.retain(|x| x.key_id != s.id);
            signatures.push(s.sign(env.kind.as_str(), &env.digest));
        }
        let header = Header {
            envelope: ENVELOPE.into(),
            kind: env.kind,
            signatures,
        };
        let mut out = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
        out.push(b'\n');
        out.extend_from_slice(env.payload);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_exact_bytes() {
        let k = SigningIdentity::from_seed("a", [3; 32]);
        let payload = b"{\"x\": 1}\n\n  trailing bytes stay";
        let sealed = Envelope::seal(EnvelopeType::Bundle, payload, &[&k]);
        let env = Envelope::parse(&sealed).unwrap();
        assert_eq!(env.payload, payload);
        assert_eq!(env.kind, EnvelopeType::Bundle);
        assert_eq!(env.signatures.len(), 1);
        let two = Envelope::add_signatures(&sealed, &[&SigningIdentity::from_seed("b", [4; 32])])
            .unwrap();
        assert_eq!(Envelope::parse(&two).unwrap().signatures.len(), 2);
        assert_eq!(Envelope::parse(&two).unwrap().payload, payload);
    }

    #[test]
    fn malformed_headers_are_named() {
        assert!(Envelope::parse(b"")
            .unwrap_err()
            .contains("no envelope header"));
        assert!(Envelope::parse(&vec![b' '; MAX_HEADER + 10])
            .unwrap_err()
            .contains("no envelope header"));
        let e = Envelope::parse(
            b"{\"envelope\":\"promoseal/1\",\"type\":\"bundle\",\"signatures\":[],\"x\":1}\n{}",
        )
        .unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        let e = Envelope::parse(
            b"{\"envelope\":\"promoseal/9\",\"type\":\"bundle\",\"signatures\":[]}\n{}",
        )
        .unwrap_err();
        assert!(e.contains("unsupported envelope"), "{e}");
    }
}
