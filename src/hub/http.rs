//! The few HTTP requests the hub needs: a GET of a small file and ranged GETs of a safetensors
//! header, with timeouts, a cap on redirects and a cap on the bytes read. Redirects are followed
//! here (not by the client) so the repository's commit header of the first answer is kept, a
//! loop is named as such, and the token goes only to the endpoint's own host (as `requests`
//! does for `huggingface_hub`).

use crate::error::Error;
use std::io::Read;
use std::time::Duration;
use ureq::Agent;

/// Most redirects followed for one file (a renamed repository, then the CDN).
pub const MAX_REDIRECTS: usize = 5;

/// A configured client.
#[derive(Clone)]
pub struct Client {
    agent: Agent,
    /// `scheme://host[:port]` of the endpoint: the only origin that receives the token.
    origin: String,
    token: Option<String>,
    timeout: Duration,
}

/// A successful answer: status, the commit header, `Content-Range` total, and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub commit: Option<String>,
    /// The whole file's size from `Content-Range: bytes a-b/TOTAL`.
    pub total: Option<u64>,
    pub body: Vec<u8>,
}

/// Why a request failed.
#[derive(Debug)]
pub enum Failure {
    /// 404: the repository, revision or file does not exist.
    NotFound(Error),
    Other(Error),
}

impl Failure {
    pub fn into_error(self) -> Error {
        match self {
            Failure::NotFound(e) | Failure::Other(e) => e,
        }
    }
}

fn net(url: &str, reason: impl std::fmt::Display) -> Error {
    Error::Io {
        file: url.to_string(),
        reason: reason.to_string(),
    }
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    &url[..end]
}

/// The absolute URL a `Location` header points to.
fn join(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else if location.starts_with('/') {
        format!("{}{location}", origin(base))
    } else {
        let dir = base.rsplit_once('/').map_or(base, |(d, _)| d);
        format!("{dir}/{location}")
    }
}

impl Client {
    /// A client for `endpoint` sending `token` to it; `timeout` bounds connecting and each read.
    pub fn new(endpoint: &str, token: Option<String>, timeout: Duration) -> Client {
        let agent: Agent = Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_connect(Some(timeout))
            .timeout_per_read(Some(timeout))
            .timeout_per_write(Some(timeout))
            .timeout_global(Some(Duration::from_secs(300).max(timeout)))
            .user_agent(concat!("kvsim/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            origin: origin(endpoint).to_string(),
            token,
            timeout,
        }
    }

    /// GETs `url` (with `range`, e.g. `bytes=0-7`, when given), reading at most `cap` bytes of
    /// body: a longer body is refused (or, for a range the server ignored, cut at `cap`).
    pub fn get(
        &self,
        url: &str,
        range: Option<(u64, u64)>,
        cap: u64,
    ) -> std::result::Result<Answer, Failure> {
        let mut at = url.to_string();
        let mut seen = vec![at.clone()];
        let mut commit = None;
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self.agent.get(&at);
            if let Some((a, b)) = range {
                req = req.header("Range", format!("bytes={a}-{b}"));
            }
            if let Some(t) = self.token.as_ref().filter(|_| origin(&at) == self.origin) {
                req = req.header("Authorization", format!("Bearer {t}"));
            }
            let mut resp = req
                .call()
                .map_err(|e| Failure::Other(self.transport(&at, e)))?;
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            if commit.is_none() {
                commit = header("x-repo-commit");
            }
            if (300..400).contains(&status) {
                let loc = header("location").ok_or_else(|| {
                    Failure::Other(net(&at, format!("HTTP {status} without a Location header")))
                })?;
                let next = join(&at, &loc);
                if seen.contains(&next) {
                    return Err(Failure::Other(net(
                        url,
                        format!("a redirect loop ({} → {next})", at),
                    )));
                }
                seen.push(next.clone());
                at = next;
                continue;
            }
            if !(200..300).contains(&status) {
                let code = header("x-error-code");
                let message = header("x-error-message");
                return Err(self.status_error(url, status, code.as_deref(), message.as_deref()));
            }
            let total = header("content-range")
                .and_then(|v| v.rsplit_once('/').and_then(|(_, t)| t.trim().parse().ok()));
            if let Some(len) = header("content-length").and_then(|v| v.parse::<u64>().ok()) {
                if len > cap && range.is_none() {
                    return Err(Failure::Other(net(
                        url,
                        format!(
                            "the file is {len} bytes; kvsim reads at most {} MiB",
                            cap >> 20
                        ),
                    )));
                }
            }
            let mut body = Vec::new();
            resp.body_mut()
                .as_reader()
                .take(cap + 1)
                .read_to_end(&mut body)
                .map_err(|e| Failure::Other(self.read_error(url, e)))?;
            if body.len() as u64 > cap {
                if range.is_some() {
                    // A server that ignores Range sends the whole file: keep what was asked for.
                    body.truncate(cap as usize);
                } else {
                    return Err(Failure::Other(net(
                        url,
                        format!("the file is over {} MiB, the most kvsim reads", cap >> 20),
                    )));
                }
            }
            return Ok(Answer {
                status,
                commit,
                total,
                body,
            });
        }
        Err(Failure::Other(net(
            url,
            format!("more than {MAX_REDIRECTS} redirects (a redirect loop?)"),
        )))
    }

