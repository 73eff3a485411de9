//! Account names to employees.
//!
//! Sources name the same account differently: Okta and Entra write e-mails or UPNs
//! (`jdoe@corp.example`), Windows and VPN concentrators `CORP\jdoe`, syslog bare `jdoe`.
//! Matching is case-insensitive and follows these rules, chosen so that a login is never
//! pinned on the wrong employee (a wrong match both hides the real account and poisons an
//! innocent employee's baseline; an unresolved login is merely counted):
//!
//! 1. Every alias and the employee id itself match exactly (ignoring case). Two employees
//!    claiming the same alias, or an alias equal to another's id, is a roster error.
//! 2. An e-mail/UPN alias (`jdoe@corp.example`) or `DOMAIN\user` alias (`CORP\jdoe`) also
//!    yields its *user name* (`jdoe`). A bare name or `DOMAIN\user` login that matches no
//!    alias exactly is looked up by its user name, and resolves only when exactly one
//!    employee yields that user name. `jdoe@corp.example` and `jdoe@contractor.example`
//!    held by two employees make `jdoe` ambiguous: it resolves to neither.
//! 3. An explicit alias wins over a derived user name: HR listing bare `jdoe` for one
//!    employee is a stronger statement than another's e-mail happening to start so.
//! 4. A login in e-mail form matches only exactly: `jdoe@other.example` is a different
//!    account (a guest, a personal address), never `jdoe@corp.example`'s owner.
//! 5. The domain of a `DOMAIN\user` login is not compared with e-mail domains: NetBIOS
//!    names (`CORP`) cannot be derived from DNS names (`corp.example`); rule 2's
//!    uniqueness is what keeps the match safe.
//! 6. Keys are NFKC, then Unicode lower case. A name outside ASCII whose key is all ASCII
//!    (a Kelvin sign for K, fullwidth letters) matches nobody: identity providers keep such
//!    names apart, so it is another account imitating the employee it folds onto, and
//!    [`AliasIndex::confusable_with`] names them for the report.

use std::collections::HashMap;

/// An alias checked and normalised at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedAlias {
    /// The alias in lower case: the exact-match key.
    pub key: String,
    /// The user name of an e-mail or `DOMAIN\user` alias, in lower case.
    pub user: Option<String>,
}

/// The key of a name, at load and at lookup alike: NFKC (compatibility forms such as
/// fullwidth letters and the Kelvin sign become the letters they look like), then Unicode
/// lower case. A name that reaches an all-ASCII key only through this folding is refused at
/// lookup (see [`AliasIndex::confusable_with`]).
fn normalise(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let s = s.trim();
    if s.is_ascii() {
        return s.to_lowercase();
    }
    s.nfkc().collect::<String>().to_lowercase()
}

/// Check an alias and derive its keys. The error says what is wrong with it.
pub(crate) fn parse(raw: &str) -> Result<ParsedAlias, &'static str> {
    let key = normalise(raw);
    if key.is_empty() {
        return Err("is empty");
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains white space");
    }
    let user = match (key.split_once('@'), key.split_once('\\')) {
        (Some(_), Some(_)) => return Err("mixes user@domain and DOMAIN\\user"),
        (Some((local, domain)), None) => {
            if local.is_empty() || domain.is_empty() || domain.contains('@') {
                return Err("is not user@domain");
            }
            Some(local.to_owned())
        }
        (None, Some((domain, user))) => {
            if domain.is_empty() || user.is_empty() || user.contains('\\') {
                return Err("is not DOMAIN\\user");
            }
            Some(user.to_owned())
        }
        (None, None) => None,
    };
    Ok(ParsedAlias { key, user })
}

/// The key an employee id is matched by.
pub(crate) fn id_key(id: &str) -> String {
    normalise(id)
}

/// Who a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Named by an alias or an employee id (rule 1).
    Explicit(usize),
    /// The user name of one employee's alias (rule 2).
    Derived(usize),
    /// The user name of several employees' aliases: matches nobody.
    Ambiguous,
}

/// Normalised account name → index of the employee's profile.
#[derive(Debug, Default)]
pub(crate) struct AliasIndex {
    keys: HashMap<Box<str>, Target>,
    /// Every employee each derived user name comes from, to name them when it is
    /// ambiguous.
    derived_from: HashMap<Box<str>, Vec<usize>>,
}

