//! Limits and pinning (issue cases 13–15): oversized messages and compression bombs in
//! both directions, deadlines on stalled peers, the cap on streams per connection, range
//! limits, stale or forged plan digests, and a source that is the destination itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::fake_source::file_entry;
use crate::support::raw_grpc::{Answer, Evil, frame, zstd_bomb};
use crate::support::*;
use confsync_proto::v1;
use prost::Message;

const LIMIT: usize = 16 << 20;
const PLAN: &str = "/confsync.v1.Agent/Plan";

fn agent_with_a_tree() -> (tempfile::TempDir, Agent) {
    let root = tempdir();
    write(root.path(), "firmware/fw.bin", &noise(2 << 20, 4));
    write(root.path(), "licenses/own.lic", b"licence");
    let agent = Agent::start(root.path(), "agent");
    (root, agent)
}

#[test]
fn oversized_messages_and_compression_bombs_are_refused_with_bounded_memory() {
    let (root, agent) = agent_with_a_tree();
    let before = snapshot(root.path());
    let rt = runtime();
    // A real 17 MiB message.
    let big = v1::PlanRequest { source: "x".repeat(LIMIT + (1 << 20)), ..Default::default() };
    let reply =
        rt.block_on(raw_grpc::call(&agent.address, PLAN, frame(false, &big.encode_to_vec()), &[]));
    assert_mentions(&reply.grpc_message, &["too large", "16777216"]);
    // A header claiming 1 GiB, followed by ten bytes: refused before any buffering.
    let mut claim = frame(false, &[0; 10]);
    claim[1..5].copy_from_slice(&(1u32 << 30).to_be_bytes());
    let reply = rt.block_on(raw_grpc::call(&agent.address, PLAN, claim, &[]));
    assert_mentions(&reply.grpc_message, &["too large", "1073741824"]);
    // 4 GiB of zeros in 128 KiB of zstd.
    let baseline = peak_rss_mib(agent.pid());
    let bomb = frame(true, &zstd_bomb(4 << 30));
    let reply =
        rt.block_on(raw_grpc::call(&agent.address, PLAN, bomb, &[("grpc-encoding", "zstd")]));
    assert_mentions(&reply.grpc_message, &["size limit", "16777216", "decompressing"]);
    let peak = peak_rss_mib(agent.pid());
    assert!(peak < baseline + 96, "memory grew from {baseline} to {peak} MiB");
    // Still serving.
    let hello = rt.block_on(async {
        confsync_wire::AgentClient::connect(&confsync_wire::Target::plain(&agent.address))
            .await?
            .hello()
            .await
    });
    hello.expect("the agent still answers");
    assert_same_tree(&before, &snapshot(root.path()), "the agent's tree");
}

#[test]
fn a_source_sending_oversized_or_bomb_answers_is_refused() {
    let dst = tempdir();
    write(dst.path(), "firmware/keep.bin", b"keep");
    write(dst.path(), "licenses/own.lic", b"licence");
    let destination = Agent::start(dst.path(), "backup-1");
    let before = snapshot(dst.path());
    let oversized: Arc<dyn Fn() -> Answer + Send + Sync> = Arc::new(|| Answer::Frames {
        body: frame(false, &vec![0x0A; LIMIT + 1024]),
        encoding: None,
    });
    let bomb: Arc<dyn Fn() -> Answer + Send + Sync> = Arc::new(|| Answer::Frames {
        body: frame(true, &zstd_bomb(2 << 30)),
        encoding: Some("zstd"),
    });
    for (answer, problem) in [(oversized, "too large"), (bomb, "size limit")] {
        let source = Evil { manifest_answer: Some(answer), ..Evil::default() }.serve();
        let output = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
        assert_exit(&output, 3);
        assert_mentions(&stderr(&output), &[problem]);
        assert!(
            peak_rss_mib(destination.pid()) < 256,
            "destination at {} MiB",
            peak_rss_mib(destination.pid())
        );
    }
    assert_same_tree(&before, &snapshot(dst.path()), "the destination's tree");
}

