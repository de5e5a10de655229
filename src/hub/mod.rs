//! `hf:ORG/NAME[@REVISION]`: a model's config.json and safetensors headers from the Hugging Face
//! hub, kept in the hub's standard cache (docs/checkpoints.md §2):
//!
//! - `{cache}/models--ORG--NAME/snapshots/{commit}/config.json` (and the index file), the commit
//!   being the `X-Repo-Commit` header of the answer (the revision itself when absent);
//! - `{cache}/models--ORG--NAME/refs/{revision}` holding the commit;
//! - `{cache}/models--ORG--NAME/.no_exist/{commit}/model.safetensors.index.json` when a
//!   checkpoint has no index (as `huggingface_hub` records a missing file);
//! - the headers (first `8 + n` bytes of each shard) under
//!   `{cache}/models--ORG--NAME/kvsim-headers/{commit}/`, never in `snapshots/`, where a partial
//!   file would pass for a downloaded one. Shards already downloaded whole in `snapshots/` are
//!   read in place.
//!
//! `{cache}` is `HF_HUB_CACHE` (or the older `HUGGINGFACE_HUB_CACHE`), else `HF_HOME/hub`, else
//! `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`. The token — `HF_TOKEN`,
//! else `HUGGING_FACE_HUB_TOKEN`, else the file `HF_TOKEN_PATH` (default `{HF_HOME}/token`, where
//! `hf auth login` stores it; HF_HOME defaulting to `$XDG_CACHE_HOME/huggingface` or
//! `~/.cache/huggingface`), with line breaks and surrounding blanks removed, as huggingface_hub
//! 2.4.0 `utils/_auth.py::get_token` / `_clean_token` and `constants.py::HF_TOKEN_PATH` read it —
//! is sent as `Authorization: Bearer` (to the endpoint only), `HF_ENDPOINT` replaces
//! `https://huggingface.co`, `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`; 1/on/yes/true) reads
//! the cache only, and `HF_HUB_DOWNLOAD_TIMEOUT` (seconds, default 10) bounds connecting and each
//! read — the names and defaults of `huggingface_hub` (`src/huggingface_hub/constants.py` and
//! `file_download.py`, release v0.34.4).

pub mod http;

use crate::error::{Error, Result};
use crate::model::checkpoint::{self, ShardSource, INDEX_FILE, MAX_INDEX_BYTES, SINGLE_FILE};
use http::{Client, Failure};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Largest config.json kvsim reads (real ones are a few kB).
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;

/// A parsed `hf:ORG/NAME[@REVISION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubId {
    /// `ORG/NAME`, or `NAME` for the few repositories without an owner.
    pub repo: String,
    pub revision: String,
}

fn bad_id(spec: &str, expected: &str) -> Error {
    Error::field("command line", "--model", format!("`{spec}`"), expected)
}

/// A repository name part: letters, digits, `-`, `_`, `.`; not starting or ending with `-`/`.`,
/// no `--` or `..` (the hub's own rule, which also keeps cache paths inside the cache).
fn valid_part(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 96
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !p.starts_with(['-', '.'])
        && !p.ends_with(['-', '.'])
        && !p.contains("--")
        && !p.contains("..")
}

impl HubId {
    /// Parses `hf:ORG/NAME[@REVISION]` (the `hf:` prefix included).
    pub fn parse(spec: &str) -> Result<HubId> {
        let rest = spec
            .trim()
            .strip_prefix("hf:")
            .ok_or_else(|| bad_id(spec, "hf:ORG/NAME[@REVISION]"))?;
        let (repo, revision) = rest.split_once('@').unwrap_or((rest, "main"));
        let parts: Vec<&str> = repo.split('/').collect();
        if parts.len() > 2 || !parts.iter().all(|p| valid_part(p)) {
            return Err(bad_id(
                spec,
                "hf:ORG/NAME[@REVISION] with names of letters, digits, `-`, `_` and `.`",
            ));
        }
        let rev_ok = !revision.is_empty()
            && revision.len() <= 256
            && revision
                .split('/')
                .all(|p| !p.is_empty() && p != "." && p != "..")
            && revision
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        if !rev_ok {
            return Err(bad_id(
                spec,
                "a revision after `@`: a branch, tag or commit (letters, digits, `-`, `_`, `.`, `/`)",
            ));
        }
        Ok(HubId {
            repo: repo.to_string(),
            revision: revision.to_string(),
        })
    }

    /// As users write it.
    pub fn label(&self) -> String {
        format!("hf:{}@{}", self.repo, self.revision)
    }

