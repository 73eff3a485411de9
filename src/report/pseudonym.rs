//! Pseudonymous employee ids for reports that leave the security team.
//!
//! A pseudonym is `emp-` and the first 12 hex digits (48 bits) of HMAC-SHA-256 over the
//! employee id, keyed with `DRIFTWATCH_REPORT_KEY` — the same key gives the same pseudonyms
//! in every report, so months can be compared, and whoever holds the key (and the roster)
//! can map a pseudonym back. Without the variable each report draws a random key that is
//! never stored: pseudonyms differ from report to report and nobody can map them back.
//! A keyed hash, not a plain one: employee ids are few and guessable (`E10001`…), so
//! SHA-256 of an id alone is reversed by trying them all.
//!
//! Ids are replaced everywhere they appear: rows, alerts, clusters, and inside free text
//! (alert summaries, evidence, analysts' notes), where the employee's account names are
//! replaced too (`hking@corp.example` says who it is as clearly as `E10001`).

use std::collections::HashMap;
use std::io::Read;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ReportError;
use crate::roster::{EmployeeId, Roster};

/// The environment variable holding the pseudonymisation key.
pub const KEY_VARIABLE: &str = "DRIFTWATCH_REPORT_KEY";

/// Shortest key accepted from the environment, in bytes: 128 bits of a random string.
pub const MIN_KEY_BYTES: usize = 16;

/// Where the key came from, for the report's method section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `DRIFTWATCH_REPORT_KEY`: stable across reports.
    Environment,
    /// Drawn for this report and discarded.
    Random,
}

/// Turns employee ids into pseudonyms.
#[derive(Clone)]
pub struct Pseudonymiser {
    key: Vec<u8>,
    source: KeySource,
}

impl std::fmt::Debug for Pseudonymiser {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pseudonymiser")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Pseudonymiser {
    /// The key from [`KEY_VARIABLE`], or a random one when it is unset or empty.
    pub fn from_env() -> Result<Pseudonymiser, ReportError> {
        match std::env::var_os(KEY_VARIABLE) {
            Some(v) if !v.is_empty() => {
                let key = v.as_encoded_bytes().to_vec();
                if key.len() < MIN_KEY_BYTES {
                    return Err(ReportError::Usage(format!(
                        "{KEY_VARIABLE} must be at least {MIN_KEY_BYTES} bytes"
                    )));
                }
                Ok(Pseudonymiser {
                    key,
                    source: KeySource::Environment,
                })
            }
            _ => Pseudonymiser::random(),
        }
    }

    /// A key of 32 bytes from the operating system's random source.
    pub fn random() -> Result<Pseudonymiser, ReportError> {
        let mut key = vec![0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut key))
            .map_err(|e| ReportError::Key(format!("cannot read /dev/urandom: {e}")))?;
        Ok(Pseudonymiser {
            key,
            source: KeySource::Random,
        })
    }

    /// A fixed key (tests, and callers with their own key management).
    pub fn with_key(key: &[u8]) -> Pseudonymiser {
        Pseudonymiser {
            key: key.to_vec(),
            source: KeySource::Environment,
        }
    }

    pub fn source(&self) -> KeySource {
        self.source
    }

    /// `emp-` and 12 hex digits of HMAC-SHA-256(key, id).
    pub fn pseudonym(&self, id: &EmployeeId) -> String {
        let mac = hmac_sha256(&self.key, id.0.as_bytes());
        format!("emp-{}", crate::hex::hex(&mac[..6]))
    }

    /// How the report's ids were made, in words.
    pub fn describe(&self) -> String {
        let key = match self.source {
            KeySource::Environment => format!(
                "keyed with {KEY_VARIABLE}: the same key gives the same pseudonyms in every report"
            ),
            KeySource::Random => format!(
                "keyed with a random key drawn for this report and discarded ({KEY_VARIABLE} was \
                 not set): the pseudonyms cannot be mapped back, nor compared with another report's"
            ),
        };
        format!(
            "employee ids are \"emp-\" and the first 12 hex digits of HMAC-SHA-256 over the id, {key}; \
             ids and account names inside alert text and notes are replaced the same way"
        )
    }
}

