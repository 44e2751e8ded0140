//! Push mode, the original service's contract: a worker without
//! SUBSCRIPTION takes Pub/Sub push envelopes on `POST /`, checks their ID
//! token (keys served as a JWKS on loopback, tokens signed by keys made
//! here: no request leaves the machine), and `docx2pdf request` calls it.

use std::io::{Read, Write};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

mod common;
use common::emulators::*;
use common::fixture;

const AUDIENCE: &str = "https://docx2pdf-test.a.run.app";
const PUSHER: &str = "pusher@docx2pdf-test.iam.gserviceaccount.com";

/// An RSA key made by openssl, and its public half as a JWK.
struct Signer {
    kid: String,
    pem: Vec<u8>,
}

impl Signer {
    fn new(kid: &str) -> Signer {
        let pem = Command::new("openssl")
            .args(["genrsa", "2048"])
            .output()
            .expect("openssl is installed")
            .stdout;
        assert!(!pem.is_empty(), "openssl genrsa printed no key");
        Signer {
            kid: kid.to_string(),
            pem,
        }
    }

    fn jwk(&self) -> serde_json::Value {
        let mut openssl = Command::new("openssl")
            .args(["rsa", "-noout", "-modulus"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        openssl.stdin.take().unwrap().write_all(&self.pem).unwrap();
        let out = openssl.wait_with_output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let hex = text.trim().strip_prefix("Modulus=").unwrap();
        let modulus: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        serde_json::json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(modulus), "e": "AQAB",
        })
    }

    /// A token as Google signs them for a push subscription, with `change`
    /// applied to its claims.
    fn token(&self, change: impl FnOnce(&mut serde_json::Value)) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = serde_json::json!({
            "iss": "https://accounts.google.com",
            "aud": AUDIENCE,
            "sub": "1234567890",
            "email": PUSHER,
            "email_verified": true,
            "iat": now,
            "exp": now + 3600,
        });
        change(&mut claims);
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(&self.pem).unwrap();
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    }
}

/// Serves `keys` as a JWKS on a loopback port, for as long as the test runs.
/// Also returns how many times the keys were asked for.
fn serve_jwks(keys: Vec<serde_json::Value>) -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/oauth2/v3/certs", listener.local_addr().unwrap());
    let body = serde_json::json!({ "keys": keys }).to_string();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = fetches.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, fetches)
}

/// A push-only worker that checks tokens for `AUDIENCE` from `PUSHER`
/// against the keys at `jwks`, ready.
fn checking_worker(env: &Env, jwks: &str) -> Worker {
    let worker = env.worker(&[
        ("SUBSCRIPTION", ""),
        ("CACHE", "off"),
        ("PUSH_AUDIENCE", AUDIENCE),
        ("PUSH_SERVICE_ACCOUNTS", PUSHER),
        ("PUSH_JWKS_URL", jwks),
    ]);
    worker.wait_ready();
    worker
}

/// POSTs `body` to `path` of the worker at `base`; returns the status code
/// and the answer.
fn post(base: &str, path: &str, body: &str, token: Option<&str>) -> (u16, String) {
    let url = format!("{base}{path}");
    let authorization = token.map(|t| format!("Authorization: Bearer {t}"));
    let mut args = vec!["-X", "POST", "-H", "Content-Type: application/json"];
    if let Some(authorization) = &authorization {
        args.extend(["-H", authorization]);
    }
    args.extend(["--data-binary", body, &url]);
    curl_status(&args)
}

fn original(object: &str) -> String {
    serde_json::json!({ "message": { "attributes": { "bucketId": "input", "objectId": object } } })
        .to_string()
}

/// As Pub/Sub pushes a message: base64 data, an id in both spellings.
fn pushed(attributes: serde_json::Value, data: &str, id: &str) -> String {
    serde_json::json!({
        "message": {
            "attributes": attributes, "data": STANDARD.encode(data),
            "messageId": id, "message_id": id, "publishTime": "2026-11-30T00:00:00Z",
        },
        "subscription": "projects/docx2pdf-test/subscriptions/push",
    })
    .to_string()
}

