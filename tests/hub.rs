//! `--model hf:ORG/NAME[@REVISION]` against a hub served on 127.0.0.1 by the test itself
//! (HF_ENDPOINT points at it; no internet). The fixture is a 2-layer Llama in BF16 whose stored
//! bytes (213,632, counted by hand in tests/checkpoint.rs) kvsim must report.
use assert_cmd::Command;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const CONFIG: &str = r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
 "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "intermediate_size": 128, "vocab_size": 256, "torch_dtype": "bfloat16",
 "tie_word_embeddings": false, "max_position_embeddings": 65536}"#;
const LLAMA_BYTES: u64 = 213_632;
/// vLLM's rotary cos/sin table, whole on every rank besides the parameters
/// (src/engine/position_tables.rs): 65,536 positions × head_dim 16 × 2 B.
const LLAMA_ROPE: u64 = 65_536 * 16 * 2;

/// The fixture's safetensors bytes (see tests/checkpoint.rs for the layout).
fn llama_safetensors(extra: &[(&str, &str, Vec<u64>, u64)]) -> Vec<u8> {
    let mut t: Vec<(String, String, Vec<u64>, u64)> = vec![
        (
            "model.embed_tokens.weight".into(),
            "BF16".into(),
            vec![256, 64],
            2,
        ),
        ("lm_head.weight".into(), "BF16".into(), vec![256, 64], 2),
        ("model.norm.weight".into(), "BF16".into(), vec![64], 2),
    ];
    for i in 0..2 {
        for (n, s) in [
            ("self_attn.q_proj.weight", vec![64, 64]),
            ("self_attn.k_proj.weight", vec![32, 64]),
            ("self_attn.v_proj.weight", vec![32, 64]),
            ("self_attn.o_proj.weight", vec![64, 64]),
            ("mlp.gate_proj.weight", vec![128, 64]),
            ("mlp.up_proj.weight", vec![128, 64]),
            ("mlp.down_proj.weight", vec![64, 128]),
            ("input_layernorm.weight", vec![64]),
            ("post_attention_layernorm.weight", vec![64]),
        ] {
            t.push((format!("model.layers.{i}.{n}"), "BF16".into(), s, 2));
        }
    }
    for (n, d, s, b) in extra {
        t.push((n.to_string(), d.to_string(), s.clone(), *b));
    }
    let mut header = serde_json::Map::new();
    let mut at = 0u64;
    for (name, dtype, shape, size) in &t {
        let n = shape.iter().product::<u64>() * size;
        header.insert(
            name.clone(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [at, at + n]}),
        );
        at += n;
    }
    let j = serde_json::to_vec(&Value::Object(header)).unwrap();
    let mut out = (j.len() as u64).to_le_bytes().to_vec();
    out.extend(j);
    out.resize(out.len() + at as usize, 0);
    out
}

/// What the server answers for one path.
#[derive(Clone)]
enum Reply {
    /// 200 (206 for a Range), with these extra headers.
    File(Vec<u8>, Vec<(String, String)>),
    /// 200 ignoring any Range.
    FileNoRange(Vec<u8>),
    /// A status with headers and no body.
    Status(u16, Vec<(String, String)>),
    /// Served only with this bearer token, else 401.
    Gated(String, Box<Reply>),
    /// Claims a Content-Length and sends nothing.
    Claims(u64),
    /// Streams this many bytes with no Content-Length, then closes.
    Stream(usize),
    /// Never answers.
    Hang,
}

/// One request as the server saw it: path and headers (lower-case names).
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HashMap<String, String>,
}

struct Hub {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Hub {
    fn start(routes: HashMap<String, Reply>) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (routes, log) = (Arc::new(routes), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, log) = (routes.clone(), log.clone());
                std::thread::spawn(move || serve(stream, &routes, &log));
            }
        });
        Hub { port, seen }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, routes: &HashMap<String, Reply>, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        log.lock().unwrap().push(Seen {
            path: path.clone(),
            headers: headers.clone(),
        });
        let reply = routes.get(&path).cloned().unwrap_or(Reply::Status(
            404,
            vec![("X-Error-Code".into(), "EntryNotFound".into())],
        ));
        if !answer(&mut out, &reply, &headers) {
            return;
        }
    }
}

