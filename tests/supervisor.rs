//! The supervision mechanism on its own, against scripted children: small
//! shell programs that speak the protocol (print `ready`, answer a line per
//! request) and then echo, hang, crash, spin or start slowly on demand.
//! Real processes, so real time, in fractions of a second.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use docx2pdf::supervisor::{Backoff, CallError, SlotState, Spec, Supervisor};

/// Answers each request line with itself, unless told otherwise:
/// "hang" never answers, "crash" exits 3, "spin" burns CPU forever.
const SCRIPTED: &str = r#"echo ready
while read -r line; do
  case "$line" in
    '"hang"') sleep 1000 ;;
    '"crash"') exit 3 ;;
    '"spin"') while :; do :; done ;;
  esac
  echo "$line"
done"#;

fn spec(scratch: &std::path::Path, script: &str) -> Spec {
    Spec {
        name: "scripted",
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        prepare: Box::new(|_, _| Ok(())),
        scratch_root: scratch.to_owned(),
        start_timeout: Duration::from_secs(5),
        recycle_after: 1000,
        memory_limit: u64::MAX,
        file_size_cap: u64::MAX,
        cpu_budget: None,
        scratch_cap: u64::MAX,
        unfit: Box::new(|_| None),
        backoff: Backoff {
            first: Duration::from_millis(50),
            longest: Duration::from_millis(400),
        },
    }
}

