//! Code material that never ships in plaintext.
//!
//! One 32-byte **code secret**, held by the edge and the ledger only (never in a bundle, never in
//! the browser), derives everything:
//! - the **pepper** of keyed hashes: a listed code (imported from a CSV/XLSX list, or a named
//!   public code such as `SUMMER20`) is stored in the edge bundle as the first
//!   [`HASH_LEN`] bytes of `HMAC-SHA256(pepper, code)`;
//! - one **campaign key** per generated campaign: a generated code is
//!   `prefix + serial + tag + suffix`, the serial and the tag in Crockford base32, the tag the
//!   truncated `HMAC-SHA256(campaign key, serial)`. Checking one needs no list at all, so a
//!   million codes cost the bundle nothing.
//!
//! Every derivation is domain-separated; `docs/signing.md` gives the exact byte layouts.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::compile::normalize_code;

type HmacSha256 = Hmac<Sha256>;

/// Bytes kept of a listed code's keyed hash: 96 bits, so even a million listed codes collide
/// with a guess with probability 2⁻⁷⁶, and the list stays 12 bytes a code.
pub const HASH_LEN: usize = 12;

/// The keyed hash of one normalized code.
pub type CodeHash = [u8; HASH_LEN];

/// Crockford's base32 alphabet: no `I`, `L`, `O` or `U`, so codes read aloud or retyped survive.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Fewest tag characters a generated campaign may use: 40 bits, one chance in 10¹² per guess.
pub const MIN_TAG_CHARS: u32 = 8;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// The edge-held secret behind keyed code hashes and generated campaigns.
#[derive(Clone)]
pub struct CodeSecret {
    pepper: [u8; 32],
    root: [u8; 32],
}

impl std::fmt::Debug for CodeSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeSecret(…)")
    }
}

impl CodeSecret {
    pub fn from_bytes(secret: [u8; 32]) -> CodeSecret {
        CodeSecret {
            pepper: hmac(&secret, &[b"promoseal/v1/pepper"]),
            root: secret,
        }
    }

    /// Reads the secret as 64 hex digits (surrounding whitespace ignored).
    pub fn from_hex(hex: &str) -> Result<CodeSecret, String> {
        let bytes = decode_hex(hex.trim())
            .filter(|b| b.len() == 32)
            .ok_or("a code secret is 64 hex digits")?;
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&bytes);
        Ok(CodeSecret::from_bytes(secret))
    }

    /// Which secret this is, in 16 hex digits that tell nothing of it (a keyed hash under its
    /// own domain): a project's code sets record it, so that a set is never used with a secret
    /// other than the one that hashed its codes or generates its campaign.
    pub fn fingerprint(&self) -> String {
        let mac = hmac(&self.root, &[b"promoseal/v1/code-secret-fingerprint"]);
        encode_hex(mac.get(..8).unwrap_or(&[]))
    }

    /// The keyed hash of a code as a shopper typed it (normalized first).
    pub fn hash(&self, code: &str) -> CodeHash {
        self.hash_normalized(&normalize_code(code))
    }

    pub(crate) fn hash_normalized(&self, normalized: &str) -> CodeHash {
        let full = hmac(
            &self.pepper,
            &[b"promoseal/v1/code\0", normalized.as_bytes()],
        );
        let mut out = [0u8; HASH_LEN];
        out.copy_from_slice(full.get(..HASH_LEN).unwrap_or(&[0; HASH_LEN]));
        out
    }

    fn campaign_key(&self, campaign: &str) -> [u8; 32] {
        hmac(
            &self.root,
            &[b"promoseal/v1/campaign\0", campaign.as_bytes()],
        )
    }

    /// The tag characters of one serial of a campaign.
    fn tag(&self, campaign_key: &[u8; 32], serial: u64, chars: u32) -> Vec<u8> {
        let mac = hmac(
            campaign_key,
            &[b"promoseal/v1/serial\0", &serial.to_be_bytes()],
        );
        // 32 bytes give 51 base32 characters; tags are validated to at most 32.
        let mut out = Vec::with_capacity(chars as usize);
        let mut acc: u64 = 0;
        let mut bits = 0u32;
        let mut bytes = mac.iter();
        while out.len() < chars as usize {
            if bits < 5 {
                match bytes.next() {
                    Some(b) => {
                        acc = (acc << 8) | u64::from(*b);
                        bits += 8;
                    }
                    None => break,
                }
            }
            bits -= 5;
            out.push(symbol((acc >> bits) & 31));
        }
        out
    }

    /// Code number `serial` of a generated campaign.
    pub fn generate(&self, campaign: &Campaign, serial: u64) -> Option<String> {
        let key = self.campaign_key(&campaign.campaign);
        (serial < campaign.count).then(|| self.code(&key, campaign, serial))?
    }

    /// Every code of a campaign, in serial order (for `promoseal codes generate/export`).
    pub fn generate_all<'a>(&'a self, campaign: &'a Campaign) -> impl Iterator<Item = String> + 'a {
        let key = self.campaign_key(&campaign.campaign);
        (0..campaign.count).filter_map(move |serial| self.code(&key, campaign, serial))
    }

    fn code(&self, key: &[u8; 32], campaign: &Campaign, serial: u64) -> Option<String> {
        let mut code = String::with_capacity(campaign.len());
        code.push_str(&campaign.prefix);
        code.push_str(&encode_serial(serial, campaign.serial_chars)?);
        code.extend(
            self.tag(key, serial, campaign.tag_chars)
                .into_iter()
                .map(char::from),
        );
        code.push_str(&campaign.suffix);
        Some(code)
    }

    /// The serial of a normalized code if it is a genuine code of the campaign (any serial
    /// below `count`; revocation is the caller's). The tag is compared in constant time.
    pub fn check(&self, campaign: &Campaign, normalized: &str) -> Option<u64> {
        let body = normalized
            .strip_prefix(campaign.prefix.as_str())?
            .strip_suffix(campaign.suffix.as_str())?;
        if body.len() != (campaign.serial_chars + campaign.tag_chars) as usize {
            return None;
        }
        let (serial_text, tag_text) = body.split_at(campaign.serial_chars as usize);
        let serial = decode_serial(serial_text)?;
        if serial >= campaign.count {
            return None;
        }
        let typed: Vec<u8> = tag_text.bytes().map(canonical_symbol).collect();
        let expected = self.tag(
            &self.campaign_key(&campaign.campaign),
            serial,
            campaign.tag_chars,
        );
        bool::from(typed.ct_eq(&expected)).then_some(serial)
    }
}