#[test]
fn push_envelopes_convert_and_answer_by_outcome() {
    let _serial = serial();
    let mut env = Env::start_persistent(&[
        ("original.docx", fixture("one_page.docx")),
        ("notified.docx", fixture("one_page.docx")),
        ("json.docx", fixture("one_page.docx")),
        ("broken.docx", fixture("bomb.docx")),
        ("later.docx", fixture("one_page.docx")),
    ]);
    // Copies of one document, each to be converted (not copied from the cache).
    let worker = env.worker(&[
        ("SUBSCRIPTION", ""),
        ("STORAGE_RETRY_SECONDS", "2"),
        ("CACHE", "off"),
    ]);
    // Push only: ready with a warm LibreOffice, no subscription to wait for.
    worker.wait_ready();

    assert_eq!(
        post(&worker.url, "/", &original("original.docx"), None).0,
        204
    );
    env.wait_object("pdf/original.pdf", Duration::from_secs(5));

    let object = curl(&[&format!(
        "{}/storage/v1/b/input/o/notified.docx",
        env.gcs_url()
    )])
    .unwrap();
    let object: serde_json::Value = serde_json::from_slice(&object).unwrap();
    let notification = pushed(
        serde_json::json!({
            "eventType": "OBJECT_FINALIZE", "payloadFormat": "JSON_API_V1",
            "bucketId": "input", "objectId": "notified.docx",
            "objectGeneration": object["generation"],
        }),
        &object.to_string(),
        "101",
    );
    assert_eq!(post(&worker.url, "/", &notification, None).0, 204);
    env.wait_object("pdf/notified.pdf", Duration::from_secs(5));

    let json = pushed(
        serde_json::json!({}),
        r#"{"bucket":"input","name":"json.docx"}"#,
        "102",
    );
    assert_eq!(post(&worker.url, "/pubsub/push", &json, None).0, 204);
    env.wait_object("pdf/json.pdf", Duration::from_secs(5));

    // Permanent: acked (204) once the failure record is written.
    assert_eq!(
        post(&worker.url, "/", &original("broken.docx"), None).0,
        204
    );
    let record = env.wait_object("pdf/broken.docx.error.json", Duration::from_secs(5));
    assert_eq!(record["metadata"]["source-object"], "broken.docx");
    assert_eq!(
        post(&worker.url, "/", &original("missing.docx"), None).0,
        204
    );
    env.wait_object("pdf/missing.docx.error.json", Duration::from_secs(5));

    let (code, answer) = post(&worker.url, "/", "this is not JSON", None);
    assert_eq!(code, 400);
    assert!(answer.contains("push envelope"), "{answer}");
    // An envelope is a few KiB: a larger body is refused unread.
    let (code, answer) = post(&worker.url, "/", &"x".repeat(100 << 10), None);
    assert_eq!(code, 413, "{answer}");
    assert!(answer.contains("at most 65536 bytes"), "{answer}");

    // Transient: 503, so Pub/Sub pushes it again; then it converts.
    env.stop_gcs();
    let (code, answer) = post(&worker.url, "/", &original("later.docx"), None);
    assert_eq!(code, 503, "{answer}");
    env.start_gcs(None);
    let (code, answer) = post(&worker.url, "/", &original("later.docx"), None);
    assert_eq!(code, 204, "{answer}");
    assert!(env.object("pdf/later.pdf").is_some());
    assert_eq!(worker.outcome("converted"), 4.0);
    assert_eq!(worker.outcome("failed_permanent"), 2.0);
    assert_eq!(worker.outcome("nacked"), 1.0);
}

#[test]
fn push_tokens_are_checked_before_any_work() {
    let _serial = serial();
    let trusted = Signer::new("trusted-key");
    let stranger = Signer::new("trusted-key");
    let (jwks, fetches) = serve_jwks(vec![trusted.jwk()]);
    let env = Env::start(&[
        ("a.docx", fixture("one_page.docx")),
        ("b.docx", fixture("one_page.docx")),
    ]);
    let worker = checking_worker(&env, &jwks);
    let body = original("a.docx");

    let refused = [
        ("missing", None, 401),
        (
            "expired",
            Some(trusted.token(|c| {
                c["iat"] = (c["iat"].as_u64().unwrap() - 7200).into();
                c["exp"] = (c["exp"].as_u64().unwrap() - 7200).into();
            })),
            401,
        ),
        (
            "wrong audience",
            Some(trusted.token(|c| c["aud"] = "https://elsewhere.a.run.app".into())),
            401,
        ),
        ("wrong signer", Some(stranger.token(|_| {})), 401),
        (
            "wrong issuer",
            Some(trusted.token(|c| c["iss"] = "https://issuer.example".into())),
            401,
        ),
        (
            "another service account",
            Some(trusted.token(|c| c["email"] = "intruder@example.com".into())),
            403,
        ),
    ];
    for (case, token, status) in refused {
        let (code, answer) = post(&worker.url, "/", &body, token.as_deref());
        assert_eq!(code, status, "{case}: {answer}");
        assert!(!answer.trim().is_empty(), "{case}: no reason given");
    }
    // Tokens naming made-up signing keys: each would make the verifier
    // fetch the keys again, under the lock every request takes. Unknown
    // keys are looked up at most once a minute.
    let before = fetches.load(Ordering::SeqCst);
    for i in 0..10 {
        let forged = Signer::new(&format!("made-up-{i}")).token(|_| {});
        let (code, answer) = post(&worker.url, "/", &body, Some(&forged));
        assert_eq!(code, 401, "{answer}");
    }
    let fetched = fetches.load(Ordering::SeqCst) - before;
    assert!(fetched <= 1, "10 unknown keys made {fetched} key fetches");

    // The token is checked before the body is read: an oversized body
    // without one gets 401, not the 413 that reading it would give.
    let (code, answer) = post(&worker.url, "/", &"x".repeat(100 << 10), None);
    assert_eq!(code, 401, "{answer}");
    assert!(
        env.object("pdf/a.pdf").is_none(),
        "converted without a valid token"
    );
    assert_eq!(worker.outcome("converted"), 0.0);

    let (code, answer) = post(&worker.url, "/", &body, Some(&trusted.token(|_| {})));
    assert_eq!(code, 204, "{answer}");
    env.wait_object("pdf/a.pdf", Duration::from_secs(5));

    // The original article's client, with a token made elsewhere.
    let request = |object: &str, token: String| {
        Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
            .args([
                "request",
                &worker.url,
                "--bucket",
                "input",
                "--object",
                object,
            ])
            .args(["--id-token", &token])
            .output()
            .unwrap()
    };
    let sent = request("b.docx", trusted.token(|_| {}));
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    let said = String::from_utf8_lossy(&sent.stdout);
    assert!(said.contains("gs://input/b.docx: converted"), "{said}");
    env.wait_object("pdf/b.pdf", Duration::from_secs(5));
    let refused = request("b.docx", stranger.token(|_| {}));
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("401"), "{stderr}");
}