async fn call(supervisor: &Supervisor<String, String>, request: &str) -> Result<String, CallError> {
    supervisor
        .call(request.into(), Duration::from_secs(5))
        .await
        .map(|reply| reply.value)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_program_that_cannot_start_is_retried_with_backoff_and_requests_fail() {
    let scratch = tempfile::tempdir().unwrap();
    let spec = Spec {
        program: "/bin/false".into(),
        args: vec![],
        start_timeout: Duration::from_secs(2),
        backoff: Backoff {
            first: Duration::from_millis(100),
            longest: Duration::from_millis(800),
        },
        ..spec(scratch.path(), "")
    };
    let supervisor: Supervisor<String, String> = Supervisor::start(spec, 1);
    let started = Instant::now();
    let error = supervisor
        .call("hello".into(), Duration::from_secs(1))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(error, CallError::NoProcess(limit) if limit == Duration::from_secs(3)),
        "{error}"
    );
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // Starts at 0, 0.1, 0.3, 0.7, 1.5, 2.3 s ...: a handful, not hundreds.
    let slot = &supervisor.status()[0];
    assert!(
        (3..=8).contains(&slot.restarts),
        "{} restarts in {waited:?}",
        slot.restarts
    );
    assert_eq!(slot.state, SlotState::Starting);
    supervisor.shutdown().await;
    assert_eq!(supervisor.status()[0].state, SlotState::Stopped);
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "scratch dirs left behind"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_answered_and_counted() {
    let scratch = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::start(spec(scratch.path(), SCRIPTED), 2);
    for i in 0..6 {
        assert_eq!(
            call(&supervisor, &format!("r{i}")).await.unwrap(),
            format!("r{i}")
        );
    }
    let served: u64 = supervisor.status().iter().map(|s| s.served).sum();
    assert_eq!(served, 6);
    assert!(supervisor.status().iter().all(|s| s.restarts == 0));
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_past_its_deadline_kills_the_process_and_the_next_one_is_served() {
    let scratch = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::start(spec(scratch.path(), SCRIPTED), 1);
    let started = Instant::now();
    let error = supervisor
        .call("hang".into(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::Timeout(_)), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(call(&supervisor, "next").await.unwrap(), "next");
    assert_eq!(supervisor.status()[0].restarts, 1);
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_is_reported_with_its_exit_status_and_the_process_replaced() {
    let scratch = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::start(spec(scratch.path(), SCRIPTED), 1);
    match call(&supervisor, "crash").await {
        Err(CallError::Died(cause)) => assert!(cause.contains("exit status: 3"), "{cause}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(call(&supervisor, "after").await.unwrap(), "after");
    assert_eq!(supervisor.status()[0].restarts, 1);
    supervisor.shutdown().await;
}

/// A child that exits between requests is replaced before the next request
/// reaches it: that request must not fail for a death it did not cause.
#[tokio::test(flavor = "multi_thread")]
async fn a_process_that_exits_while_idle_is_replaced_before_the_next_request() {
    let scratch = tempfile::tempdir().unwrap();
    let once = r#"echo ready
read -r line
echo "$line"
exit 0"#;
    let supervisor: Supervisor<String, String> = Supervisor::start(spec(scratch.path(), once), 1);
    assert_eq!(call(&supervisor, "first").await.unwrap(), "first");
    // The replacement is started at once; give the slot a moment to see the exit.
    let started = Instant::now();
    while supervisor.status()[0].restarts == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(call(&supervisor, "second").await.unwrap(), "second");
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_start_within_the_start_timeout_is_waited_for() {
    let scratch = tempfile::tempdir().unwrap();
    let script = format!("sleep 0.5\n{SCRIPTED}");
    let supervisor = Supervisor::start(spec(scratch.path(), &script), 1);
    assert_eq!(supervisor.status()[0].state, SlotState::Starting);
    assert_eq!(call(&supervisor, "hello").await.unwrap(), "hello");
    assert_eq!(supervisor.status()[0].restarts, 0);
    supervisor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_is_recycled_after_its_request_count() {
    let scratch = tempfile::tempdir().unwrap();
    let spec = Spec {
        recycle_after: 2,
        ..spec(scratch.path(), SCRIPTED)
    };
    let supervisor = Supervisor::start(spec, 1);
    for i in 0..5 {
        assert_eq!(
            call(&supervisor, &format!("r{i}")).await.unwrap(),
            format!("r{i}")
        );
    }
    // Two requests per process: the third process serves the fifth.
    let slot = &supervisor.status()[0];
    assert_eq!((slot.served, slot.restarts), (5, 2));
    supervisor.shutdown().await;
}

/// The control: without a CPU cap the spinning request runs to its deadline.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_spins_is_stopped_by_its_cpu_budget_before_its_deadline() {
    let scratch = tempfile::tempdir().unwrap();
    let uncapped: Supervisor<String, String> = Supervisor::start(spec(scratch.path(), SCRIPTED), 1);
    let error = uncapped
        .call("spin".into(), Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::Timeout(_)), "{error}");
    uncapped.shutdown().await;

    let capped = Spec {
        cpu_budget: Some(Duration::from_secs(1)),
        ..spec(scratch.path(), SCRIPTED)
    };
    let capped = Supervisor::start(capped, 1);
    // Twice, so the cap is set again for a request and not only at start.
    assert_eq!(call(&capped, "warm").await.unwrap(), "warm");
    let error = capped
        .call("spin".into(), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        matches!(error, CallError::CpuCap(budget) if budget == Duration::from_secs(1)),
        "{error}"
    );
    assert_eq!(call(&capped, "after").await.unwrap(), "after");
    capped.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_request_gets_an_empty_directory_of_its_own() {
    let scratch = tempfile::tempdir().unwrap();
    let supervisor: Supervisor<String, String> =
        Supervisor::start(spec(scratch.path(), SCRIPTED), 1);
    let mut dirs = Vec::new();
    for i in 0..3 {
        let prepare = Box::new(move |dir: &docx2pdf::supervisor::RequestDir| {
            let left = std::fs::read_dir(dir.path())?.count();
            std::io::Write::write_all(&mut dir.create("job")?, format!("{i}").as_bytes())?;
            Ok(format!("{i} found {left}"))
        });
        let reply = supervisor
            .call_in(prepare, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(reply.value, format!("{i} found 0"));
        assert_eq!(
            std::fs::read_to_string(reply.dir.path().join("job")).unwrap(),
            format!("{i}")
        );
        assert!(reply.dir.path().starts_with(scratch.path()));
        // Handing the directory back lets the slot take the next request.
        dirs.push(reply.dir.path().to_owned());
    }
    supervisor.shutdown().await;
    assert!(
        dirs.iter().all(|dir| !dir.exists()),
        "request directories left behind"
    );
}

/// Writes 64 MiB, a MiB every 20 ms, into the directory named in the request
/// (`fill DIR`); or 4 GiB the same way, which cannot finish inside a 20 s
/// deadline, into it (`flood DIR`) or into a file it deleted and keeps open
/// (`hold DIR`); or 8 MiB beside its request directory (`leave DIR`); then
/// answers.
const FILLING: &str = r#"echo ready
while read -r line; do
  dir=${line#\"* }; dir=${dir%\"}
  case "$line" in
    '"fill '*) for i in $(seq 64); do head -c 1048576 /dev/zero >> "$dir/big"; sleep 0.02; done ;;
    '"flood '*) for i in $(seq 4096); do head -c 1048576 /dev/zero >> "$dir/big"; sleep 0.02; done ;;
    '"hold '*) exec 3>"$dir/gone"; rm "$dir/gone"
               for i in $(seq 4096); do head -c 1048576 /dev/zero >&3; sleep 0.02; done ;;
    '"leave '*) head -c 8388608 /dev/zero > "$dir/../left-behind" ;;
  esac
  echo "$line"
done"#;

async fn call_with_dir(
    supervisor: &Supervisor<String, String>,
    verb: &'static str,
) -> Result<docx2pdf::supervisor::Reply<String>, CallError> {
    let prepare = Box::new(move |dir: &docx2pdf::supervisor::RequestDir| {
        Ok(format!("{verb} {}", dir.path().display()))
    });
    supervisor.call_in(prepare, Duration::from_secs(20)).await
}

/// A child that writes more than its scratch cap is killed as it goes, not
/// after: counted from its files and from the ones it deleted but holds
/// open. The capped requests write for longer than their deadline, so only
/// a kill while they run answers `ScratchCap` (a check after the job would
/// answer `Timeout`). (Control: without a cap, a request writes all 64 MiB.)
#[tokio::test(flavor = "multi_thread")]
async fn a_child_holding_more_in_files_than_its_cap_is_killed() {
    let scratch = tempfile::tempdir().unwrap();
    let uncapped = Supervisor::start(spec(scratch.path(), FILLING), 1);
    let reply = call_with_dir(&uncapped, "fill").await.unwrap();
    let written = std::fs::metadata(reply.dir.path().join("big"))
        .unwrap()
        .len();
    assert_eq!(written, 64 << 20, "control");
    drop(reply);
    uncapped.shutdown().await;

    let capped = Spec {
        scratch_cap: 16 << 20,
        ..spec(scratch.path(), FILLING)
    };
    let supervisor = Supervisor::start(capped, 1);
    for verb in ["flood", "hold"] {
        match call_with_dir(&supervisor, verb).await {
            Err(CallError::ScratchCap { held, cap }) => {
                assert_eq!(cap, 16 << 20);
                assert!(held > cap, "{verb}: {held}");
            }
            other => panic!("{verb}: {other:?}"),
        }
    }
    assert_eq!(call(&supervisor, "after").await.unwrap(), "after");
    assert_eq!(supervisor.status()[0].restarts, 2);
    supervisor.shutdown().await;
}

/// What a request leaves in the request directory goes with it; what it
/// leaves elsewhere in the scratch has its process replaced before the
/// next request, as does whatever the spec finds unfit.
#[tokio::test(flavor = "multi_thread")]
async fn a_process_that_keeps_what_a_request_left_is_replaced() {
    let scratch = tempfile::tempdir().unwrap();
    let supervisor = Supervisor::start(spec(scratch.path(), FILLING), 1);
    drop(call_with_dir(&supervisor, "fill").await.unwrap());
    assert_eq!(call(&supervisor, "next").await.unwrap(), "next");
    assert_eq!(
        supervisor.status()[0].restarts,
        0,
        "the request directory is emptied"
    );
    drop(call_with_dir(&supervisor, "leave").await.unwrap());
    assert_eq!(call(&supervisor, "next").await.unwrap(), "next");
    assert_eq!(supervisor.status()[0].restarts, 1, "8 MiB left beside it");
    supervisor.shutdown().await;

    let fussy = Spec {
        unfit: Box::new(|scratch| scratch.join("request/mark").exists().then_some("marked")),
        ..spec(scratch.path(), SCRIPTED)
    };
    let supervisor: Supervisor<String, String> = Supervisor::start(fussy, 1);
    let prepare = Box::new(|dir: &docx2pdf::supervisor::RequestDir| {
        dir.create("mark")?;
        Ok("marked".to_string())
    });
    drop(
        supervisor
            .call_in(prepare, Duration::from_secs(5))
            .await
            .unwrap(),
    );
    assert_eq!(call(&supervisor, "next").await.unwrap(), "next");
    assert_eq!(supervisor.status()[0].restarts, 1, "unfit");
    supervisor.shutdown().await;
}

/// Answers each request line with itself, after misbehaving as it says.
const MISBEHAVING: &str = r#"echo ready
while read -r line; do
  case "$line" in
    '"escape"') setsid sleep 4242.4242 & sleep 0.3 ;;
    '"raise"') if ulimit -S -t unlimited 2>/dev/null; then line='"raised"'; else line='"refused"'; fi ;;
    '"raise and spin"') ulimit -S -t unlimited 2>/dev/null; while :; do :; done ;;
    '"flood"') head -c 268435456 /dev/zero | tr '\0' x ;;
    '"flood stderr"') head -c 268435456 /dev/zero | tr '\0' x >&2 ;;
  esac
  echo "$line"