#[test]
fn a_stalled_source_runs_into_deadlines_instead_of_holding_the_destination() {
    let dst = tempdir();
    write(dst.path(), "firmware/keep.bin", b"keep");
    let destination = Agent::start_with_env(
        dst.path(),
        "backup-1",
        &[("CONFSYNC_FAILPOINTS", "client-timeout-ms=1500")],
    );
    let before = snapshot(dst.path());
    // Silent at hello.
    let silent = Evil { silent_hello: true, ..Evil::default() }.serve();
    let started = Instant::now();
    let output = confsync(&["diff", "--from", &silent.address, "--to", &destination.address]);
    assert_exit(&output, 3);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    let text = stderr(&output).to_lowercase();
    assert!(
        text.contains("deadline") || text.contains("timeout") || text.contains("timed out"),
        "{text}"
    );
    // A manifest stream that stops in the middle.
    let stalled: Arc<dyn Fn() -> Answer + Send + Sync> = Arc::new(|| {
        Answer::MessagesThenSilence(vec![raw_grpc::batch(v1::Category::Firmware, vec![])])
    });
    let source = Evil { manifest_answer: Some(stalled), ..Evil::default() }.serve();
    let output = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert_exit(&output, 3);
    assert_mentions(&stderr(&output), &["nothing arrived for 1.5s"]);
    // File data that stops in the middle.
    let trickle = Arc::new(|request: &v1::ChunksRequest| {
        let first = request.ranges.first().map(|r| v1::ChunkData {
            offset: r.offset,
            data: vec![0; r.length as usize],
            zstd: false,
        });
        Answer::MessagesThenSilence(first.into_iter().map(|m| m.encode_to_vec()).collect())
    });
    let entry = v1::Entry { size: 3 << 20, ..file_entry("slow.bin", b"unrelated") };
    let source = Evil { chunks: trickle, ..Evil::firmware(vec![entry]) }.serve();
    let output = confsync(&[
        "sync",
        "--from",
        &source.address,
        "--to",
        &destination.address,
        "--only",
        "firmware",
        "--yes",
    ]);
    assert_exit(&output, 3);
    assert_mentions(&stderr(&output), &["sent no data for 1.5s"]);
    assert_same_tree(&before, &snapshot(dst.path()), "the destination's tree");
    assert_no_staging(dst.path());
}

#[test]
fn one_connection_may_hold_at_most_64_streams() {
    let (_root, agent) = agent_with_a_tree();
    let rt = runtime();
    rt.block_on(async {
        // Small stream windows keep each 1 MiB answer open (unread); a connection window
        // far above 64 of them means only the agent's stream cap can hold a call back.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", agent.address))
            .expect("an address")
            .initial_stream_window_size(64 << 10)
            .initial_connection_window_size(64 << 20)
            .connect()
            .await
            .expect("connect");
        let mut client = v1::agent_client::AgentClient::new(channel);
        let request = || v1::ChunksRequest {
            file: Some(v1::FileRef {
                category: v1::Category::Firmware as i32,
                path: "fw.bin".into(),
            }),
            ranges: vec![v1::ByteRange { offset: 0, length: 1 << 20 }],
        };
        // 64 streams that are never read: flow control keeps each open.
        let mut open = Vec::new();
        for _ in 0..64 {
            open.push(client.get_chunks(request()).await.expect("a stream").into_inner());
        }
        let waited =
            tokio::time::timeout(Duration::from_millis(1500), client.hello(v1::HelloRequest {}))
                .await;
        assert!(waited.is_err(), "a 65th stream was opened on the same connection");
        open.pop();
        tokio::time::timeout(Duration::from_secs(20), client.hello(v1::HelloRequest {}))
            .await
            .expect("a stream slot frees when one closes")
            .expect("hello");
    });
}