/// Writes the answer; false when the connection must close.
fn answer(out: &mut TcpStream, reply: &Reply, headers: &HashMap<String, String>) -> bool {
    let head = |status: &str, extra: &[(String, String)], len: usize| {
        let mut h = format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\n");
        for (k, v) in extra {
            h += &format!("{k}: {v}\r\n");
        }
        h + "\r\n"
    };
    match reply {
        Reply::File(body, extra) => {
            let range = headers.get("range").and_then(|r| {
                let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
                Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?))
            });
            let _ = match range {
                Some((a, b)) => {
                    let b = b.min(body.len() - 1);
                    let mut extra = extra.clone();
                    extra.push((
                        "Content-Range".into(),
                        format!("bytes {a}-{b}/{}", body.len()),
                    ));
                    out.write_all(head("206 Partial Content", &extra, b + 1 - a).as_bytes())
                        .and_then(|_| out.write_all(&body[a..=b]))
                }
                None => out
                    .write_all(head("200 OK", extra, body.len()).as_bytes())
                    .and_then(|_| out.write_all(body)),
            };
            true
        }
        Reply::FileNoRange(body) => {
            let _ = out
                .write_all(head("200 OK", &[], body.len()).as_bytes())
                .and_then(|_| out.write_all(body));
            true
        }
        Reply::Status(code, extra) => {
            let _ = out.write_all(head(&format!("{code} X"), extra, 0).as_bytes());
            true
        }
        Reply::Gated(token, inner) => {
            if headers.get("authorization") == Some(&format!("Bearer {token}")) {
                answer(out, inner, headers)
            } else {
                let extra = vec![("X-Error-Code".into(), "GatedRepo".into())];
                let _ = out.write_all(head("401 Unauthorized", &extra, 0).as_bytes());
                true
            }
        }
        Reply::Claims(len) => {
            let _ = out.write_all(
                format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n{{").as_bytes(),
            );
            std::thread::sleep(std::time::Duration::from_secs(2));
            false
        }
        Reply::Stream(n) => {
            let _ = out.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b' '; 1 << 20];
            let mut left = *n;
            while left > 0 {
                let k = left.min(chunk.len());
                if out.write_all(&chunk[..k]).is_err() {
                    break;
                }
                left -= k;
            }
            false
        }
        Reply::Hang => {
            std::thread::sleep(std::time::Duration::from_secs(30));
            false
        }
    }
}

fn commit_header() -> Vec<(String, String)> {
    vec![("X-Repo-Commit".into(), COMMIT.into())]
}

/// A public repository `org/tiny` with one model.safetensors and no index.
fn tiny_routes() -> HashMap<String, Reply> {
    HashMap::from([
        (
            "/org/tiny/resolve/main/config.json".into(),
            Reply::File(CONFIG.as_bytes().to_vec(), commit_header()),
        ),
        (
            format!("/org/tiny/resolve/{COMMIT}/model.safetensors"),
            Reply::File(llama_safetensors(&[]), commit_header()),
        ),
    ])
}