done"#;

fn processes_named(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(needle))
        })
        .collect()
}

/// Control: a process group killed whole still misses a member that made
/// a session of its own. Under the supervisor, `setsid` is refused, so
/// nothing the child starts outlives it.
#[tokio::test(flavor = "multi_thread")]
async fn no_process_a_child_starts_outlives_its_kill() {
    let mut plain = Command::new("/bin/sh")
        .args([
            "-c",
            "setsid sleep 4343.4343 & sleep 0.3; echo started; sleep 1000",
        ])
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut started = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(plain.stdout.take().unwrap()),
        &mut started,
    )
    .unwrap();
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(plain.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    plain.wait().unwrap();
    let escaped = processes_named("sleep\x004343.4343");
    for pid in &escaped {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        !escaped.is_empty(),
        "control: setsid escaped the group kill"
    );

    let scratch = tempfile::tempdir().unwrap();
    let supervisor: Supervisor<String, String> =
        Supervisor::start(spec(scratch.path(), MISBEHAVING), 1);
    let reply = supervisor
        .call("escape".into(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reply.value, "escape");
    drop(reply);
    supervisor.shutdown().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        processes_named("sleep\x004242.4242"),
        Vec::<u32>::new(),
        "a process started by the child outlived it"
    );
}

/// Control: an unprivileged process raises its own soft CPU limit back to
/// the hard one. Under the supervisor it cannot, so the budget holds.
#[tokio::test(flavor = "multi_thread")]
async fn a_child_cannot_lift_its_cpu_budget() {
    let plain = Command::new("/bin/sh")
        .args([
            "-c",
            "ulimit -S -t 100; ulimit -S -t unlimited && echo raised",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&plain.stdout),
        "raised\n",
        "control"
    );

    let scratch = tempfile::tempdir().unwrap();
    let capped = Spec {
        cpu_budget: Some(Duration::from_secs(1)),
        ..spec(scratch.path(), MISBEHAVING)
    };
    let supervisor: Supervisor<String, String> = Supervisor::start(capped, 1);
    let reply = supervisor
        .call("raise".into(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reply.value, "refused");
    drop(reply);
    let error = supervisor
        .call("raise and spin".into(), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::CpuCap(_)), "{error}");
    supervisor.shutdown().await;
}

