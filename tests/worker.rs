//! `docx2pdf worker` end to end: the Pub/Sub emulator, fake-gcs-server
//! publishing genuine notifications, real LibreOffice, and the real binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROJECT: &str = "docx2pdf-test";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every process this test started, killed when it ends.
struct Env {
    children: Vec<Child>,
    pubsub: String,
    gcs: String,
    topic: String,
    metrics: String,
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Env {
    fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let unique = format!("{}-{}", std::process::id(), free_port());
        let topic = format!("docs-{unique}");
        let subscription = format!("worker-{unique}");
        let mut children = Vec::new();

        let pubsub_port = free_port();
        let jar = std::fs::read_dir("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib")
            .expect("the Pub/Sub emulator is installed")
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("-all.jar"))
            .unwrap();
        children.push(
            Command::new("java")
                .arg("-jar")
                .arg(jar)
                .args(["--host=127.0.0.1", &format!("--port={pubsub_port}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let pubsub = format!("127.0.0.1:{pubsub_port}");
        wait_port(&pubsub);
        let mut env = Env {
            children,
            gcs: String::new(),
            pubsub,
            topic: topic.clone(),
            metrics: String::new(),
            _dir: dir,
        };
        env.gcloud(&["pubsub", "topics", "create", &topic]);
        env.gcloud(&[
            "pubsub",
            "subscriptions",
            "create",
            &subscription,
            &format!("--topic={topic}"),
            "--ack-deadline=10",
        ]);

        // Port 80 of an address of its own: the crate drops the port from Host.
        let host = format!(
            "127.0.{}.{}",
            std::process::id() % 200 + 20,
            free_port() % 200 + 20
        );
        let data = env._dir.path().join("data");
        std::fs::create_dir_all(data.join("input")).unwrap();
        std::fs::create_dir_all(data.join("output")).unwrap();
        env.children.push(
            Command::new(root().join(".dev/fake-gcs-server"))
                .args([
                    "-scheme", "http", "-host", &host, "-port", "80", "-backend", "memory",
                ])
                .arg("-data")
                .arg(&data)
                .args([
                    "-event.pubsub-project-id",
                    PROJECT,
                    "-event.pubsub-topic",
                    &topic,
                    "-event.list",
                    "finalize",
                ])
                .env("PUBSUB_EMULATOR_HOST", &env.pubsub)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("fake-gcs-server is installed (./dev/setup)"),
        );
        wait_port(&format!("{host}:80"));
        env.gcs = format!("http://{host}");

        let metrics_port = free_port();
        env.metrics = format!("http://127.0.0.1:{metrics_port}");
        env.children.push(
            Command::new(env!("CARGO_BIN_EXE_docx2pdf"))
                .arg("worker")
                .env(
                    "SUBSCRIPTION",
                    format!("projects/{PROJECT}/subscriptions/{subscription}"),
                )
                .env("OUTPUT_BUCKET", "output")
                .env("OUTPUT_PREFIX", "pdf/")
                .env("POOL_SIZE", "2")
                .env("PORT", metrics_port.to_string())
                .env("ACK_DEADLINE", "10")
                .env("PUBSUB_EMULATOR_HOST", &env.pubsub)
                .env("STORAGE_EMULATOR_HOST", &env.gcs)
                .env("LOG_FORMAT", "json")
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        env
    }

    fn gcloud(&self, args: &[&str]) {
        let out = Command::new("gcloud")
            .args(args)
            .arg("--quiet")
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB",
                format!("http://{}/", self.pubsub),
            )
            .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
            .env("CLOUDSDK_CORE_PROJECT", PROJECT)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gcloud {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn publish(&self, extra: &[&str]) {
        let mut args = vec!["pubsub", "topics", "publish", self.topic.as_str()];
        args.extend_from_slice(extra);
        self.gcloud(&args);
    }

    fn curl(&self, args: &[&str]) -> Option<Vec<u8>> {
        let out = Command::new("curl").arg("-sf").args(args).output().unwrap();
        out.status.success().then_some(out.stdout)
    }

    fn upload(&self, file: &Path, name: &str) {
        let url = format!(
            "{}/upload/storage/v1/b/input/o?uploadType=media&name={}",
            self.gcs,
            encode(name)
        );
        self.curl(&[
            "-X",
            "POST",
            "--data-binary",
            &format!("@{}", file.display()),
            &url,
        ])
        .expect("upload to fake-gcs-server");
    }

    /// The object's JSON resource, once it exists.
    fn wait_object(&self, name: &str) -> serde_json::Value {
        let url = format!("{}/storage/v1/b/output/o/{}", self.gcs, encode(name));
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(body) = self.curl(&[&url]) {
                return serde_json::from_slice(&body).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "gs://output/{name} never appeared"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn read_object(&self, name: &str) -> Vec<u8> {
        self.curl(&[&format!(
            "{}/storage/v1/b/output/o/{}?alt=media",
            self.gcs,
            encode(name)
        )])
        .unwrap()
    }

    fn metric(&self, line_start: &str) -> f64 {
        let text = String::from_utf8(
            self.curl(&[&format!("{}/metrics", self.metrics)])
                .unwrap_or_default(),
        )
        .unwrap();
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    }
}

fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

#[test]
fn three_message_formats_failures_and_duplicates() {
    let env = Env::start();

    // 1. A genuine notification: upload, OBJECT_FINALIZE, worker.
    env.upload(&fixture("one_page.docx"), "in dir/ünï côdé.docx");
    // 2. The original service's attributes, and 3. a JSON body, for objects
    // uploaded too (their own notifications also arrive: duplicates by design).
    env.upload(&fixture("one_page.odt"), "b.odt");
    env.upload(&fixture("one_page.rtf"), "c.rtf");
    env.publish(&["--attribute=bucketId=input,objectId=b.odt"]);
    env.publish(&["--message={\"bucket\":\"input\",\"name\":\"c.rtf\"}"]);
    // A permanent failure: text under a .docx name.
    let bad = env._dir.path().join("bad.docx");
    std::fs::write(&bad, "not a document").unwrap();
    env.upload(&bad, "bad.docx");

    for name in ["pdf/in dir/ünï côdé.pdf", "pdf/b.pdf", "pdf/c.pdf"] {
        let object = env.wait_object(name);
        assert_eq!(
            object["metadata"]["source-bucket"], "input",
            "{name}: {object}"
        );
        assert!(
            object["metadata"]["source-generation"]
                .as_str()
                .is_some_and(|g| !g.is_empty()),
            "{object}"
        );
        assert!(env.read_object(name).starts_with(b"%PDF-"), "{name}");
    }
    let record: serde_json::Value = serde_json::from_slice(&{
        env.wait_object("pdf/bad.docx.error.json");
        env.read_object("pdf/bad.docx.error.json")
    })
    .unwrap();
    assert_eq!(record["kind"], "corrupt", "{record}");
    assert_eq!(record["source"], "gs://input/bad.docx");

    // A duplicate delivery converts nothing.
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.metric("docx2pdf_messages_total{outcome=\"converted\"}")
        + env.metric("docx2pdf_messages_total{outcome=\"skipped\"}")
        < 5.0
    {
        assert!(
            Instant::now() < deadline,
            "b.odt and c.rtf were announced twice; both must be handled"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let converted = env.metric("docx2pdf_messages_total{outcome=\"converted\"}");
    let skipped_before = env.metric("docx2pdf_messages_total{outcome=\"skipped\"}");
    env.publish(&["--message={\"bucket\":\"input\",\"name\":\"c.rtf\"}"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while env.metric("docx2pdf_messages_total{outcome=\"skipped\"}") <= skipped_before {
        assert!(Instant::now() < deadline, "the duplicate was never handled");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        env.metric("docx2pdf_messages_total{outcome=\"converted\"}"),
        converted
    );
    assert_eq!(
        env.metric("docx2pdf_messages_total{outcome=\"failed_permanent\"}"),
        1.0
    );
}