impl AliasIndex {
    /// Claim `key` for `owner`. Fails with the previous owner when another employee
    /// already holds it explicitly.
    pub fn claim(&mut self, key: &str, owner: usize) -> Result<(), usize> {
        match self.keys.get(key) {
            Some(Target::Explicit(prev)) if *prev != owner => Err(*prev),
            _ => {
                self.keys.insert(key.into(), Target::Explicit(owner));
                Ok(())
            }
        }
    }

    /// Record that `owner` has an alias with this user name.
    pub fn derive(&mut self, user: &str, owner: usize) {
        let from = self.derived_from.entry(user.into()).or_default();
        if !from.contains(&owner) {
            from.push(owner);
        }
        let next = match self.keys.get(user) {
            None => Target::Derived(owner),
            Some(Target::Derived(prev)) if *prev != owner => Target::Ambiguous,
            Some(kept) => *kept,
        };
        self.keys.insert(user.into(), next);
    }

    /// The employee an account name resolves to under the module's rules. A name with
    /// characters outside ASCII that folds onto an all-ASCII key (`Ksato` with a Kelvin
    /// sign, fullwidth `ｊｄｏｅ`) matches nobody: real identity providers keep such names
    /// apart, so it is another account imitating the employee
    /// ([`AliasIndex::confusable_with`] names whom).
    pub fn lookup(&self, user: &str) -> Option<usize> {
        let user = user.trim();
        if !user.is_ascii() {
            let key = normalise(user);
            if key.is_ascii() {
                return None;
            }
            return self.lookup_key(&key);
        }
        self.lookup_key(user)
    }

    /// The employee a non-ASCII account name imitates: the one it would resolve to once
    /// folded onto ASCII. `None` for ASCII names and names that fold to nobody.
    pub fn confusable_with(&self, user: &str) -> Option<usize> {
        let user = user.trim();
        if user.is_ascii() {
            return None;
        }
        let key = normalise(user);
        if !key.is_ascii() {
            return None;
        }
        self.lookup_key(&key)
    }

    fn lookup_key(&self, user: &str) -> Option<usize> {
        with_lowercase(user, |k| {
            if let Some(found) = self.keys.get(k) {
                return owner(*found);
            }
            let (_domain, name) = k.split_once('\\')?;
            // Derived and explicit bare keys hold neither separator; a name that does
            // is not `DOMAIN\user` and must not reach an e-mail key by accident.
            if name.contains(['\\', '@']) {
                return None;
            }
            self.keys.get(name).and_then(|t| owner(*t))
        })
    }

    /// The employees an account name would resolve to but for its ambiguity (rule 2: a
    /// user name several employees' aliases yield); empty when it resolves or is unknown.
    pub fn ambiguous_owners(&self, user: &str) -> Vec<usize> {
        with_lowercase(user.trim(), |k| {
            let name = match self.keys.get(k) {
                Some(Target::Ambiguous) => k,
                Some(_) => return Vec::new(),
                None => match k.split_once('\\') {
                    Some((_, name)) if !name.contains(['\\', '@']) => name,
                    _ => return Vec::new(),
                },
            };
            match self.keys.get(name) {
                Some(Target::Ambiguous) => self.derived_from.get(name).cloned().unwrap_or_default(),
                _ => Vec::new(),
            }
        })
    }

    /// User names that resolve to nobody because several employees yield them.
    pub fn ambiguous(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(|(_, t)| **t == Target::Ambiguous)
            .map(|(k, _)| &**k)
    }
}

fn owner(target: Target) -> Option<usize> {
    match target {
        Target::Explicit(i) | Target::Derived(i) => Some(i),
        Target::Ambiguous => None,
    }
}

/// Longest ASCII name lowered on the stack; longer ones are rare enough to allocate.
const STACK_NAME: usize = 128;