/// A token cannot teach the worker a key id, and a forged id that takes
/// the interval's key fetch cannot keep out a key Google has published
/// (the ids are learned from Google's set, never from a token). Controls,
/// on the gate before this test: the malformed token taught its id, each
/// token then naming it made the verifier fetch the keys (5 fetches), and
/// the new key was refused for the rest of the minute (401).
#[test]
fn forged_key_ids_neither_force_fetches_nor_keep_out_a_new_key() {
    let _serial = serial();
    let trusted = Signer::new("trusted-key");
    let rotated = Signer::new("rotated-key");
    let (jwks, fetches) = serve_jwks(vec![trusted.jwk(), rotated.jwk()]);
    let env = Env::start(&[("a.docx", fixture("one_page.docx"))]);
    let worker = checking_worker(&env, &jwks);
    let body = original("a.docx");
    // No dots: a JWT library cannot read it, but its text is a header.
    let malformed = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"taught"}"#);
    let (code, answer) = post(&worker.url, "/", &body, Some(&malformed));
    assert_eq!(code, 401, "{answer}");
    let before = fetches.load(Ordering::SeqCst);
    let taught = Signer::new("taught");
    for _ in 0..5 {
        let (code, answer) = post(&worker.url, "/", &body, Some(&taught.token(|_| {})));
        assert_eq!(code, 401, "{answer}");
    }
    let fetched = fetches.load(Ordering::SeqCst) - before;
    assert_eq!(
        fetched, 0,
        "tokens naming a taught key id made {fetched} key fetches"
    );

    let (code, answer) = post(&worker.url, "/", &body, Some(&rotated.token(|_| {})));
    assert_eq!(code, 204, "the new key was kept out: {answer}");
    env.wait_object("pdf/a.pdf", Duration::from_secs(5));
}

/// On SIGTERM, push requests still converting get `SHUTDOWN_GRACE`, then a
/// 503 (Pub/Sub pushes them again), and the worker exits 0 in time.
#[test]
fn sigterm_answers_pending_push_requests_and_exits_in_time() {
    let _serial = serial();
    let env = Env::start(&[("stuck.docx", fixture("one_page.docx"))]);
    let mut worker = env.worker(&[("SUBSCRIPTION", ""), ("SHUTDOWN_GRACE", "2")]);
    // LibreOffice stopped: the request cannot finish by itself.
    for pid in worker.wait_all_warm() {
        kill(Pid::from_raw(pid), Signal::SIGSTOP).unwrap();
    }
    let url = worker.url.clone();
    let request = std::thread::spawn(move || post(&url, "/", &original("stuck.docx"), None));
    wait_until(
        "the request to be worked on",
        Duration::from_secs(10),
        || worker.metric("docx2pdf_messages_active") >= 1.0,
    );
    let took = worker.terminate();
    assert!(
        took < Duration::from_secs(2 + 2),
        "took {took:?} with SHUTDOWN_GRACE=2"
    );
    assert_eq!(request.join().unwrap().0, 503, "the pending request");
    assert!(
        worker.leftover_processes().is_empty(),
        "LibreOffice outlived the worker"
    );
}