#[test]
fn a_source_serves_only_bounded_ranges() {
    let (_root, agent) = agent_with_a_tree();
    let rt = runtime();
    let statuses = rt.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", agent.address))
            .expect("an address")
            .connect()
            .await
            .expect("connect");
        let mut client =
            v1::agent_client::AgentClient::new(channel).max_encoding_message_size(usize::MAX);
        let file =
            Some(v1::FileRef { category: v1::Category::Firmware as i32, path: "fw.bin".into() });
        let huge = v1::ChunksRequest {
            file: file.clone(),
            ranges: vec![v1::ByteRange { offset: 0, length: 1 << 40 }],
        };
        let past_end = v1::ChunksRequest {
            file: file.clone(),
            ranges: vec![v1::ByteRange { offset: u64::MAX - 1, length: 2 }],
        };
        let many = v1::ChunksRequest {
            file,
            ranges: vec![v1::ByteRange { offset: 0, length: 1 }; 70_000],
        };
        let mut out = Vec::new();
        for request in [huge, past_end, many] {
            out.push(client.get_chunks(request).await.expect_err("refused").message().to_string());
        }
        out
    });
    assert_mentions(&statuses[0], &["1099511627776 bytes", "over 1048576 bytes"]);
    assert_mentions(&statuses[1], &["outside firmware/fw.bin"]);
    assert_mentions(&statuses[2], &["70000 ranges", "at most 65536"]);
}

#[test]
fn a_forged_malformed_or_stale_plan_digest_is_refused() {
    let src = tempdir();
    write(src.path(), "config/app.conf", b"app = new\n");
    let source = Agent::start(src.path(), "primary");
    let dst = tempdir();
    write(dst.path(), "config/app.conf", b"app = old\n");
    write(dst.path(), "licenses/own.lic", b"licence");
    let destination = Agent::start(dst.path(), "backup-1");
    let before = (snapshot(src.path()), snapshot(dst.path()));
    let unchanged = || {
        assert_same_tree(&before.0, &snapshot(src.path()), "the source's tree");
        assert_same_tree(&before.1, &snapshot(dst.path()), "the destination's tree");
    };

    let forged = "ab".repeat(32);
    let output = confsync(&sync_args(
        &source.address,
        &destination.address,
        &["--only", "config", "--plan", &forged],
    ));
    assert_exit(&output, 4);
    assert_mentions(&stderr(&output), &["changed since the preview"]);
    unchanged();

    let reply = runtime().block_on(async {
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://{}", destination.address))
                .expect("an address")
                .connect()
                .await
                .expect("connect");
        let mut client = v1::agent_client::AgentClient::new(channel);
        let request = v1::ApplyRequest {
            source: source.address.clone(),
            categories: vec![v1::Category::Config as i32],
            options: None,
            plan_digest: vec![1, 2, 3],
            confirm_within_secs: 0,
            two_way: None,
            bundle: String::new(),
        };
        let mut stream = client.apply(request).await.expect("the stream starts").into_inner();
        let mut last = None;
        while let Some(item) = futures::StreamExt::next(&mut stream).await {
            if let Err(status) = item {
                last = Some(status);
            }
        }
        last
    });
    let status = reply.expect("a malformed digest is refused");
    assert_mentions(status.message(), &["changed since the preview", "(none)"]);
    unchanged();

    let diff = confsync(&[
        "diff",
        "--from",
        &source.address,
        "--to",
        &destination.address,
        "--only",
        "config",
        "--json",
    ]);
    assert_exit(&diff, 1);
    let doc: serde_json::Value = serde_json::from_slice(&diff.stdout).expect("diff --json");
    let digest = doc["plan"]["digest"].as_str().expect("a digest").to_string();
    write(src.path(), "config/app.conf", b"app = newer, after the review\n");
    let before = (snapshot(src.path()), snapshot(dst.path()));
    let output = confsync(&sync_args(
        &source.address,
        &destination.address,
        &["--only", "config", "--plan", &digest],
    ));
    assert_exit(&output, 4);
    assert_mentions(&stderr(&output), &["changed since the preview"]);
    assert_same_tree(&before.1, &snapshot(dst.path()), "the destination's tree");
}