/// A generated campaign as a bundle describes it (no secret in it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    pub campaign: String,
    pub prefix: String,
    pub suffix: String,
    pub count: u64,
    pub serial_chars: u32,
    pub tag_chars: u32,
}

impl From<&crate::model::GeneratedSpec> for Campaign {
    fn from(g: &crate::model::GeneratedSpec) -> Campaign {
        Campaign {
            campaign: g.campaign.clone(),
            prefix: g.prefix.clone(),
            suffix: g.suffix.clone(),
            count: g.count,
            serial_chars: g.serial_chars,
            tag_chars: g.tag_chars,
        }
    }
}

impl Campaign {
    /// The bundle's description of the campaign, with no serial revoked yet.
    pub fn spec(&self) -> crate::model::GeneratedSpec {
        crate::model::GeneratedSpec {
            campaign: self.campaign.clone(),
            prefix: self.prefix.clone(),
            suffix: self.suffix.clone(),
            count: self.count,
            serial_chars: self.serial_chars,
            tag_chars: self.tag_chars,
            revoked: Vec::new(),
        }
    }

    /// A campaign of `count` codes whose random part is `length` characters long. A new
    /// campaign's prefix and suffix hold letters, digits, `-` and `_` only: shoppers type them,
    /// and a code is shown in mail, on receipts and in pages. (Campaigns already signed into
    /// bundles are read with [`Campaign::validate`]'s rule alone.)
    pub fn new(
        campaign: &str,
        prefix: &str,
        suffix: &str,
        count: u64,
        length: u32,
    ) -> Result<Campaign, String> {
        for (what, part) in [("prefix", prefix), ("suffix", suffix)] {
            if let Some(c) = part
                .trim()
                .chars()
                .find(|&c| !(c.is_alphanumeric() || c == '-' || c == '_'))
            {
                return Err(format!(
                    "the {what} may hold letters, digits, `-` and `_` only, not `{c}`"
                ));
            }
        }
        let serial_chars = serial_chars_for(count);
        let tag_chars = length.saturating_sub(serial_chars);
        let c = Campaign {
            campaign: campaign.to_string(),
            prefix: normalize_code(prefix),
            suffix: normalize_code(suffix),
            count,
            serial_chars,
            tag_chars,
        };
        c.validate().map_err(|e| {
            format!("{e} (a length of {length} leaves {tag_chars} tag characters after {serial_chars} for the serial)")
        })?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.campaign.is_empty() {
            return Err("the campaign id must not be empty".into());
        }
        if self.count == 0 {
            return Err("a campaign has at least one code".into());
        }
        if self.serial_chars < serial_chars_for(self.count) || self.serial_chars > 12 {
            return Err(format!(
                "{} serial characters cannot number {} codes",
                self.serial_chars, self.count
            ));
        }
        if !(MIN_TAG_CHARS..=32).contains(&self.tag_chars) {
            return Err(format!(
                "the tag must have {MIN_TAG_CHARS} to 32 characters, not {}",
                self.tag_chars
            ));
        }
        for (what, part) in [("prefix", &self.prefix), ("suffix", &self.suffix)] {
            if *part != normalize_code(part) || part.chars().any(|c| c.is_control()) {
                return Err(format!(
                    "the {what} must be upper-case without surrounding space"
                ));
            }
        }
        if self.len() > crate::compile::MAX_CODE_LEN {
            return Err(format!(
                "codes would be {} bytes, over the {} a code may have",
                self.len(),
                crate::compile::MAX_CODE_LEN
            ));
        }
        Ok(())
    }