/// HMAC (RFC 2104) with SHA-256.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length (longer than a block, it is hashed first).
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Replaces employee ids and account names in text by pseudonyms.
pub struct Redactor<'a> {
    pseudonyms: HashMap<&'a EmployeeId, String>,
    /// Per employee: (lower-case id or account name, pseudonym), longest first, so an
    /// e-mail address is replaced whole before its local part could be.
    tokens: HashMap<&'a EmployeeId, Vec<(String, String)>>,
}

impl<'a> Redactor<'a> {
    pub fn new(p: &Pseudonymiser, roster: &'a Roster) -> Redactor<'a> {
        let mut pseudonyms = HashMap::new();
        let mut tokens = HashMap::new();
        for profile in roster.iter() {
            let id = &profile.employee_id;
            let pseudonym = p.pseudonym(id);
            let mut mine: Vec<(String, String)> = std::iter::once(id.0.as_str())
                .chain(profile.aliases.iter().map(String::as_str))
                .filter(|t| !t.is_empty())
                .map(|t| (t.to_ascii_lowercase(), pseudonym.clone()))
                .collect();
            mine.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
            mine.dedup();
            pseudonyms.insert(id, pseudonym);
            tokens.insert(id, mine);
        }
        Redactor { pseudonyms, tokens }
    }

    /// The pseudonym of a roster employee; an id the roster does not hold gets one from
    /// the same key, computed on demand.
    pub fn id(&self, p: &Pseudonymiser, id: &EmployeeId) -> String {
        self.pseudonyms
            .get(id)
            .cloned()
            .unwrap_or_else(|| p.pseudonym(id))
    }

    /// `text` with the ids and account names of `employees` replaced.
    pub fn text<'e>(
        &self,
        text: &str,
        employees: impl IntoIterator<Item = &'e EmployeeId>,
    ) -> String {
        let mut tokens: Vec<&(String, String)> = employees
            .into_iter()
            .filter_map(|e| self.tokens.get(e))
            .flatten()
            .collect();
        tokens.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        let mut out = text.to_owned();
        for (token, pseudonym) in tokens {
            out = replace_words(&out, token, pseudonym);
        }
        out
    }

    /// `text` with every roster employee's id and account names replaced (for free text
    /// that may name anyone, like an analyst's note).
    pub fn text_any(&self, text: &str) -> String {
        self.text(text, self.tokens.keys().copied())
    }
}