#[test]
fn a_source_that_is_the_destination_itself_is_refused_under_any_name() {
    let pki = pki::Pki::new();
    let admin = pki.issue("alice", "admin");
    let creds = pki.issue("backup-1", "agent");
    let root = tempdir();
    write(root.path(), "config/app.conf", b"app\n");
    write(root.path(), "licenses/own.lic", b"licence");
    let agent = pki::TlsAgent::start(root.path(), "backup-1", &creds, &admin, &[]);
    let before = snapshot(root.path());
    let port = agent.address.rsplit_once(':').expect("host:port").1;
    let localhost = format!("localhost:{port}");
    // The same name twice is a usage error before anything connects (issue 11)...
    let output = pki::confsync_as(
        &admin,
        &["sync", "--from", &agent.address, "--to", &agent.address, "--yes"],
    );
    assert_exit(&output, 2);
    assert_mentions(&stderr(&output), &["is both the source and a destination"]);
    // ... and another name of the same agent is refused by the agent itself.
    let output =
        pki::confsync_as(&admin, &["sync", "--from", &localhost, "--to", &agent.address, "--yes"]);
    assert_exit(&output, 4);
    assert_mentions(&stderr(&output), &["is this very server"]);
    assert_same_tree(&before, &snapshot(root.path()), "the tree");
}

#[test]
fn a_source_that_goes_silent_is_named_after_the_stall_timeout_setting() {
    let dst = tempdir();
    write(dst.path(), "firmware/keep.bin", b"keep");
    let before = snapshot(dst.path());
    let destination = Agent::start_with_args(dst.path(), "backup", &["--stall-timeout", "2s"]);
    let trickle = Arc::new(|request: &v1::ChunksRequest| {
        let first = request.ranges.first().map(|r| v1::ChunkData {
            offset: r.offset,
            data: vec![0; r.length as usize],
            zstd: false,
        });
        Answer::MessagesThenSilence(first.into_iter().map(|m| m.encode_to_vec()).collect())
    });
    let entry = v1::Entry { size: 3 << 20, ..file_entry("slow.bin", b"unrelated") };
    let source = Evil { chunks: trickle, ..Evil::firmware(vec![entry]) }.serve();
    let started = Instant::now();
    let output =
        confsync(&sync_args(&source.address, &destination.address, &["--only", "firmware"]));
    let took = started.elapsed();
    assert_exit(&output, 3);
    let said = stderr(&output);
    assert_mentions(&said, &[&format!("the source {} sent nothing for 2s", source.address)]);
    // Noticed by the setting, not by the transport giving up (about 50 s).
    assert!(took < Duration::from_secs(30), "the stall took {took:?} to notice:\n{said}");
    assert_same_tree(&before, &snapshot(dst.path()), "the destination's tree");
}

