//! Tenant slugs (the subdomain): normalized, validated, never a reserved
//! word.

use crate::error::{Error, Result};

/// Words no tenant may take: they name the service's own hosts and pages.
pub const RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "api",
    "app",
    "apps",
    "assets",
    "auth",
    "billing",
    "blog",
    "cdn",
    "dashboard",
    "dev",
    "docs",
    "email",
    "ftp",
    "help",
    "imap",
    "internal",
    "localhost",
    "login",
    "mail",
    "mx",
    "ns",
    "ns1",
    "ns2",
    "oauth",
    "pop",
    "pop3",
    "root",
    "security",
    "signup",
    "smtp",
    "sso",
    "staging",
    "static",
    "status",
    "support",
    "system",
    "test",
    "webmail",
    "www",
    "www1",
    "www2",
    "wpad",
    "autodiscover",
    "autoconfig",
    "mta-sts",
    "ns3",
    "ns4",
    "postmaster",
    "hostmaster",
    "abuse",
    "noc",
    "git",
];

/// Normalizes a requested slug: trimmed, ASCII lower case, spaces and
/// underscores turned into hyphens. The result is what is reserved and
/// compared, so `Acme Corp` and `acme-corp` are the same tenant name.
///
/// # Errors
/// [`Error::InvalidSlug`] when the result is not 3-63 characters of `a-z`,
/// `0-9` and `-` (not at either end, no `--`, which DNS keeps for
/// punycode), or is a reserved word.
pub fn normalize(input: &str) -> Result<String> {
    let bad = |reason| Error::InvalidSlug {
        slug: input.chars().take(80).collect(),
        reason,
    };
    let s: String = input
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    if s.len() < 3 || s.len() > 63 {
        return Err(bad("must be 3-63 characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(bad("only letters a-z, digits and hyphens"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(bad("must not start or end with a hyphen"));
    }
    if s.contains("--") {
        return Err(bad("must not contain two hyphens in a row"));
    }
    if RESERVED.contains(&s.as_str()) {
        return Err(bad("reserved"));
    }
    if s.starts_with("tn-") {
        // Tenant ids are `tn-<request id>`: a slug of that shape would be
        // read as another tenant's id.
        return Err(bad("must not start with tn- (the tenant id prefix)"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugs_normalize_and_refuse() {
        assert_eq!(normalize("  Acme Corp ").unwrap(), "acme-corp");
        assert_eq!(normalize("acme_corp").unwrap(), "acme-corp");
        for bad in [
            "ab",
            "-acme",
            "acme-",
            "xn--acme",
            "acmé",
            "www",
            "API",
            &"a".repeat(64),
            "a.b",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent_and_total(s in "\\PC{0,80}") {
            if let Ok(n) = normalize(&s) {
                prop_assert_eq!(normalize(&n).unwrap(), n.clone());
                prop_assert!(n.len() >= 3 && n.len() <= 63);
            }
        }
    }
}