/// Replace each ASCII-case-insensitive occurrence of `token` (lower case) in `text` that
/// is not part of a longer word (letters, digits, `_`), so `E1` leaves `E10` alone.
fn replace_words(text: &str, token: &str, with: &str) -> String {
    // ASCII lower-casing keeps byte offsets, so matches in `lower` index into `text`.
    let lower = text.to_ascii_lowercase();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut from = 0;
    while let Some(at) = lower[from..].find(token).map(|i| i + from) {
        let end = at + token.len();
        let before = text[..at].chars().next_back();
        let after = text[end..].chars().next();
        // A token that itself starts or ends with a non-word character (`CORP\x`) needs no
        // boundary on that side.
        let needs_before = word(token.chars().next());
        let needs_after = word(token.chars().next_back());
        if (!needs_before || !word(before)) && (!needs_after || !word(after)) {
            out.push_str(&text[last..at]);
            out.push_str(with);
            last = end;
            from = end;
        } else {
            from = at + token.chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex = crate::hex::hex(&mac);
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_hashes_keys_longer_than_a_block() {
        // RFC 4231 test case 6: a 131-byte key.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        let hex = crate::hex::hex(&mac);
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn pseudonyms_are_stable_per_key_and_differ_between_keys() {
        let a = Pseudonymiser::with_key(b"0123456789abcdef");
        let b = Pseudonymiser::with_key(b"fedcba9876543210");
        let id = EmployeeId("E10001".into());
        assert_eq!(a.pseudonym(&id), a.pseudonym(&id));
        assert_ne!(a.pseudonym(&id), b.pseudonym(&id));
        assert_ne!(a.pseudonym(&id), a.pseudonym(&EmployeeId("E10002".into())));
        assert!(a.pseudonym(&id).starts_with("emp-"));
        assert_eq!(a.pseudonym(&id).len(), 16);
    }

    /// The pseudonyms of the hand-written HMAC this module had before the `hmac` crate, for
    /// a short key, a key of exactly one block and one longer than a block: a report keyed
    /// as before maps every employee to the same pseudonym as before.
    #[test]
    fn pseudonyms_are_the_ones_earlier_reports_printed() {
        let block: Vec<u8> = (0..64).collect();
        for (key, id, want) in [
            (&b"0123456789abcdef"[..], "E10001", "emp-096432514f05"),
            (&b"0123456789abcdef"[..], "E10002", "emp-ceb1c0068e9e"),
            (&[b'k'; 100][..], "E1", "emp-b3f26cbcb346"),
            (&block[..], "\u{e9}-E7", "emp-3b2c051b1c69"),
        ] {
            let p = Pseudonymiser::with_key(key);
            assert_eq!(p.pseudonym(&EmployeeId(id.into())), want, "{id}");
        }
    }

    #[test]
    fn random_keys_differ() {
        let id = EmployeeId("E1".into());
        assert_ne!(
            Pseudonymiser::random().unwrap().pseudonym(&id),
            Pseudonymiser::random().unwrap().pseudonym(&id)
        );
    }

    #[test]
    fn the_debug_form_hides_the_key() {
        let p = Pseudonymiser::with_key(b"super-secret-key-material");
        assert!(!format!("{p:?}").contains("super-secret"));
    }

    #[test]
    fn words_are_replaced_whole_and_case_insensitively() {
        assert_eq!(replace_words("E1 and E10", "e1", "X"), "X and E10");
        assert_eq!(replace_words("(E10)", "e10", "X"), "(X)");
        assert_eq!(
            replace_words("via HKing@Corp.example, hking", "hking@corp.example", "X"),
            "via X, hking"
        );
        assert_eq!(replace_words(r"CORP\hking", "hking", "X"), r"CORP\X");
        assert_eq!(
            replace_words("ahking hkings", "hking", "X"),
            "ahking hkings"
        );
        assert_eq!(replace_words("é E1é E1", "e1", "X"), "é E1é X");
    }

    #[test]
    fn ids_and_aliases_of_the_named_employees_are_replaced() {
        let roster = Roster::from_csv_reader(
            "employee_id,aliases,claimed_country,claimed_timezone,status\n\
             E1,hking@corp.example;hking,US,America/New_York,active\n\
             E10,mmiller@corp.example,US,America/New_York,active\n"
                .as_bytes(),
        )
        .unwrap();
        let p = Pseudonymiser::with_key(b"0123456789abcdef");
        let r = Redactor::new(&p, &roster);
        let e1 = EmployeeId("E1".into());
        let e10 = EmployeeId("E10".into());
        let (p1, p10) = (p.pseudonym(&e1), p.pseudonym(&e10));
        let text = "E1 (hking@corp.example, CORP\\HKING) shares an address with E10";
        assert_eq!(
            r.text(text, [&e1, &e10]),
            format!("{p1} ({p1}, CORP\\{p1}) shares an address with {p10}")
        );
        assert_eq!(r.text_any("ask mmiller"), "ask mmiller", "not an alias");
        assert_eq!(r.text_any("ask mmiller@corp.example"), format!("ask {p10}"));
    }
}