fn kvsim(home: &Path, endpoint: &str, envs: &[(&str, &str)], model: &str) -> std::process::Output {
    let mut c = Command::cargo_bin("kvsim").unwrap();
    c.args([
        "eval",
        "--chip",
        "h100-sxm",
        "--context",
        "8k",
        "--format",
        "json",
        "--model",
        model,
    ])
    .env_remove("HF_HUB_CACHE")
    .env_remove("HF_TOKEN")
    .env_remove("HF_HUB_OFFLINE")
    .env("HF_HOME", home)
    .env("HF_ENDPOINT", endpoint)
    .env("HF_HUB_DOWNLOAD_TIMEOUT", "2");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn err(out: &std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_hub_id_reads_config_and_headers_into_the_hf_cache() {
    let hub = Hub::start(tiny_routes());
    let home = tempfile::tempdir().unwrap();
    let r = ok(&kvsim(home.path(), &hub.endpoint(), &[], "hf:org/tiny"));
    assert_eq!(r["model"], "org/tiny");
    assert_eq!(r["weights_source"], "checkpoint");
    assert_eq!(stored_weights(&r), LLAMA_BYTES + LLAMA_ROPE);
    let w = r["warnings"][0].as_str().unwrap();
    assert!(
        w.starts_with(
            "weights: 0.00 GiB from the checkpoint's safetensors headers (hf:org/tiny@main)"
        ),
        "{w}"
    );
    // The standard cache layout; the header sits apart from snapshots/ (no partial weights there).
    let repo = home.path().join("hub/models--org--tiny");
    let snap = repo.join("snapshots").join(COMMIT);
    assert_eq!(
        std::fs::read_to_string(snap.join("config.json")).unwrap(),
        CONFIG
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        COMMIT
    );
    assert!(repo
        .join(".no_exist")
        .join(COMMIT)
        .join("model.safetensors.index.json")
        .is_file());
    assert!(!snap.join("model.safetensors").exists());
    let full = llama_safetensors(&[]);
    let n = u64::from_le_bytes(full[..8].try_into().unwrap()) as usize;
    let header = std::fs::read(
        repo.join("kvsim-headers")
            .join(COMMIT)
            .join("model.safetensors.header"),
    )
    .unwrap();
    assert_eq!(header, full[..8 + n]);
    // Two ranged requests: the length, then the header; never the data.
    let ranges: Vec<String> = hub
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("model.safetensors"))
        .filter_map(|s| s.headers.get("range").cloned())
        .collect();
    assert_eq!(
        ranges,
        vec!["bytes=0-7".to_string(), format!("bytes=8-{}", 7 + n)]
    );
    assert!(hub
        .seen()
        .iter()
        .all(|s| !s.headers.contains_key("authorization")));

    // Offline, from the cache alone (the endpoint is not even reachable).
    let off = ok(&kvsim(
        home.path(),
        "http://127.0.0.1:9",
        &[("HF_HUB_OFFLINE", "1")],
        "hf:org/tiny",
    ));
    assert_eq!(stored_weights(&off), LLAMA_BYTES + LLAMA_ROPE);
    assert_eq!(off["weights_source"], "checkpoint");
    // By commit, offline too.
    let pinned = ok(&kvsim(
        home.path(),
        "http://127.0.0.1:9",
        &[("HF_HUB_OFFLINE", "1")],
        &format!("hf:org/tiny@{COMMIT}"),
    ));
    assert_eq!(stored_weights(&pinned), LLAMA_BYTES + LLAMA_ROPE);
}

#[test]
fn set_edits_a_hub_config() {
    let hub = Hub::start(tiny_routes());
    let home = tempfile::tempdir().unwrap();
    let mut c = Command::cargo_bin("kvsim").unwrap();
    let out = c
        .args([
            "eval",
            "--chip",
            "h100-sxm",
            "--context",
            "8k",
            "--format",
            "json",
        ])
        .args(["--model", "hf:org/tiny", "--set", "num_hidden_layers=1"])
        .env("HF_HOME", home.path())
        .env("HF_ENDPOINT", hub.endpoint())
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    let r = ok(&out);
    assert_eq!(r["params_total"], 106_816 - 36_992);
    assert_eq!(r["weights_source"], "computed");
    // No header was fetched for an edited config.
    assert!(hub.seen().iter().all(|s| !s.path.ends_with(".safetensors")));
}

#[test]
fn a_sharded_gated_checkpoint_needs_the_token_and_keeps_it_home() {
    let shard = |i: usize| format!("model-0000{i}-of-00002.safetensors");
    let first = llama_safetensors(&[]);
    let second = llama_safetensors(&[]);
    // Two shards with distinct tensor names: rename by building the second from other names.
    let second_names = String::from_utf8_lossy(&second)
        .replace("model.", "modex.")
        .replace("\"lm_head", "\"lm_heax");
    let second = second_names.into_bytes();
    let index = json!({"weight_map": {"a": shard(1), "b": shard(2)}}).to_string();
    let token = "hf_test_token";
    let gate = |r: Reply| Reply::Gated(token.into(), Box::new(r));
    let mut routes = HashMap::from([
        (
            "/org/gated/resolve/main/config.json".to_string(),
            gate(Reply::File(CONFIG.as_bytes().to_vec(), commit_header())),
        ),
        (
            format!("/org/gated/resolve/{COMMIT}/model.safetensors.index.json"),
            gate(Reply::File(index.into_bytes(), vec![])),
        ),
    ]);
    // Each shard redirects to another origin (a CDN) that must not see the token.
    for (i, body) in [(1, first), (2, second)] {
        routes.insert(
            format!("/org/gated/resolve/{COMMIT}/{}", shard(i)),
            gate(Reply::Status(
                302,
                vec![("Location".into(), format!("/cdn/{i}"))],
            )),
        );
        routes.insert(format!("/cdn/{i}"), Reply::File(body, vec![]));
    }
    let hub = Hub::start(routes);
    let home = tempfile::tempdir().unwrap();
    let e = err(&kvsim(home.path(), &hub.endpoint(), &[], "hf:org/gated"));
    assert!(
        e.contains("401") && e.contains("gated") && e.contains("set HF_TOKEN"),
        "{e}"
    );
    let e = err(&kvsim(
        home.path(),
        &hub.endpoint(),
        &[("HF_TOKEN", "wrong")],
        "hf:org/gated",
    ));
    assert!(e.contains("HF_TOKEN sent was refused"), "{e}");
    let r = ok(&kvsim(
        home.path(),
        &hub.endpoint(),
        &[("HF_TOKEN", token)],
        "hf:org/gated",
    ));
    assert_eq!(stored_weights(&r), 2 * LLAMA_BYTES + LLAMA_ROPE);
    assert!(r["warnings"][0]
        .as_str()
        .unwrap()
        .contains("in 42 tensors of 2 files"));
    let seen = hub.seen();
    let last: Vec<&Seen> = seen.iter().rev().take(5).collect();
    assert!(last
        .iter()
        .filter(|s| s.path.starts_with("/org/gated/"))
        .all(
            |s| s.headers.get("authorization").map(String::as_str) == Some("Bearer hf_test_token")
        ));
    assert!(seen.iter().any(|s| s.path.starts_with("/cdn/")));
}

#[test]
fn the_token_does_not_follow_a_redirect_to_another_origin() {
    let cdn = Hub::start(HashMap::from([(
        "/cdn/config".to_string(),
        Reply::File(CONFIG.as_bytes().to_vec(), vec![]),
    )]));
    let hub = Hub::start(HashMap::from([(
        "/org/r/resolve/main/config.json".to_string(),
        Reply::Status(
            302,
            vec![
                ("Location".into(), format!("{}/cdn/config", cdn.endpoint())),
                ("X-Repo-Commit".into(), COMMIT.into()),
            ],
        ),
    )]));
    let home = tempfile::tempdir().unwrap();
    let r = ok(&kvsim(
        home.path(),
        &hub.endpoint(),
        &[("HF_TOKEN", "secret")],
        "hf:org/r",
    ));
    assert_eq!(
        r["weights_source"], "computed",
        "no safetensors in this repository"
    );
    assert_eq!(hub.seen()[0].headers["authorization"], "Bearer secret");
    let at_cdn = cdn.seen();
    assert_eq!(at_cdn.len(), 1);
    assert!(!at_cdn[0].headers.contains_key("authorization"));
    // The commit of the first answer names the snapshot.
    let snap = home
        .path()
        .join("hub/models--org--r/snapshots")
        .join(COMMIT);
    assert!(snap.join("config.json").is_file());
}

#[test]
fn network_failures_are_clear_errors() {
    let routes = HashMap::from([
        (
            "/org/missing/resolve/main/config.json".to_string(),
            Reply::Status(404, vec![("X-Error-Code".into(), "RepoNotFound".into())]),
        ),
        (
            "/org/loop/resolve/main/config.json".to_string(),
            Reply::Status(
                302,
                vec![(
                    "Location".into(),
                    "/org/loop2/resolve/main/config.json".into(),
                )],
            ),
        ),
        (
            "/org/loop2/resolve/main/config.json".to_string(),
            Reply::Status(
                302,
                vec![(
                    "Location".into(),
                    "/org/loop/resolve/main/config.json".into(),
                )],
            ),
        ),
        (
            "/org/slow/resolve/main/config.json".to_string(),
            Reply::Hang,
        ),
        (
            "/org/big/resolve/main/config.json".to_string(),
            Reply::Claims(200 << 20),
        ),
        (
            "/org/endless/resolve/main/config.json".to_string(),
            Reply::Stream(65 << 20),
        ),
        (
            "/org/forbidden/resolve/main/config.json".to_string(),
            Reply::Status(403, vec![]),
        ),
        (
            "/org/html/resolve/main/config.json".to_string(),
            Reply::File(b"<html>mirror error</html>".to_vec(), commit_header()),
        ),
    ]);
    let hub = Hub::start(routes);
    let home = tempfile::tempdir().unwrap();
    let run = |m: &str| err(&kvsim(home.path(), &hub.endpoint(), &[], m));
    let e = run("hf:org/missing");
    assert!(
        e.contains("404")
            && e.contains("no such repository")
            && e.contains("/org/missing/resolve/main/config.json"),
        "{e}"
    );
    let e = run("hf:org/loop");
    assert!(e.contains("redirect loop"), "{e}");
    let t = std::time::Instant::now();
    let e = run("hf:org/slow");
    assert!(
        e.contains("no answer within 2 s") && e.contains("HF_HUB_DOWNLOAD_TIMEOUT"),
        "{e}"
    );
    assert!(t.elapsed().as_secs() < 20);
    let e = run("hf:org/big");
    assert!(e.contains("209715200 bytes") && e.contains("64 MiB"), "{e}");
    // No length announced: reading stops one byte past the cap.
    let e = run("hf:org/endless");
    assert!(e.contains("over 64 MiB"), "{e}");
    let e = run("hf:org/forbidden");
    assert!(e.contains("403") && e.contains("HF_TOKEN"), "{e}");
    let e = run("hf:org/html");
    assert!(
        e.contains("/org/html/resolve/main/config.json") && e.contains("not a JSON"),
        "{e}"
    );
    let cached = home
        .path()
        .join("hub/models--org--html/snapshots")
        .join(COMMIT);
    assert!(!cached.join("config.json").exists());
    // Nothing cached for these: offline is an error naming the id.
    let e = err(&kvsim(
        home.path(),
        &hub.endpoint(),
        &[("HF_HUB_OFFLINE", "1")],
        "hf:org/missing",
    ));
    assert!(
        e.contains("hf:org/missing@main") && e.contains("offline") && e.contains("no cached copy"),
        "{e}"
    );
    // Bad ids and settings name the flag or variable.
    let e = run("hf:org/../etc");
    assert!(e.contains("--model"), "{e}");
    let e = err(&kvsim(home.path(), "ftp://x", &[], "hf:org/tiny"));
    assert!(e.contains("HF_ENDPOINT"), "{e}");
}

#[test]
fn bad_headers_from_the_hub_are_errors_naming_the_url() {
    // A header claiming 10^15 F32 elements in a 4-byte span.
    let j = br#"{"w":{"dtype":"F32","shape":[1000000000000000],"data_offsets":[0,4]}}"#;
    let mut bad = (j.len() as u64).to_le_bytes().to_vec();
    bad.extend_from_slice(j);
    bad.extend_from_slice(&[0; 4]);
    // A length past the file's end (a server ignoring Range sends it all).
    let mut short = (1000u64).to_le_bytes().to_vec();
    short.extend_from_slice(b"{}");
    let routes = HashMap::from([
        (
            "/org/huge/resolve/main/config.json".to_string(),
            Reply::File(CONFIG.as_bytes().to_vec(), commit_header()),
        ),
        (
            format!("/org/huge/resolve/{COMMIT}/model.safetensors"),
            Reply::File(bad, vec![]),
        ),
        (
            "/org/short/resolve/main/config.json".to_string(),
            Reply::File(CONFIG.as_bytes().to_vec(), commit_header()),
        ),
        (
            format!("/org/short/resolve/{COMMIT}/model.safetensors"),
            Reply::FileNoRange(short),
        ),
    ]);
    let hub = Hub::start(routes);
    let home = tempfile::tempdir().unwrap();
    let e = err(&kvsim(home.path(), &hub.endpoint(), &[], "hf:org/huge"));
    assert!(
        e.contains("/org/huge/resolve/") && e.contains("4000000000000000 bytes"),
        "{e}"
    );
    let e = err(&kvsim(home.path(), &hub.endpoint(), &[], "hf:org/short"));
    assert!(
        e.contains("/org/short/resolve/") && e.contains("truncated"),
        "{e}"
    );
    // Nothing was cached for the next run to trust.
    let heads = home.path().join("hub/models--org--huge/kvsim-headers");
    assert!(!heads.join(COMMIT).join("model.safetensors.header").exists());
}

#[test]
fn a_sweep_asks_the_hub_once() {
    let hub = Hub::start(tiny_routes());
    let home = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("kvsim")
        .unwrap()
        .args([
            "sweep",
            "--model",
            "hf:org/tiny",
            "--chip",
            "h100-sxm",
            "--context",
            "8k",
        ])
        .args([
            "--set",
            "num_hidden_layers=1,2",
            "--tp",
            "1,2",
            "--format",
            "jsonl",
        ])
        .env("HF_HOME", home.path())
        .env("HF_ENDPOINT", hub.endpoint())
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("TRANSFORMERS_OFFLINE")
        .env_remove("HF_HUB_CACHE")
        .env_remove("HUGGINGFACE_HUB_CACHE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["params_total"], 106_816 - 36_992);
    assert_eq!(rows[3]["params_total"], 106_816);
    let configs = hub
        .seen()
        .iter()
        .filter(|s| s.path.ends_with("config.json"))
        .count();
    assert_eq!(configs, 1);
}

/// The weights figure less what the caching allocator's rounding adds to it (the engine's
/// measurement counts it; src/engine/allocator.rs tests it by hand): the stored bytes and
/// position tables these tests check.
fn stored_weights(r: &Value) -> u64 {
    r["weights_bytes_per_chip"].as_u64().unwrap()
        - r["weight_segments_bytes_per_chip"].as_u64().unwrap()
}