/// 256 MiB without a newline, on the channel and on stderr: the reply is
/// refused as soon as it is longer than a reply can be, the process is
/// replaced, and a flood on stderr is cut and skipped while the reply still
/// arrives. (Control: reading such a line whole, as a plain line reader
/// does, holds all of it. That the bounded reader holds no more than its
/// bound is `lines`' unit test: this process's peak memory is shared with
/// the tests running beside it, too noisy to assert on.)
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_from_a_child_is_read_within_a_bound() {
    let scratch = tempfile::tempdir().unwrap();
    let supervisor: Supervisor<String, String> =
        Supervisor::start(spec(scratch.path(), MISBEHAVING), 1);
    let started = Instant::now();
    let error = supervisor
        .call("flood".into(), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CallError::Misbehaved(why) if why.contains("longer than")),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let reply = supervisor
        .call("flood stderr".into(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(reply.value, "flood stderr");
    drop(reply);
    assert_eq!(supervisor.status()[0].restarts, 1);
    supervisor.shutdown().await;

    let mut flood = tokio::process::Command::new("/bin/sh")
        .args(["-c", "head -c 67108864 /dev/zero | tr '\\0' x"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(flood.stdout.take().unwrap()));
    let line = lines.next_line().await.unwrap().unwrap();
    assert_eq!(line.len(), 64 << 20, "control: a plain reader holds it all");
    flood.wait().await.unwrap();
}