    /// The cache folder name: `models--ORG--NAME`.
    pub fn folder(&self) -> String {
        format!("models--{}", self.repo.replace('/', "--"))
    }

    /// `{endpoint}/{repo}/resolve/{revision}/{file}`, the revision URL-encoded as the hub client
    /// does (`quote(revision, safe="")`).
    pub fn url(&self, endpoint: &str, file: &str) -> String {
        format!(
            "{endpoint}/{}/resolve/{}/{file}",
            self.repo,
            self.revision.replace('/', "%2F")
        )
    }
}

/// A full 40-hex commit id.
fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Where and how to reach the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// The cache root (`.../huggingface/hub`).
    pub cache: PathBuf,
    pub endpoint: String,
    pub token: Option<String>,
    pub offline: bool,
    pub timeout: Duration,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl HubConfig {
    /// From the environment, as `huggingface_hub` reads it.
    pub fn from_env() -> Result<HubConfig> {
        let home = || env("HOME").map(PathBuf::from);
        // `~/` as `os.path.expanduser` reads it.
        let path = |v: String| match (v.strip_prefix("~/"), home()) {
            (Some(rest), Some(h)) => h.join(rest),
            _ => PathBuf::from(v),
        };
        let cache = match (
            env("HF_HUB_CACHE").or_else(|| env("HUGGINGFACE_HUB_CACHE")),
            env("HF_HOME"),
        ) {
            (Some(c), _) => path(c),
            (None, Some(h)) => path(h).join("hub"),
            (None, None) => env("XDG_CACHE_HOME")
                .map(path)
                .or_else(|| home().map(|h| h.join(".cache")))
                .ok_or_else(|| {
                    Error::field(
                        "environment",
                        "HF_HOME",
                        "nothing (and no HOME)",
                        "a directory for the Hugging Face cache",
                    )
                })?
                .join("huggingface")
                .join("hub"),
        };
        let endpoint = env("HF_ENDPOINT").unwrap_or_else(|| "https://huggingface.co".into());
        let endpoint = endpoint.trim_end_matches('/').to_string();
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
            || origin_len(&endpoint) == 0
        {
            return Err(Error::field(
                "environment",
                "HF_ENDPOINT",
                format!("`{endpoint}`"),
                "an http:// or https:// URL",
            ));
        }
        let offline = env("HF_HUB_OFFLINE").is_some_and(|v| {
            matches!(v.to_ascii_uppercase().as_str(), "1" | "ON" | "YES" | "TRUE")
        });
        let timeout = match env("HF_HUB_DOWNLOAD_TIMEOUT") {
            None => Duration::from_secs(10),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t > 0.0 && *t <= 3600.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    Error::field(
                        "environment",
                        "HF_HUB_DOWNLOAD_TIMEOUT",
                        format!("`{v}`"),
                        "seconds, above 0 and at most 3600",
                    )
                })?,
        };
        Ok(HubConfig {
            cache,
            endpoint,
            token: token_from(&env, home())?,
            offline,
            timeout,
        })
    }
}

/// Largest token file kvsim reads (a token is under 100 bytes).
const MAX_TOKEN_FILE_BYTES: u64 = 64 << 10;

/// huggingface_hub's `_clean_token`: line breaks removed, blanks trimmed, empty = none.
fn clean_token(t: &str) -> Option<String> {
    let t = t.replace(['\r', '\n'], "");
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The token huggingface_hub's `get_token` finds: `HF_TOKEN`, else `HUGGING_FACE_HUB_TOKEN`, else
/// the token file (`HF_TOKEN_PATH`, else `HF_HOME/token`, else `$XDG_CACHE_HOME/huggingface/token`,
/// else `~/.cache/huggingface/token`). A missing file means no token, as there; an unreadable or
/// oversized one is an error naming it rather than a silent anonymous request.
fn token_from(
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<PathBuf>,
) -> Result<Option<String>> {
    if let Some(t) = env("HF_TOKEN")
        .or_else(|| env("HUGGING_FACE_HUB_TOKEN"))
        .and_then(|t| clean_token(&t))
    {
        return Ok(Some(t));
    }
    let expand = |v: String| match (v.strip_prefix("~/"), &home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(v),
    };
    let hf_home = env("HF_HOME").map(expand).or_else(|| {
        env("XDG_CACHE_HOME")
            .map(expand)
            .or_else(|| home.as_ref().map(|h| h.join(".cache")))
            .map(|c| c.join("huggingface"))
    });
    let Some(file) = env("HF_TOKEN_PATH")
        .map(expand)
        .or_else(|| hf_home.map(|h| h.join("token")))
    else {
        return Ok(None);
    };
    use std::io::Read;
    let f = match std::fs::File::open(&file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(io(
                &file,
                format!("cannot read the Hugging Face token file: {e}"),
            ))
        }
    };
    let mut text = String::new();
    f.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| {
            io(
                &file,
                format!("cannot read the Hugging Face token file: {e}"),
            )
        })?;
    if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(io(
            &file,
            format!("the token file is over {MAX_TOKEN_FILE_BYTES} bytes; expected one token"),
        ));
    }
    Ok(clean_token(&text))
}

