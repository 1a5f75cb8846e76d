//! `blocksmith vault ...` and `blocksmith apikey ...`, run as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    run_with(dir, &[], None, args)
}

/// Runs with extra environment variables and, optionally, standard input.
fn run_with(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
    args: &[&str],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blocksmith"));
    cmd.arg("--store").arg(dir).args(args);
    cmd.env_remove("BLOCKSMITH_VAULT_PASSWORD")
        .env_remove("BLOCKSMITH_VAULT_SECRET_KEY")
        .env_remove("BLOCKSMITH_APIKEY_PEPPER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run blocksmith");
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

const PW: (&str, &str) = ("BLOCKSMITH_VAULT_PASSWORD", "correct horse battery staple");
/// Tiny Argon2 parameters so the debug-built binary stays fast.
const FAST: [&str; 7] = [
    "--kdf-memory-kib",
    "64",
    "--kdf-iterations",
    "1",
    "--kdf-parallelism",
    "1",
    "--allow-weak-kdf",
];

fn init(d: &std::path::Path, password: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--json", "vault", "init"];
    args.extend(FAST);
    args.extend(extra);
    let o = run_with(d, &[("BLOCKSMITH_VAULT_PASSWORD", password)], None, &args);
    assert!(o.status.success(), "{o:?}");
    json(&o)
}

#[test]
fn vault_init_add_get_list_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = "--allow-weak-kdf";
    // Weak parameters are refused unless asked for.
    let o = run_with(
        d,
        &[PW],
        None,
        &[
            "vault",
            "init",
            "--kdf-memory-kib",
            "64",
            "--kdf-iterations",
            "1",
            "--kdf-parallelism",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let v = init(d, PW.1, &[]);
    assert_eq!(v["default"], true);
    assert!(v["recovery_key"].as_str().unwrap().starts_with("R1-"));
    assert!(v["public_key"].as_str().unwrap().starts_with("bsvpk1_"));
    assert_eq!(v["kdf"]["meets_owasp"], false);

    let o = run_with(
        d,
        &[PW],
        None,
        &["vault", "add", "github", "ghp_s3cr3t_token", w],
    );
    assert!(o.status.success(), "{o:?}");
    let o = run_with(
        d,
        &[PW],
        Some(b"from stdin\n"),
        &["vault", "add", "db", "--collection", "team", w],
    );
    assert!(o.status.success(), "{o:?}");
    let o = run_with(d, &[PW], None, &["vault", "get", "github", w]);
    assert_eq!(o.stdout, b"ghp_s3cr3t_token");
    let o = run_with(d, &[PW], None, &["--json", "vault", "get", "db", w]);
    assert_eq!(json(&o)["secret"], "from stdin");
    let o = run_with(d, &[PW], None, &["--json", "vault", "list", w]);
    let names: Vec<_> = json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["db", "github"]);
    let o = run_with(
        d,
        &[PW],
        None,
        &["--json", "vault", "list", "--collection", "team", w],
    );
    assert_eq!(json(&o).as_array().unwrap().len(), 1);

    // Errors: wrong password 2, missing item 3, duplicate name 4.
    let o = run_with(
        d,
        &[("BLOCKSMITH_VAULT_PASSWORD", "wrong")],
        None,
        &["vault", "get", "github", w],
    );
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    assert!(!String::from_utf8_lossy(&o.stderr).contains("wrong\n"));
    let o = run_with(d, &[PW], None, &["vault", "get", "nope", w]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let o = run_with(d, &[PW], None, &["vault", "add", "github", "x", w]);
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    // Without the flag the store's weak parameters are refused (downgrade guard).
    let o = run_with(d, &[PW], None, &["vault", "get", "github"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    // No password and no terminal: a clear error, not a hang.
    let o = run(d, &["vault", "get", "github", w]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");

    let o = run_with(d, &[PW], None, &["--json", "vault", "rotate", w]);
    assert!(o.status.success(), "{o:?}");
    let r = json(&o);
    assert_eq!(
        (
            r["from_epoch"].as_u64(),
            r["to_epoch"].as_u64(),
            r["items"].as_u64()
        ),
        (Some(1), Some(2), Some(2))
    );
    assert_ne!(r["recovery_key"], v["recovery_key"]);
    let o = run_with(d, &[PW], None, &["vault", "get", "github", w]);
    assert_eq!(o.stdout, b"ghp_s3cr3t_token");
    let o = run_with(d, &[PW], None, &["--json", "vault", "info", w]);
    assert_eq!(json(&o)["epoch"], 2);

    // The store file holds no plaintext.
    let db = std::fs::read(d.join("blocksmith.redb")).unwrap();
    for needle in [
        &b"ghp_s3cr3t_token"[..],
        b"from stdin",
        b"github",
        PW.1.as_bytes(),
    ] {
        assert!(
            !db.windows(needle.len()).any(|w| w == needle),
            "{}",
            String::from_utf8_lossy(needle)
        );
    }
}

#[test]
fn vault_share_between_two_vaults() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = "--allow-weak-kdf";
    let alice_init = init(d, "alice pw", &[]);
    let alice_pk = alice_init["public_key"].as_str().unwrap().to_string();
    let bob = init(d, "bob pw", &["--secret-key"]);
    assert_eq!(bob["default"], false);
    let bob_id = bob["vault_id"].as_str().unwrap();
    let bob_pk = bob["public_key"].as_str().unwrap();
    let bob_sk = bob["secret_key"].as_str().unwrap();
    let alice = [("BLOCKSMITH_VAULT_PASSWORD", "alice pw")];
    for (name, secret) in [("wifi", "hunter2"), ("ci", "tok_1")] {
        let o = run_with(
            d,
            &alice,
            None,
            &["vault", "add", name, secret, "--collection", "team", w],
        );
        assert!(o.status.success(), "{o:?}");
    }
    let o = run_with(
        d,
        &alice,
        None,
        &[
            "--json",
            "vault",
            "share",
            "--collection",
            "team",
            "--to",
            bob_pk,
            w,
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["items"], 2);
    // Bob's vault needs its secret key too.
    let bob_env = [
        ("BLOCKSMITH_VAULT_PASSWORD", "bob pw"),
        ("BLOCKSMITH_VAULT_SECRET_KEY", bob_sk),
    ];
    let o = run_with(
        d,
        &bob_env[..1],
        None,
        &["vault", "receive", "--vault", bob_id, w],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    // Without --from nothing is imported: the share waits, its sender listed.
    let o = run_with(
        d,
        &bob_env,
        None,
        &["--json", "vault", "receive", "--vault", bob_id, w],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)[0]["status"], "waiting");
    let o = run_with(
        d,
        &bob_env,
        None,
        &[
            "--json", "vault", "receive", "--vault", bob_id, "--from", &alice_pk, w,
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)[0]["status"], "imported");
    assert_eq!(json(&o)[0]["items"].as_array().unwrap().len(), 2);
    let o = run_with(
        d,
        &bob_env,
        None,
        &["vault", "get", "wifi", "--vault", bob_id, w],
    );
    assert_eq!(o.stdout, b"hunter2");
    // A bad public key is bad input.
    let o = run_with(
        d,
        &alice,
        None,
        &["vault", "share", "wifi", "--to", "bsvpk1_zz", w],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

#[test]
fn apikey_new_verify_rotate_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pepper = (
        "BLOCKSMITH_APIKEY_PEPPER",
        "4242424242424242424242424242424242424242424242424242424242424242",
    );
    let o = run_with(
        d,
        &[pepper],
        None,
        &[
            "--json",
            "apikey",
            "new",
            "--owner",
            "billing",
            "--scope",
            "invoices:read",
            "--ttl-days",
            "30",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let k = json(&o);
    let key = k["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("bsk_"));
    let o = run_with(d, &[pepper], None, &["--json", "apikey", "verify", &key]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["owner"], "billing");
    // From standard input too.
    let o = run_with(d, &[pepper], Some(key.as_bytes()), &["apikey", "verify"]);
    assert!(o.status.success(), "{o:?}");
    // A typo is caught offline (exit 2), a stranger's key is rejected (exit 5).
    let mut typo = key.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    let o = run(d, &["apikey", "verify", &typo]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let other = (
        "BLOCKSMITH_APIKEY_PEPPER",
        "0000000000000000000000000000000000000000000000000000000000000000",
    );
    let o = run_with(d, &[other], None, &["apikey", "verify", &key]);
    assert_eq!(o.status.code(), Some(5), "{o:?}");

    let o = run_with(
        d,
        &[pepper],
        None,
        &["--json", "apikey", "rotate", &key, "--grace-hours", "1"],
    );
    assert!(o.status.success(), "{o:?}");
    let new_key = json(&o)["key"].as_str().unwrap().to_string();
    for k in [&key, &new_key] {
        let o = run_with(d, &[pepper], None, &["apikey", "verify", k]);
        assert!(o.status.success(), "{o:?}");
    }
    let o = run_with(d, &[pepper], None, &["apikey", "revoke", &key]);
    assert!(o.status.success(), "{o:?}");
    let o = run_with(d, &[pepper], None, &["--json", "apikey", "verify", &key]);
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    let err: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(err["kind"], "verification_failed");
    let o = run_with(
        d,
        &[pepper],
        None,
        &["--json", "apikey", "list", "--owner", "billing"],
    );
    assert_eq!(json(&o).as_array().unwrap().len(), 2);
}

#[test]
fn apikey_pepper_kept_in_the_vault() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = "--allow-weak-kdf";
    // No vault, no pepper: a clear not-found.
    let o = run(d, &["apikey", "new", "--owner", "x"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    init(d, PW.1, &[]);
    let o = run_with(
        d,
        &[PW],
        None,
        &["--json", "apikey", "new", "--owner", "svc", w],
    );
    assert!(o.status.success(), "{o:?}");
    let key = json(&o)["key"].as_str().unwrap().to_string();
    let o = run_with(d, &[PW], None, &["apikey", "verify", &key, w]);
    assert!(o.status.success(), "{o:?}");
    // The pepper is an item of the vault now.
    let o = run_with(d, &[PW], None, &["--json", "vault", "list", w]);
    assert!(
        json(&o)
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "blocksmith/apikey-pepper")
    );
}
