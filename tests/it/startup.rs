//! What the real binary refuses to start with: an HS256 secret anyone could guess lets
//! anyone mint tokens, so a short or placeholder `--jwt-secret` is an error, not a warning.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `tandem ARGS`; `None` if it was still running after 15 s (it was then killed).
fn tandem(args: &[&str], secret: &str, data_dir: &std::path::Path) -> Option<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .env("TANDEM_LISTEN", "127.0.0.1:0")
        .env("TANDEM_DATA_DIR", data_dir)
        .env("TANDEM_JWT_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tandem");
    let deadline = Instant::now() + Duration::from_secs(15);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(child.wait_with_output().expect("output"))
}

#[test]
fn short_or_placeholder_secrets_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (secret, why) in [
        ("change-me", "placeholder"),
        ("0123456789abcdef0123456789abcde", "31 bytes"),
        ("change-me-please-to-something-long", "placeholder, padded"),
    ] {
        for args in [&["serve"][..], &["token", "--sub", "a", "--room", "*=r"][..]] {
            let out = tandem(args, secret, dir.path()).unwrap_or_else(|| panic!("{args:?} served with a {why} secret"));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} started with a {why} secret");
            assert!(stderr.contains("TANDEM_JWT_SECRET") && stderr.contains("32"), "{args:?}, {why}: {stderr}");
            assert!(out.stdout.is_empty(), "{args:?} printed something with a {why} secret");
        }
    }
    // A real secret mints a token.
    let out =
        tandem(&["token", "--sub", "a", "--room", "*=r"], "9c1e3a5f7b0d2e4c6a8f1b3d5e7c9a0b", dir.path()).unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