fn origin_len(url: &str) -> usize {
    url.split_once("://")
        .map_or(0, |(_, rest)| rest.split('/').next().unwrap_or("").len())
}

/// What a hub id resolved to on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub id: HubId,
    pub commit: String,
    /// The cached config.json.
    pub config: PathBuf,
    /// The headers to sum (None: the checkpoint has no safetensors, or they are not cached
    /// offline; `notes` says which).
    pub shards: Option<Vec<ShardSource>>,
    pub notes: Vec<String>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        file: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io(path, "no parent directory"))?;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// Resolves `id` to a cached config.json and, when `headers`, its safetensors headers: from the
/// cache when offline (or when `id` names a commit already cached), else from the network.
pub fn fetch(id: &HubId, cfg: &HubConfig, headers: bool) -> Result<Fetched> {
    let repo = cfg.cache.join(id.folder());
    if cfg.offline {
        return from_cache(id, &repo, headers);
    }
    if is_commit(&id.revision)
        && repo
            .join("snapshots")
            .join(&id.revision)
            .join("config.json")
            .is_file()
    {
        if let Ok(f) = from_cache(id, &repo, headers) {
            if f.shards.is_some() || !headers {
                return Ok(f);
            }
        }
    }
    let client = Client::new(&cfg.endpoint, cfg.token.clone(), cfg.timeout);
    let url = id.url(&cfg.endpoint, "config.json");
    let config = client
        .get(&url, None, MAX_CONFIG_BYTES)
        .map_err(Failure::into_error)?;
    let commit = match config.commit.as_deref() {
        Some(c) if is_commit(c) => c.to_string(),
        _ => id.revision.replace('/', "%2F"),
    };
    // Only JSON goes into the cache (a mirror's error page must not pass for a config later).
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&config.body) {
        return Err(Error::Syntax {
            file: url,
            reason: format!("not a JSON config.json: {e}"),
        });
    }
    let snapshot = repo.join("snapshots").join(&commit);
    write_atomic(&snapshot.join("config.json"), &config.body)?;
    if id.revision != commit {
        write_atomic(&repo.join("refs").join(&id.revision), commit.as_bytes())?;
    }
    let mut f = Fetched {
        id: id.clone(),
        commit: commit.clone(),
        config: snapshot.join("config.json"),
        shards: None,
        notes: Vec::new(),
    };
    if !headers {
        return Ok(f);
    }
    // Fetch by commit from here on, so every file comes from the same snapshot.
    let pinned = HubId {
        repo: id.repo.clone(),
        revision: if is_commit(&commit) {
            commit.clone()
        } else {
            id.revision.clone()
        },
    };
    let names = match client.get(
        &pinned.url(&cfg.endpoint, INDEX_FILE),
        None,
        MAX_INDEX_BYTES,
    ) {
        Ok(a) => {
            let path = snapshot.join(INDEX_FILE);
            let text = String::from_utf8(a.body).map_err(|_| io(&path, "not UTF-8"))?;
            let (names, _) = checkpoint::parse_index(&path.display().to_string(), &text)?;
            write_atomic(&path, text.as_bytes())?;
            names
        }
        Err(Failure::NotFound(_)) => {
            write_atomic(&repo.join(".no_exist").join(&commit).join(INDEX_FILE), b"")?;
            vec![SINGLE_FILE.to_string()]
        }
        Err(Failure::Other(e)) => return Err(e),
    };
    let heads = repo.join("kvsim-headers").join(&commit);
    let shards = fetch_headers(&client, &pinned, &cfg.endpoint, &snapshot, &heads, &names);
    match shards {
        Ok(s) => f.shards = Some(s),
        Err(Failure::NotFound(e)) => f.notes.push(format!(
            "weights computed: {} has no safetensors weights ({e})",
            id.label()
        )),
        Err(Failure::Other(e)) => return Err(e),
    }
    Ok(f)
}