    fn timeout_hint(&self) -> String {
        format!(
            "no answer within {} s (HF_HUB_DOWNLOAD_TIMEOUT); check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache",
            self.timeout.as_secs_f64()
        )
    }

    fn transport(&self, url: &str, e: ureq::Error) -> Error {
        match e {
            ureq::Error::Timeout(_) => net(url, self.timeout_hint()),
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => net(url, self.timeout_hint()),
            e => net(
                url,
                format!("{e}; check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache"),
            ),
        }
    }

    fn read_error(&self, url: &str, e: std::io::Error) -> Error {
        let timed_out = matches!(
            e.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ) || e.to_string().contains("timeout");
        if timed_out {
            net(url, self.timeout_hint())
        } else {
            net(url, format!("reading the answer: {e}"))
        }
    }

    fn status_error(
        &self,
        url: &str,
        status: u16,
        code: Option<&str>,
        message: Option<&str>,
    ) -> Failure {
        let detail = message.map(|m| format!(" ({m})")).unwrap_or_default();
        let token = if self.token.is_some() {
            "the HF_TOKEN sent was refused"
        } else {
            "set HF_TOKEN to a token with access"
        };
        let reason = match (status, code) {
            (401, _) | (403, Some("GatedRepo")) => format!(
                "HTTP {status}{detail}: the repository is gated or private (or does not exist); {token}"
            ),
            (403, _) => format!(
                "HTTP 403 Forbidden{detail}: access not granted; {token}, and accept the model's conditions on its page"
            ),
            (404, _) => {
                let what = match code {
                    Some("RevisionNotFound") => "no such revision",
                    Some("EntryNotFound") => "no such file in the repository",
                    Some("RepoNotFound") => "no such repository",
                    _ => "no such repository, revision or file",
                };
                return Failure::NotFound(net(url, format!("HTTP 404 Not Found{detail}: {what}")));
            }
            (s, _) => format!("HTTP {s}{detail}"),
        };
        Failure::Other(net(url, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_resolve_against_the_current_url() {
        assert_eq!(
            origin("https://huggingface.co/a/b/resolve/main/x"),
            "https://huggingface.co"
        );
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            join(
                "https://huggingface.co/a/b/resolve/main/x",
                "/c/d/resolve/main/x"
            ),
            "https://huggingface.co/c/d/resolve/main/x"
        );
        assert_eq!(join("https://h/a/b", "https://cdn/z"), "https://cdn/z");
        assert_eq!(join("https://h/a/b", "c"), "https://h/a/c");
    }
}
