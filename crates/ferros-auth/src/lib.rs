//! Accounts' secrets, with no IO: argon2id password hashes, random
//! passwords, session tokens (kept by the client) and their digests (kept in
//! the database, so that a copy of it opens no session), CSRF tokens, and
//! the login rate limiter, which counts failures on the Ferros clock.

use std::collections::{HashMap, VecDeque};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::{Digest, Sha256};

/// The shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest (argon2 hashes anything; a form must not make it hash megabytes).
pub const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("the password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters ({0} given)")]
    PasswordLength(usize),
    #[error("the password must not be the user name")]
    PasswordIsName,
    #[error("the password is too easy to guess: {0}")]
    PasswordWeak(&'static str),
}

/// Passwords among the most used (lower case), refused whatever their length.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "passw0rd",
    "qwertyuiop",
    "azertyuiop",
    "1234567890",
    "0123456789",
    "9876543210",
    "abcdefghij",
    "iloveyou",
    "motdepasse",
    "letmein",
    "welcome1",
    "admin12345",
    "changeme",
    "sunshine",
    "football",
    "baseball",
    "trustno1",
    "qwerty123",
    "1q2w3e4r5t",
    "zaq12wsx",
];

/// An argon2id hash of `password`, with a random salt.
pub fn hash(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` is the one `hash` was made from (false for a hash
/// that cannot be read, or a password longer than any account's).
pub fn verify(password: &str, hash: &str) -> bool {
    password.chars().count() <= MAX_PASSWORD_CHARS
        && PasswordHash::new(hash)
            .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A new account's password is long enough and not its name.
pub fn check_password(username: &str, password: &str) -> Result<(), AuthError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(AuthError::PasswordLength(n));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(AuthError::PasswordIsName);
    }
    let lower = password.to_lowercase();
    if username.chars().count() >= 3 && lower.contains(&username.to_lowercase()) {
        return Err(AuthError::PasswordWeak("it contains the user name"));
    }
    let distinct: std::collections::BTreeSet<char> = lower.chars().collect();
    if distinct.len() < 5 {
        return Err(AuthError::PasswordWeak("fewer than 5 different characters"));
    }
    if COMMON
        .iter()
        .any(|c| lower == *c || lower.trim_end_matches(|ch: char| ch.is_ascii_digit() || ch == '!') == *c)
    {
        return Err(AuthError::PasswordWeak("it is among the most used passwords"));
    }
    Ok(())
}

/// A random password of 20 letters and digits (about 119 bits).
pub fn generate_password() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(20).map(char::from).collect()
}

/// A new random token: 32 bytes, URL-safe base64 (43 characters).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a token: its SHA-256, in hex.
pub fn digest(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in a time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Counts failed logins per key (a user name, an address) in a sliding
/// window: after `max` failures within `window`, the key is refused until the
/// oldest failure leaves the window. At most `capacity` keys are tracked
/// (the oldest forgotten first), so no flood of names fills the memory.
#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: TimeDelta,
    capacity: usize,
    failures: HashMap<String, VecDeque<DateTime<Utc>>>,
    /// Keys in the order they were first seen, for forgetting.
    order: VecDeque<String>,
}

impl RateLimiter {
    pub fn new(max: usize, window: TimeDelta, capacity: usize) -> Self {
        Self {
            max: max.max(1),
            window,
            capacity: capacity.max(1),
            failures: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// `None` if `key` may try now, else how long it must wait.
    pub fn wait(&mut self, key: &str, now: DateTime<Utc>) -> Option<TimeDelta> {
        let window = self.window;
        let list = self.failures.get_mut(key)?;
        while list.front().is_some_and(|t| now - *t >= window) {
            list.pop_front();
        }
        if list.len() < self.max {
            return None;
        }
        list.front().map(|first| (*first + window - now).max(TimeDelta::seconds(1)))
    }

    /// Counts a failure of `key` at `now`.
    pub fn failed(&mut self, key: &str, now: DateTime<Utc>) {
        if !self.failures.contains_key(key) {
            while self.failures.len() >= self.capacity {
                match self.order.pop_front() {
                    Some(old) => {
                        self.failures.remove(&old);
                    }
                    None => break,
                }
            }
            self.order.push_back(key.to_owned());
        }
        let list = self.failures.entry(key.to_owned()).or_default();
        list.push_back(now);
        while list.len() > self.max {
            list.pop_front();
        }
    }

    /// A success forgets the key's failures.
    pub fn succeeded(&mut self, key: &str) {
        if self.failures.remove(key).is_some() {
            self.order.retain(|k| k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
    use super::*;

    #[test]
    fn hashes_verify_and_passwords_differ() {
        let pw = generate_password();
        assert_eq!(pw.len(), 20);
        assert_ne!(pw, generate_password());
        let h = hash(&pw).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(&pw, &h));
        assert!(!verify("wrong", &h));
        assert!(!verify(&pw, "not a hash"));
        assert!(!verify(&"x".repeat(10_000), &h));
    }

    #[test]
    fn passwords_are_checked() {
        assert_eq!(check_password("alice", "short"), Err(AuthError::PasswordLength(5)));
        assert_eq!(check_password("alice.smith", "ALICE.SMITH"), Err(AuthError::PasswordIsName));
        assert!(check_password("alice", "a long enough one").is_ok());
        for weak in ["aaaaaaaaaaaa", "1212121212", "Password123", "qwertyuiop!", "my-alice-password"] {
            let e = check_password("alice", weak).unwrap_err().to_string();
            assert!(e.contains("too easy to guess"), "{weak}: {e}");
        }
        let e = check_password("a", &"x".repeat(300)).unwrap_err().to_string();
        assert!(e.contains("10 to 256 characters (300 given)"), "{e}");
    }

    #[test]
    fn tokens_are_random_and_digests_fixed() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(same_secret(&a, &a.clone()) && !same_secret(&a, &b) && !same_secret("a", "ab"));
    }

    #[test]
    fn the_limiter_refuses_after_max_failures_in_the_window() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let s = TimeDelta::seconds;
        let mut l = RateLimiter::new(3, s(60), 2);
        for i in 0..3 {
            assert_eq!(l.wait("eve", t0 + s(i)), None);
            l.failed("eve", t0 + s(i));
        }
        assert_eq!(l.wait("eve", t0 + s(10)), Some(s(50)), "until the first failure is a minute old");
        assert_eq!(l.wait("eve", t0 + s(60)), None);
        l.failed("eve", t0 + s(60));
        assert_eq!(l.wait("eve", t0 + s(60)), Some(s(1)), "failures at 1, 2 and 60 s");
        l.succeeded("eve");
        assert_eq!(l.wait("eve", t0 + s(62)), None);
        // At most two keys: a third forgets the oldest.
        l.failed("a", t0);
        l.failed("b", t0);
        l.failed("c", t0);
        assert_eq!(l.failures.len(), 2);
        assert!(!l.failures.contains_key("a"));
    }
}