/// The header of each shard: a whole file already in the snapshot, a cached header, or two
/// ranged requests (the length, then the header), a few shards at a time.
fn fetch_headers(
    client: &Client,
    id: &HubId,
    endpoint: &str,
    snapshot: &Path,
    heads: &Path,
    names: &[String],
) -> std::result::Result<Vec<ShardSource>, Failure> {
    let one = |name: &String| -> std::result::Result<ShardSource, Failure> {
        let whole = snapshot.join(name);
        if whole.is_file() {
            return Ok(ShardSource::File(whole));
        }
        let cached = heads.join(format!("{name}.header"));
        if cached.is_file() {
            return Ok(ShardSource::Prefix(cached));
        }
        let url = id.url(endpoint, name);
        let first = client.get(&url, Some((0, 7)), 8)?;
        let n = checkpoint::header_len(&url, &first.body, first.total).map_err(Failure::Other)?;
        let mut bytes = first.body;
        let rest = client.get(&url, Some((8, 7 + n)), n + 8)?;
        // 206 answers the range; a 200 (Range ignored) starts at byte 0.
        let header = if rest.status == 206 {
            &rest.body[..]
        } else {
            rest.body.get(8..).unwrap_or(&[])
        };
        if (header.len() as u64) < n {
            return Err(Failure::Other(Error::field(
                &url,
                "safetensors header",
                format!("{} bytes", header.len()),
                format!("{n} bytes, as its first 8 bytes say (a truncated answer)"),
            )));
        }
        bytes.extend_from_slice(&header[..n as usize]);
        let h = checkpoint::parse_header(&url, &bytes[8..]).map_err(Failure::Other)?;
        if let Some(total) = first.total.filter(|&t| t != h.file_len()) {
            return Err(Failure::Other(Error::field(
                &url,
                "safetensors data",
                format!("a file of {total} bytes"),
                format!("{} bytes, as its header describes", h.file_len()),
            )));
        }
        write_atomic(&cached, &bytes).map_err(Failure::Other)?;
        Ok(ShardSource::Prefix(cached))
    };
    // A few requests at a time: DeepSeek-V3 has 163 shards.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<std::result::Result<ShardSource, Failure>>>> =
        names.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..names.len().min(8) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(name) = names.get(i) else { break };
                let r = one(name);
                if let Ok(mut slot) = results[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(Failure::Other(Error::internal(
                    "a header fetch did not finish",
                )))
            })
        })
        .collect()
}