/// Call `f` with `s` in lower case, without allocating when `s` is ASCII and either
/// already lower case (the common case: most sources log lower-case names) or short.
/// Resolution sits on the hot path of every event, so this avoids the heap there.
fn with_lowercase<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    if s.is_ascii() {
        if !s.bytes().any(|b| b.is_ascii_uppercase()) {
            return f(s);
        }
        let mut buf = [0u8; STACK_NAME];
        if let Some(out) = buf.get_mut(..s.len()) {
            out.copy_from_slice(s.as_bytes());
            out.make_ascii_lowercase();
            if let Ok(lower) = std::str::from_utf8(out) {
                return f(lower);
            }
        }
    }
    f(&normalise(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// NFKC and lower case are the documented normalisation: a non-ASCII alias matches its
    /// other cases; a non-ASCII name that folds onto an all-ASCII alias (a Kelvin sign for
    /// K, fullwidth letters) matches nobody and is reported as imitating its owner.
    #[test]
    fn confusables_fold_but_do_not_match_ascii_aliases() {
        let mut ix = AliasIndex::default();
        for (alias, owner) in [("ksato@corp.example", 0), ("łukasz@corp.example", 1)] {
            ix.claim(&parse(alias).unwrap().key, owner).unwrap();
        }
        assert_eq!(ix.lookup("KSato@Corp.Example"), Some(0));
        assert_eq!(ix.lookup("\u{212a}sato@corp.example"), None);
        assert_eq!(ix.confusable_with("\u{212a}sato@corp.example"), Some(0));
        assert_eq!(ix.lookup("ｋｓａｔｏ@corp.example"), None);
        assert_eq!(ix.confusable_with("ｋｓａｔｏ@corp.example"), Some(0));
        assert_eq!(ix.lookup("ŁUKASZ@corp.example"), Some(1));
        assert_eq!(ix.confusable_with("ŁUKASZ@corp.example"), None);
        assert_eq!(
            ix.confusable_with("ksato@corp.example"),
            None,
            "ASCII is itself"
        );
    }

    #[test]
    fn alias_forms() {
        let p = parse(" JDoe@Corp.Example ").unwrap();
        assert_eq!(p.key, "jdoe@corp.example");
        assert_eq!(p.user.as_deref(), Some("jdoe"));
        let p = parse("CORP\\JDoe").unwrap();
        assert_eq!(p.key, "corp\\jdoe");
        assert_eq!(p.user.as_deref(), Some("jdoe"));
        let p = parse("jdoe").unwrap();
        assert_eq!((p.key.as_str(), p.user), ("jdoe", None));
    }

    #[test]
    fn malformed_aliases() {
        for bad in [
            "",
            " ",
            "@corp.example",
            "jdoe@",
            "a@b@c",
            "\\jdoe",
            "CORP\\",
            "A\\B\\c",
            "CORP\\jdoe@corp.example",
            "j doe",
            "j\tdoe",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn explicit_claims_conflict_and_derived_names_go_ambiguous() {
        let mut ix = AliasIndex::default();
        assert_eq!(ix.claim("a@x.example", 0), Ok(()));
        assert_eq!(
            ix.claim("a@x.example", 0),
            Ok(()),
            "same owner twice is fine"
        );
        assert_eq!(ix.claim("a@x.example", 1), Err(0));
        ix.derive("a", 0);
        ix.derive("a", 0);
        assert_eq!(ix.lookup("a"), Some(0));
        ix.derive("a", 1);
        assert_eq!(ix.lookup("a"), None);
        assert_eq!(ix.ambiguous().collect::<Vec<_>>(), ["a"]);
        assert_eq!(ix.claim("a", 2), Ok(()), "an explicit alias wins");
        assert_eq!(ix.lookup("A"), Some(2));
        ix.derive("a", 3);
        assert_eq!(ix.lookup("a"), Some(2));
    }

    #[test]
    fn lowercasing_matches_the_load_side() {
        for s in ["abc", "ABC", "Ünïcode", "İstanbul", &"X".repeat(300)] {
            assert_eq!(with_lowercase(s, str::to_owned), normalise(s), "{s}");
        }
    }

    proptest! {
        #[test]
        fn any_case_of_a_key_resolves(name in "[A-Za-z0-9._-]{1,200}") {
            let mut ix = AliasIndex::default();
            ix.claim(&normalise(&name), 7).unwrap();
            prop_assert_eq!(ix.lookup(&name), Some(7));
            prop_assert_eq!(ix.lookup(&name.to_uppercase()), Some(7));
        }
    }
}
