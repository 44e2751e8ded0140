//! The emulators, fake-gcs-server and a `docx2pdf worker` process, for the
//! test binaries that drive the worker end to end.
//!
//! Each test starts its own emulators on free loopback ports (fake-gcs-server
//! on port 80 of an address of its own) and a fresh topic and subscription,
//! as the emulator can keep feeding a dead stream of a reused subscription.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{fixture, processes_using};

pub const PROJECT: &str = "docx2pdf-test";
pub static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_port(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `prefix0.docx`, `prefix1.docx`, ...
pub fn numbered(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}.docx")).collect()
}

/// Each of `names` as a copy of the fixture `source`.
pub fn preload<'a>(names: &'a [String], source: &str) -> Vec<(&'a str, PathBuf)> {
    names
        .iter()
        .map(|n| (n.as_str(), fixture(source)))
        .collect()
}

pub fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn curl(args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("curl").arg("-sf").args(args).output().unwrap();
    out.status.success().then_some(out.stdout)
}

/// curl's answer whatever its status: the status code (0 when nothing
/// answers) and the body.
pub fn curl_status(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// gcloud, aimed at the Pub/Sub emulator on `pubsub`; its stdout.
pub fn gcloud(pubsub: &str, args: &[&str]) -> Vec<u8> {
    let endpoint = (
        "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB",
        format!("http://{pubsub}/"),
    );
    gcloud_at(&[endpoint], args)
}

/// gcloud with `endpoints` overridden and no credentials; its stdout.
fn gcloud_at(endpoints: &[(&str, String)], args: &[&str]) -> Vec<u8> {
    let out = Command::new("gcloud")
        .args(args)
        .arg("--quiet")
        .envs(endpoints.iter().map(|(key, value)| (key, value)))
        .env("CLOUDSDK_AUTH_DISABLE_CREDENTIALS", "true")
        .env("CLOUDSDK_CORE_PROJECT", PROJECT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gcloud {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `topic`, and `subscription` on it, in the emulator on `pubsub`.
pub fn create_topic_and_subscription(pubsub: &str, topic: &str, subscription: &str) {
    gcloud(pubsub, &["pubsub", "topics", "create", topic]);
    create_subscription(pubsub, topic, subscription);
}

/// `subscription` on `topic`, with the ack deadline the workers are given.
pub fn create_subscription(pubsub: &str, topic: &str, subscription: &str) {
    gcloud(
        pubsub,
        &[
            "pubsub",
            "subscriptions",
            "create",
            subscription,
            &format!("--topic={topic}"),
            "--ack-deadline=10",
        ],
    );
}

/// A loopback address whose port 80 nobody listens on: waiting for our
/// emulator there must not find another test's.
pub fn free_loopback_host() -> String {
    loop {
        let host = format!(
            "127.0.{}.{}",
            free_port() % 200 + 20,
            free_port() % 200 + 20
        );
        if std::net::TcpStream::connect((host.as_str(), 80)).is_err() {
            return host;
        }
    }
}

/// Google's Pub/Sub emulator on `addr`, once it listens.
pub fn spawn_pubsub_emulator(addr: &str) -> Child {
    let jar = std::fs::read_dir("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib")
        .expect("the Pub/Sub emulator is installed")
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-all.jar"))
        .unwrap();
    let (host, port) = addr.split_once(':').unwrap();
    let child = Command::new("java")
        .arg("-jar")
        .arg(jar)
        .args([format!("--host={host}"), format!("--port={port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(addr);
    child
}

/// The emulators, a topic and its subscription. Everything is killed on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub pubsub_emulator: Child,
    pub pubsub: String,
    pub gcs: Option<Child>,
    pub gcs_host: String,
    /// Objects kept on disk, to survive a restart of the storage emulator.
    pub persistent: bool,
    pub topic: String,
    pub subscription: String,
}

impl Drop for Env {
    fn drop(&mut self) {
        // A failed test shows what its workers said: CI keeps nothing else.
        if std::thread::panicking() {
            for entry in std::fs::read_dir(self.dir.path()).into_iter().flatten() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "log") {
                    let log = std::fs::read_to_string(&path).unwrap_or_default();
                    let lines: Vec<&str> = log.lines().collect();
                    eprintln!("--- {} (last 60 lines)", path.display());
                    for line in &lines[lines.len().saturating_sub(60)..] {
                        eprintln!("{line}");
                    }
                }
            }
        }
        let _ = self.pubsub_emulator.kill();
        let _ = self.pubsub_emulator.wait();
        self.stop_gcs();
    }
}

impl Env {
    /// `preloaded`: objects put in the input bucket before the storage
    /// emulator starts, so no notification announces them.
    pub fn start(preloaded: &[(&str, PathBuf)]) -> Env {
        Env::start_with(preloaded, false)
    }

    /// Objects that survive a restart of the storage emulator, in files:
    /// names that are not file names (`../`, 900 bytes) need `start`.
    pub fn start_persistent(preloaded: &[(&str, PathBuf)]) -> Env {
        Env::start_with(preloaded, true)
    }

    pub fn start_with(preloaded: &[(&str, PathBuf)], persistent: bool) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let unique = format!("{}-{}", std::process::id(), free_port());
        let pubsub = format!("127.0.0.1:{}", free_port());
        let pubsub_emulator = spawn_pubsub_emulator(&pubsub);
        // Port 80 of an address of its own: the storage crate drops the port
        // from Host, and the emulator builds upload URLs from it.
        let gcs_host = free_loopback_host();
        let mut env = Env {
            dir,
            pubsub_emulator,
            pubsub,
            gcs: None,
            gcs_host,
            persistent,
            topic: format!("docs-{unique}"),
            subscription: format!("worker-{unique}"),
        };
        create_topic_and_subscription(&env.pubsub, &env.topic, &env.subscription);
        let data = env.dir.path().join("data");
        std::fs::create_dir_all(data.join("input")).unwrap();
        std::fs::create_dir_all(data.join("output")).unwrap();
        for (name, source) in preloaded {
            let to = data.join("input").join(name);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(source, to).unwrap();
        }
        env.start_gcs(Some(&data));
        env
    }

    pub fn start_gcs(&mut self, data: Option<&Path>) {
        let mut command =
            Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join(".dev/fake-gcs-server"));
        command
            .args(["-scheme", "http", "-host", &self.gcs_host, "-port", "80"])
            .args([
                "-event.pubsub-project-id",
                PROJECT,
                "-event.pubsub-topic",
                &self.topic,
            ])
            .args(["-event.list", "finalize"])
            .env("PUBSUB_EMULATOR_HOST", &self.pubsub)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.persistent {
            command
                .args(["-backend", "filesystem", "-filesystem-root"])
                .arg(self.dir.path().join("gcs"));
        } else {
            command.args(["-backend", "memory"]);
        }
        if let Some(data) = data {
            command.arg("-data").arg(data);
        }
        self.gcs = Some(
            command
                .spawn()
                .expect("fake-gcs-server is installed (./dev/setup)"),
        );
        wait_port(&format!("{}:80", self.gcs_host));
    }

    pub fn stop_gcs(&mut self) {
        if let Some(mut gcs) = self.gcs.take() {
            let _ = gcs.kill();
            let _ = gcs.wait();
        }
    }

    /// Kills the Pub/Sub emulator and starts a new one on the same address,
    /// with the topic and subscription made again (it keeps them in memory).
    pub fn restart_pubsub(&mut self) {
        let _ = self.pubsub_emulator.kill();
        let _ = self.pubsub_emulator.wait();
        self.pubsub_emulator = spawn_pubsub_emulator(&self.pubsub);
        create_topic_and_subscription(&self.pubsub, &self.topic, &self.subscription);
    }

    /// Another subscription on the topic, full name, for a worker that
    /// follows one stopped on the first: the emulator can go on holding a
    /// new message for a stream that went away, past any wait a test can
    /// afford (seen under the full suite's load).
    pub fn subscription_apart(&self, name: &str) -> String {
        create_subscription(&self.pubsub, &self.topic, name);
        format!("projects/{PROJECT}/subscriptions/{name}")
    }

    pub fn gcs_url(&self) -> String {
        format!("http://{}", self.gcs_host)
    }

    pub fn gcloud(&self, args: &[&str]) -> Vec<u8> {
        gcloud(&self.pubsub, args)
    }

    pub fn publish(&self, extra: &[&str]) {
        let mut args = vec!["pubsub", "topics", "publish", self.topic.as_str()];
        args.extend_from_slice(extra);
        self.gcloud(&args);
    }

    /// The result events waiting on `subscription`, acked, as the JSON
    /// the worker published.
    pub fn pull_events(&self, subscription: &str) -> Vec<serde_json::Value> {
        use base64::Engine as _;
        let pulled = self.gcloud(&[
            "pubsub",
            "subscriptions",
            "pull",
            subscription,
            "--auto-ack",
            "--limit=20",
            "--format=json",
        ]);
        let messages: Vec<serde_json::Value> = serde_json::from_slice(&pulled).unwrap();
        let event = |message: &serde_json::Value| {
            // gcloud prints message data base64-encoded, in the URL-safe
            // alphabet (seen once events grew long enough to need it).
            let printed = message["message"]["data"].as_str().unwrap();
            let data = (base64::engine::general_purpose::STANDARD)
                .decode(printed.replace('-', "+").replace('_', "/"))
                .unwrap();
            serde_json::from_slice(&data).unwrap()
        };
        messages.iter().map(event).collect()
    }

    pub fn publish_json(&self, bucket: &str, name: &str) {
        let body = serde_json::json!({ "bucket": bucket, "name": name }).to_string();
        self.publish(&[&format!("--message={body}")]);
    }

    pub fn upload(&self, file: &Path, name: &str) {
        let url = format!(
            "{}/upload/storage/v1/b/input/o?uploadType=media&name={}",
            self.gcs_url(),
            encode(name)
        );
        curl(&[
            "-X",
            "POST",
            "--data-binary",
            &format!("@{}", file.display()),
            &url,
        ])
        .expect("upload to fake-gcs-server");
    }

    /// Uploads as a user would set options: `gcloud storage cp
    /// --custom-metadata=docx2pdf-pdfa=2b,...`.
    pub fn upload_with_metadata(&self, file: &Path, name: &str, metadata: &[(&str, &str)]) {
        let pairs: Vec<String> = metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let endpoint = (
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE",
            format!("{}/", self.gcs_url()),
        );
        let metadata = format!("--custom-metadata={}", pairs.join(","));
        let (file, to) = (file.to_string_lossy(), format!("gs://input/{name}"));
        gcloud_at(&[endpoint], &["storage", "cp", &metadata, &file, &to]);
    }

    pub fn object(&self, name: &str) -> Option<serde_json::Value> {
        let body = curl(&[&format!(
            "{}/storage/v1/b/output/o/{}",
            self.gcs_url(),
            encode(name)
        )])?;
        Some(serde_json::from_slice(&body).unwrap())
    }

    pub fn wait_object(&self, name: &str, timeout: Duration) -> serde_json::Value {
        let mut found = None;
        wait_until(&format!("gs://output/{name}"), timeout, || {
            found = self.object(name);
            found.is_some()
        });
        found.unwrap()
    }

    pub fn read_object(&self, name: &str) -> Vec<u8> {
        curl(&[&format!(
            "{}/storage/v1/b/output/o/{}?alt=media",
            self.gcs_url(),
            encode(name)
        )])
        .unwrap()
    }

    /// What `worker` has logged so far.
    pub fn log_of(&self, worker: &Worker) -> String {
        let port = worker.url.rsplit(':').next().unwrap();
        let log = self.dir.path().join(format!("worker-{port}.log"));
        std::fs::read_to_string(log).unwrap_or_default()
    }

    pub fn worker(&self, extra_env: &[(&str, &str)]) -> Worker {
        let port = free_port();
        let log =
            std::fs::File::create(self.dir.path().join(format!("worker-{port}.log"))).unwrap();
        // The key a deployment mounts as a secret, so the cache is on.
        let key = self.dir.path().join("cache-key");
        std::fs::write(
            &key,
            "a test key of thirty-two bytes or more, never a real one",
        )
        .unwrap();
        let mut env = vec![
            ("STORAGE_EMULATOR_HOST", self.gcs_url()),
            ("CACHE_KEY_FILE", key.display().to_string()),
            ("OUTPUT_PREFIX", "pdf/".into()),
            ("POOL_SIZE", "2".into()),
            ("ACK_DEADLINE", "10".into()),
        ];
        env.extend(extra_env.iter().map(|(k, v)| (*k, v.to_string())));
        Worker::spawn(&self.pubsub, &self.subscription, port, log.into(), &env)
    }
}

pub struct Worker {
    pub child: Child,
    pub url: String,
    pub tmp: tempfile::TempDir,
    _cwd: tempfile::TempDir,
}

impl Worker {
    /// `docx2pdf worker` on `port`, pulling `subscription` from the
    /// emulator on `pubsub`, with a TMPDIR of its own. Its working directory
    /// is two levels down in another temporary directory: even a path with
    /// `../../` that it followed would stay inside ours. `env` comes last;
    /// an empty value unsets (`("SUBSCRIPTION", "")` is a push-only worker).
    pub fn spawn(
        pubsub: &str,
        subscription: &str,
        port: u16,
        stdout: Stdio,
        env: &[(&str, String)],
    ) -> Worker {
        let tmp = tempfile::tempdir().unwrap();
        let cwd_root = tempfile::tempdir().unwrap();
        let cwd = cwd_root.path().join("cwd/of-worker");
        std::fs::create_dir_all(&cwd).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_docx2pdf"));
        command
            .arg("worker")
            .current_dir(&cwd)
            .env(
                "SUBSCRIPTION",
                format!("projects/{PROJECT}/subscriptions/{subscription}"),
            )
            .env("OUTPUT_BUCKET", "output")
            .env("PORT", port.to_string())
            .env("PUBSUB_EMULATOR_HOST", pubsub)
            .env("LOG_FORMAT", "json")
            .env("TMPDIR", tmp.path())
            .stdout(stdout);
        for (key, value) in env {
            if value.is_empty() {
                command.env_remove(key);
            } else {
                command.env(key, value);
            }
        }
        Worker {
            child: command.spawn().unwrap(),
            url: format!("http://127.0.0.1:{port}"),
            tmp,
            _cwd: cwd_root,
        }
    }

    pub fn metrics(&self) -> String {
        String::from_utf8(curl(&[&format!("{}/metrics", self.url)]).unwrap_or_default()).unwrap()
    }

    pub fn metric(&self, name: &str) -> f64 {
        self.metrics()
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    }

    pub fn outcome(&self, outcome: &str) -> f64 {
        self.metric(&format!("docx2pdf_messages_total{{outcome=\"{outcome}\"}}"))
    }

    pub fn wait_outcome(&self, outcome: &str, at_least: f64, timeout: Duration) {
        wait_until(&format!("{at_least} messages {outcome}"), timeout, || {
            self.outcome(outcome) >= at_least
        });
    }

    /// `/readyz`: its status code (0 when nothing answers) and body.
    pub fn readyz(&self) -> (u16, serde_json::Value) {
        let (code, body) = curl_status(&[&format!("{}/readyz", self.url)]);
        (code, serde_json::from_str(&body).unwrap_or_default())
    }

    pub fn child_alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn wait_ready(&self) {
        wait_until("the worker to be ready", Duration::from_secs(60), || {
            self.readyz().0 == 200
        });
    }

    /// Waits until the slots `/readyz` lists satisfy `done`; returns them.
    pub fn wait_slots(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let mut slots = Vec::new();
        wait_until(what, timeout, || {
            slots = self.readyz().1["slots"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            !slots.is_empty() && done(&slots)
        });
        slots
    }

    /// Ready means one warm LibreOffice; this waits for all of them, and
    /// returns their pids.
    pub fn wait_all_warm(&self) -> Vec<i32> {
        let slots = self.wait_slots(
            "every LibreOffice to be warm",
            Duration::from_secs(60),
            |slots| {
                slots
                    .iter()
                    .all(|s| s["state"] == "ready" && s["pid"].is_i64())
            },
        );
        slots
            .iter()
            .filter_map(|s| s["pid"].as_i64())
            .map(|p| p as i32)
            .collect()
    }

    /// SIGTERM; once the worker has exited 0, how long it took.
    pub fn terminate(&mut self) -> Duration {
        let signalled = Instant::now();
        self.signal(Signal::SIGTERM);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit status {status}");
        signalled.elapsed()
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// LibreOffice processes that outlived this worker.
    pub fn leftover_processes(&self) -> Vec<String> {
        processes_using(self.tmp.path())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