/// The cached copy, without the network.
fn from_cache(id: &HubId, repo: &Path, headers: bool) -> Result<Fetched> {
    let offline = |what: String| Error::Io {
        file: id.label(),
        reason: format!(
            "offline (HF_HUB_OFFLINE) and {what}; run once online, or unset HF_HUB_OFFLINE"
        ),
    };
    let commit = if is_commit(&id.revision) {
        id.revision.clone()
    } else {
        let r = repo.join("refs").join(&id.revision);
        std::fs::read_to_string(&r)
            .map(|c| c.trim().to_string())
            .map_err(|_| offline(format!("no cached copy ({} is missing)", r.display())))?
    };
    if !is_commit(&commit) && commit != id.revision.replace('/', "%2F") {
        return Err(Error::field(
            repo.join("refs").join(&id.revision).display(),
            "(contents)",
            format!("`{commit}`"),
            "a 40-hex commit id",
        ));
    }
    let snapshot = repo.join("snapshots").join(&commit);
    let config = snapshot.join("config.json");
    if !config.is_file() {
        return Err(offline(format!(
            "no cached copy ({} is missing)",
            config.display()
        )));
    }
    let mut f = Fetched {
        id: id.clone(),
        commit: commit.clone(),
        config,
        shards: None,
        notes: Vec::new(),
    };
    if !headers {
        return Ok(f);
    }
    let index = snapshot.join(INDEX_FILE);
    let names = if index.is_file() {
        let text = checkpoint::read_capped(&index, MAX_INDEX_BYTES)?;
        checkpoint::parse_index(&index.display().to_string(), &text)?.0
    } else if repo
        .join(".no_exist")
        .join(&commit)
        .join(INDEX_FILE)
        .is_file()
        || snapshot.join(SINGLE_FILE).is_file()
    {
        vec![SINGLE_FILE.to_string()]
    } else {
        f.notes.push(format!(
            "weights computed: the safetensors headers of {} are not in the cache (offline)",
            id.label()
        ));
        return Ok(f);
    };
    let heads = repo.join("kvsim-headers").join(&commit);
    let mut shards = Vec::with_capacity(names.len());
    for n in &names {
        let (whole, cached) = (snapshot.join(n), heads.join(format!("{n}.header")));
        if whole.is_file() {
            shards.push(ShardSource::File(whole));
        } else if cached.is_file() {
            shards.push(ShardSource::Prefix(cached));
        } else {
            f.notes.push(format!(
                "weights computed: the safetensors header of {n} ({}) is not in the cache (offline)",
                id.label()
            ));
            return Ok(f);
        }
    }
    f.shards = Some(shards);
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_parse_into_cache_names_and_urls() {
        let id = HubId::parse("hf:deepseek-ai/DeepSeek-V3").unwrap();
        assert_eq!(
            (id.repo.as_str(), id.revision.as_str()),
            ("deepseek-ai/DeepSeek-V3", "main")
        );
        assert_eq!(id.folder(), "models--deepseek-ai--DeepSeek-V3");
        assert_eq!(
            id.url("https://huggingface.co", "config.json"),
            "https://huggingface.co/deepseek-ai/DeepSeek-V3/resolve/main/config.json"
        );
        // A revision with slashes is one URL segment, as `quote(revision, safe="")` makes it.
        let pr = HubId::parse("hf:gpt2@refs/pr/1").unwrap();
        assert_eq!(pr.folder(), "models--gpt2");
        assert_eq!(
            pr.url("http://h", "x"),
            "http://h/gpt2/resolve/refs%2Fpr%2F1/x"
        );
        for bad in [
            "hf:",
            "hf:a/b/c",
            "hf:org/../x",
            "hf:org/na me",
            "hf:-org/x",
            "hf:org/x@",
            "hf:org/x@../../etc",
            "hf:org/x@a//b",
        ] {
            let e = HubId::parse(bad).unwrap_err().to_string();
            assert!(e.contains("--model"), "{bad}: {e}");
        }
        assert!(is_commit("0123456789abcdef0123456789abcdef01234567"));
        assert!(!is_commit("main"));
    }

    /// The token as huggingface_hub 2.4.0 finds it: HF_TOKEN, then HUGGING_FACE_HUB_TOKEN, then
    /// the token file under HF_HOME (or HF_TOKEN_PATH, or ~/.cache/huggingface/token).
    #[test]
    fn token_from_env_then_file() {
        let dir = std::env::temp_dir().join(format!("kvsim-token-{}", std::process::id()));
        let home = dir.join("home");
        let hf_home = dir.join("hf");
        std::fs::create_dir_all(home.join(".cache/huggingface")).unwrap();
        std::fs::create_dir_all(&hf_home).unwrap();
        std::fs::write(hf_home.join("token"), "hf_fromfile\r\n").unwrap();
        std::fs::write(home.join(".cache/huggingface/token"), " hf_home \n").unwrap();
        let vars = |pairs: Vec<(&'static str, String)>| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };
        let h = Some(home.clone());
        // The variable wins over the file; the legacy name is read when HF_TOKEN is absent.
        let env = vars(vec![
            ("HF_TOKEN", "hf_env".into()),
            ("HF_HOME", hf_home.display().to_string()),
        ]);
        assert_eq!(
            token_from(&env, h.clone()).unwrap().as_deref(),
            Some("hf_env")
        );
        let env = vars(vec![("HUGGING_FACE_HUB_TOKEN", "hf_old".into())]);
        assert_eq!(
            token_from(&env, h.clone()).unwrap().as_deref(),
            Some("hf_old")
        );
        // HF_HOME/token, cleaned of its line break.
        let env = vars(vec![("HF_HOME", hf_home.display().to_string())]);
        assert_eq!(
            token_from(&env, h.clone()).unwrap().as_deref(),
            Some("hf_fromfile")
        );
        // No HF_HOME: ~/.cache/huggingface/token.
        let env = vars(vec![]);
        assert_eq!(
            token_from(&env, h.clone()).unwrap().as_deref(),
            Some("hf_home")
        );
        // HF_TOKEN_PATH names the file; a missing file means no token.
        let env = vars(vec![(
            "HF_TOKEN_PATH",
            dir.join("none").display().to_string(),
        )]);
        assert_eq!(token_from(&env, h.clone()).unwrap(), None);
        // An oversized file is refused by name, not read whole.
        let big = dir.join("big");
        std::fs::write(&big, vec![b'x'; (MAX_TOKEN_FILE_BYTES + 10) as usize]).unwrap();
        let env = vars(vec![("HF_TOKEN_PATH", big.display().to_string())]);
        let e = token_from(&env, h.clone()).unwrap_err().to_string();
        assert!(e.contains("big") && e.contains("token file"), "{e}");
        // An empty file is no token.
        std::fs::write(&big, "\n").unwrap();
        assert_eq!(token_from(&env, h).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
