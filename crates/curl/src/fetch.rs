//! One reply read into memory, for the binary's own reply modes
//! (`--paginate`, `--jq`: docs/api-command.md#pages-and-jq). The request
//! goes through the same path as [`crate::execute`]: one client, `--retry`,
//! redirects followed by hand (`-L`), the `-v` trace, `--compressed`
//! decoding. Only the end differs: the body is returned, capped, instead of
//! being printed.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use reqwest::Url;

use crate::exec::{Bearer, Outcome, build_client, initial_url, send_with_retries};
use crate::output::{Decoder, Sink};
use crate::plan::RequestPlan;
use crate::writeout::Metrics;

/// A reply read in full.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Why no reply could be read: the stderr line and curl's exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    pub message: String,
    pub code: u8,
}

impl From<Outcome> for FetchError {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Done(code) => FetchError {
                message: String::new(),
                code,
            },
            Outcome::Net(err) => FetchError {
                message: err.message(),
                code: err.exit_code(),
            },
            Outcome::Local(message, code) => FetchError { message, code },
            Outcome::BrokenPipe => FetchError {
                message: String::new(),
                code: 0,
            },
        }
    }
}

/// Sends requests of one plan with one client (connections are reused
/// from one page to the next).
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    pub fn new(plan: &RequestPlan) -> Result<Self, FetchError> {
        let client = build_client(plan).map_err(|message| FetchError { message, code: 1 })?;
        Ok(Fetcher { client })
    }

    /// The plan's URL with any `-G` data in its query.
    pub async fn first_url(plan: &RequestPlan) -> Result<Url, FetchError> {
        Ok(initial_url(plan).await?)
    }

    /// Sends the plan's request to `url` and reads the reply, decoded,
    /// refusing bodies over `limit` bytes.
    pub async fn fetch(
        &self,
        plan: &RequestPlan,
        url: Url,
        bearer: &Bearer,
        stderr: &mut (dyn Write + Send),
        limit: usize,
    ) -> Result<Fetched, FetchError> {
        let mut metrics = Metrics::new(Instant::now(), url.as_str(), &plan.method);
        let upload = Arc::new(AtomicU64::new(0));
        // Headers of redirect hops (`-i`) are not part of these modes.
        let mut discard = io::sink();
        let mut sink = Sink::new(&mut discard, None);
        let mut response = send_with_retries(
            plan,
            &self.client,
            url.clone(),
            bearer,
            stderr,
            &mut sink,
            &mut metrics,
            &upload,
        )
        .await?;
        let status = response.status().as_u16();
        let header = |name: http::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(http::header::CONTENT_TYPE);
        let encoding = if plan.compressed {
            header(http::header::CONTENT_ENCODING)
        } else {
            None
        };
        let mut body = CappedBuffer::new(limit);
        let mut decoder = Decoder::new(&mut body, encoding.as_deref());
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => decoder.chunk(&chunk).map_err(|e| read_failure(&url, e))?,
                Ok(None) => break,
                Err(e) => {
                    return Err(Outcome::Net(crate::failure::classify(&e)).into());
                }
            }
        }
        decoder.finish().map_err(|e| read_failure(&url, e))?;
        Ok(Fetched {
            status,
            content_type,
            body: body.bytes,
        })
    }
}

/// A reply over the cap, or a compressed body that does not decode (61).
fn read_failure(url: &Url, e: io::Error) -> FetchError {
    if e.kind() == io::ErrorKind::OutOfMemory {
        return FetchError {
            message: format!("the reply of {} is {e}", url.path()),
            code: 1,
        };
    }
    FetchError {
        message: format!("Error while processing content unencoding: {e}"),
        code: 61,
    }
}

/// Bytes in memory, refusing to grow past `limit`.
struct CappedBuffer {
    bytes: Vec<u8>,
    limit: usize,
}

impl CappedBuffer {
    fn new(limit: usize) -> Self {
        CappedBuffer {
            bytes: Vec::new(),
            limit,
        }
    }
}

impl Write for CappedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("larger than {} MiB", self.limit >> 20),
            ));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_buffer_refuses_to_grow_past_its_limit() {
        let mut buffer = CappedBuffer::new(4);
        assert!(buffer.write_all(b"abcd").is_ok());
        let err = buffer.write_all(b"e").err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::OutOfMemory));
        assert_eq!(buffer.bytes, b"abcd");
    }
}