/// Open file descriptors of a process.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn half_open_and_surplus_connections_are_closed() {
    let root = tempdir();
    write(root.path(), "config/a.conf", b"a");
    let agent = Agent::start_with_env(
        root.path(),
        "agent",
        &[("CONFSYNC_FAILPOINTS", "handshake-timeout-ms=1000")],
    );
    let baseline = open_fds(agent.pid());
    let rt = runtime();
    let held = rt.block_on(async {
        let mut held = Vec::new();
        for i in 0..300 {
            let Ok(mut tcp) = tokio::net::TcpStream::connect(&agent.address).await else {
                continue;
            };
            // Some say nothing, some start the preface and stop.
            if i % 2 == 0 {
                use tokio::io::AsyncWriteExt;
                let _ = tcp.write_all(b"PRI * HTTP").await;
            }
            held.push(tcp);
        }
        held
    });
    assert!(held.len() > 200, "only {} connections were made", held.len());
    // Beyond its share per address, a client's connections are dropped at once.
    let during = open_fds(agent.pid());
    assert!(
        during <= baseline + listen_share() + 16,
        "{during} descriptors open with 300 idle connections (baseline {baseline})"
    );
    // Those that never finish their preface are dropped after the handshake timeout.
    let deadline = Instant::now() + Duration::from_secs(20);
    while open_fds(agent.pid()) > baseline + 4 {
        assert!(
            Instant::now() < deadline,
            "{} descriptors still open (baseline {baseline})",
            open_fds(agent.pid())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(held);
    // And the agent still serves.
    assert_exit(&confsync(&["history", "--server", &agent.address]), 0);
}

/// The agent's share of connections per client address.
fn listen_share() -> usize {
    128
}

#[test]
fn a_client_that_stops_reading_its_progress_does_not_hold_the_destination() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/image.bin", 4 << 20, 9);
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start(dst.path(), "backup");
    let output =
        confsync(&["diff", "--from", &source.address, "--to", &destination.address, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("diff JSON");
    let digest = doc["plan"]["digest"].as_str().expect("a digest").to_string();
    let rt = runtime();
    // A client whose stream window is one byte: it asks for the apply and never reads.
    let _stalled = rt.block_on(async {
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://{}", destination.address))
                .expect("an address")
                .initial_stream_window_size(1)
                .connect()
                .await
                .expect("connect");
        let mut client = v1::agent_client::AgentClient::new(channel);
        let request = v1::ApplyRequest {
            source: source.address.clone(),
            plan_digest: confsync_engine::Digest::from_hex(&digest).expect("hex").0.to_vec(),
            ..Default::default()
        };
        client.apply(request).await.expect("the apply starts").into_inner()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dst.path().join("firmware/image.bin").exists() {
        assert!(Instant::now() < deadline, "the unread apply never committed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Committed: the next sync must not find the destination busy.
    write(src.path(), "config/new.conf", b"new");
    let next = eventually_ok(|| confsync(&sync_args(&source.address, &destination.address, &[])));
    assert_exit(&next, 0);
    assert_categories_equal(src.path(), dst.path());
}

/// Runs `command` until it stops saying "busy" (the commit's last steps), at most a few
/// seconds, and returns its last output.
fn eventually_ok(command: impl Fn() -> std::process::Output) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let output = command();
        let busy = stderr(&output).contains("already running");
        if !busy || Instant::now() >= deadline {
            return output;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_source_sending_long_paths_is_stopped_at_the_manifest_memory_bound() {
    let dst = tempdir();
    write(dst.path(), "firmware/keep.bin", b"keep");
    let destination = Agent::start(dst.path(), "backup");
    // 4 KiB paths, 1,000 to a message, 100 messages (400 MiB) made as they are read: far
    // below the entry count limit, far above the memory bound.
    let answer: Arc<dyn Fn() -> Answer + Send + Sync> = Arc::new(|| {
        let batches = (0..100u32).map(|b| {
            let entries = (0..1000u32)
                .map(|i| {
                    let long = "x".repeat(250);
                    let mut path = format!("{b:04}{i:04}");
                    for _ in 0..15 {
                        path.push('/');
                        path.push_str(&long);
                    }
                    file_entry(&path, b"content")
                })
                .collect();
            v1::ManifestBatch {
                category: v1::Category::Firmware as i32,
                entries,
                category_digest: Vec::new(),
                last: false,
                held: Vec::new(),
                unmanaged: Vec::new(),
            }
            .encode_to_vec()
        });
        Answer::Stream(Box::new(batches))
    });
    let source = Evil { manifest_answer: Some(answer), ..Evil::default() }.serve();
    let baseline = peak_rss_mib(destination.pid());
    let output = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert_exit(&output, 3);
    assert_mentions(&stderr(&output), &["more than 256 MiB"]);
    let peak = peak_rss_mib(destination.pid());
    println!(
        "peak memory of the destination planning against long paths: {peak} MiB (from {baseline} MiB)"
    );
    assert!(peak < baseline + 256 + 160, "memory grew from {baseline} to {peak} MiB");
}