    /// Length of every code of the campaign, in bytes.
    pub fn len(&self) -> usize {
        self.prefix.len() + self.suffix.len() + (self.serial_chars + self.tag_chars) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Base32 characters needed to number `count` codes (at least 2).
fn serial_chars_for(count: u64) -> u32 {
    let mut chars = 2;
    while chars < 13 && count.saturating_sub(1) >> (5 * chars) > 0 {
        chars += 1;
    }
    chars
}

fn symbol(v: u64) -> u8 {
    ALPHABET.get((v & 31) as usize).copied().unwrap_or(b'0')
}

/// Crockford's reading rules: `O` is zero, `I` and `L` are one.
fn canonical_symbol(b: u8) -> u8 {
    match b {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    }
}

fn encode_serial(serial: u64, chars: u32) -> Option<String> {
    let mut out = vec![b'0'; chars as usize];
    let mut v = serial;
    for slot in out.iter_mut().rev() {
        *slot = symbol(v);
        v >>= 5;
    }
    (v == 0).then(|| out.into_iter().map(char::from).collect())
}

fn decode_serial(text: &str) -> Option<u64> {
    let mut v: u64 = 0;
    for b in text.bytes() {
        let c = canonical_symbol(b);
        let digit = ALPHABET.iter().position(|a| *a == c)? as u64;
        v = v.checked_mul(32)?.checked_add(digit)?;
    }
    Some(v)
}

/// A code as operators may see it: its first and last quarter (at most four characters each)
/// with the rest starred, `SPR-********EFGH`, `G****5`. Enough to tell codes apart in a
/// support call, never enough to use one.
pub fn mask(code: &str) -> String {
    let chars: Vec<char> = normalize_code(code).chars().collect();
    let shown = (chars.len() / 4).min(4);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < shown || i + shown >= chars.len() {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// Lower-case hex of bytes.
pub fn encode_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(
            HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
        ));
        s.push(char::from(
            HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
        ));
    }
    s
}

/// Bytes of a hex string (either case); `None` when it is not hex.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16);
    s.as_bytes()
        .chunks(2)
        .map(|p| match p {
            [a, b] => Some((nibble(*a)? * 16 + nibble(*b)?) as u8),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> CodeSecret {
        CodeSecret::from_bytes([7; 32])
    }

    #[test]
    fn a_fingerprint_tells_secrets_apart_and_nothing_of_them() {
        let (a, b) = (secret(), CodeSecret::from_bytes([8; 32]));
        let fa = a.fingerprint();
        assert_eq!(fa.len(), 16);
        assert!(fa.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(fa, b.fingerprint());
        assert_eq!(
            fa,
            CodeSecret::from_hex(&"07".repeat(32))
                .unwrap()
                .fingerprint()
        );
        // Under a label of its own: not the secret, not a code's hash, not the pepper.
        assert!(!encode_hex(&[7; 32]).contains(&fa));
        assert!(!encode_hex(&a.hash("")).contains(&fa));
        assert!(!encode_hex(&a.pepper).contains(&fa));
    }

    #[test]
    fn generated_codes_check_and_forgeries_fail() {
        let s = secret();
        let c = Campaign::new("spring", "spr-", "", 100_000, 12).unwrap();
        assert_eq!(c.serial_chars, 4);
        assert_eq!(c.tag_chars, 8);
        let codes: Vec<String> = s.generate_all(&c).take(50).collect();
        for (i, code) in codes.iter().enumerate() {
            assert!(code.starts_with("SPR-"));
            assert_eq!(code.len(), c.len());
            assert_eq!(s.check(&c, code), Some(i as u64));
            assert_eq!(s.generate(&c, i as u64).as_deref(), Some(code.as_str()));
        }
        // Every single-character change of the tag is refused.
        let code = &codes[3];
        for pos in 8..code.len() {
            for b in ALPHABET {
                let mut bytes = code.clone().into_bytes();
                if bytes[pos] == *b {
                    continue;
                }
                bytes[pos] = *b;
                assert_eq!(s.check(&c, &String::from_utf8(bytes).unwrap()), None);
            }
        }
        // Another secret or another campaign does not know these codes.
        assert_eq!(CodeSecret::from_bytes([8; 32]).check(&c, code), None);
        let other = Campaign::new("summer", "spr-", "", 100_000, 12).unwrap();
        assert_eq!(s.check(&other, code), None);
        // Serials at or above `count` are refused even with a right tag.
        let wide = Campaign {
            count: 200_000,
            ..c.clone()
        };
        let beyond = s.generate(&wide, 150_000).unwrap();
        assert_eq!(s.check(&c, &beyond), None);
        assert_eq!(s.generate(&c, 100_000), None);
    }

    #[test]
    fn ambiguous_letters_read_as_digits() {
        let s = secret();
        let c = Campaign::new("c", "", "-X", 1000, 12).unwrap();
        let code = s.generate(&c, 0).unwrap();
        assert!(code.starts_with("00"));
        let typed = format!("OO{}", &code[2..]);
        assert_eq!(s.check(&c, &typed), Some(0));
    }

    #[test]
    fn campaign_validation() {
        assert!(Campaign::new("c", "", "", 1_000_000, 10).is_err()); // 4 + 6 < 8 tag chars
        assert!(Campaign::new("c", "", "", 0, 12).is_err());
        assert!(Campaign::new("", "", "", 1, 12).is_err());
        assert!(Campaign::new("c", &"P".repeat(60), "", 10, 12).is_err());
        // What a shopper types: letters (any script), digits, `-` and `_`.
        assert!(Campaign::new("c", "été-2026_", "-vip", 10, 12).is_ok());
        for (prefix, suffix) in [("<b>", ""), ("a b", ""), ("", "!"), ("x\u{7}", "")] {
            let e = Campaign::new("c", prefix, suffix, 10, 12).unwrap_err();
            assert!(
                e.contains("may hold letters, digits"),
                "{prefix:?} {suffix:?}: {e}"
            );
        }
        assert_eq!(serial_chars_for(1), 2);
        assert_eq!(serial_chars_for(1024), 2);
        assert_eq!(serial_chars_for(1025), 3);
        assert_eq!(serial_chars_for(u64::MAX), 13);
    }

    #[test]
    fn masks_show_a_quarter_at_each_end_at_most() {
        assert_eq!(mask("gold25"), "G****5");
        assert_eq!(mask("SPR-0001ABCDEFGH"), "SPR-********EFGH");
        assert_eq!(mask("ABC"), "***");
        assert_eq!(mask(&"X".repeat(40)), format!("XXXX{}XXXX", "*".repeat(32)));
        assert_eq!(mask(""), "");
    }

    #[test]
    fn keyed_hashes_normalize_and_depend_on_the_secret() {
        let s = secret();
        assert_eq!(s.hash(" summer20 "), s.hash("SUMMER20"));
        assert_ne!(s.hash("SUMMER20"), s.hash("SUMMER21"));
        assert_ne!(
            s.hash("SUMMER20"),
            CodeSecret::from_bytes([8; 32]).hash("SUMMER20")
        );
        assert!(CodeSecret::from_hex(&"ab".repeat(32)).is_ok());
        assert!(CodeSecret::from_hex("abc").is_err());
        assert_eq!(
            decode_hex(&encode_hex(&[0, 1, 254, 255])).unwrap(),
            vec![0, 1, 254, 255]
        );
    }
}
