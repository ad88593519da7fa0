//! Turning a [`BodyPlan`] into bytes on the wire, and `-G` data into a query.
//!
//! Files and stdin are streamed (a 1 GB `-T` upload does not sit in memory);
//! a body made of several pieces is joined with `&` as curl does. Every byte
//! sent is counted for `%{size_upload}`.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::encode;
use crate::plan::{BodyPlan, Content, DataPiece, FormPart, FormValue};

/// A body ready to attach to one request.
pub struct BuiltBody {
    pub body: Option<reqwest::Body>,
    /// `Content-Length` to announce for a streamed file.
    pub length: Option<u64>,
    /// `Content-Type` the body needs (multipart boundary).
    pub content_type: Option<String>,
}

/// Local input that could not be read (exit 26, as curl's "read error").
#[derive(Debug)]
pub struct ReadError(pub String);

fn read_error(path: &Path, err: io::Error) -> ReadError {
    ReadError(format!("cannot read {}: {err}", path.display()))
}

/// Reads stdin at most once per process: a second `@-` sees it empty, like curl.
async fn read_stdin() -> Result<Vec<u8>, ReadError> {
    let mut buf = Vec::new();
    tokio::io::stdin()
        .read_to_end(&mut buf)
        .await
        .map_err(|e| ReadError(format!("cannot read stdin: {e}")))?;
    Ok(buf)
}

pub async fn read_content(content: &Content) -> Result<Vec<u8>, ReadError> {
    match content {
        Content::Text(t) => Ok(t.as_bytes().to_vec()),
        Content::File(path) => tokio::fs::read(path).await.map_err(|e| read_error(path, e)),
        Content::Stdin => read_stdin().await,
    }
}

async fn piece_bytes(piece: &DataPiece) -> Result<Vec<u8>, ReadError> {
    match piece {
        DataPiece::Verbatim(content) => read_content(content).await,
        DataPiece::Encoded { name, content } => {
            let raw = read_content(content).await?;
            let encoded = encode::curl_escape(&raw);
            Ok(match name {
                Some(name) => format!("{name}={encoded}").into_bytes(),
                None => encoded.into_bytes(),
            })
        }
    }
}

/// The `-G` projection: each data piece (split on `&`, empty pieces
/// dropped) made URL-safe, then `--data-urlencode` items, joined with `&`.
pub async fn query_from_data(pieces: &[DataPiece]) -> Result<String, ReadError> {
    let mut items = Vec::new();
    for piece in pieces {
        let bytes = piece_bytes(piece).await?;
        let text = String::from_utf8_lossy(&bytes);
        match piece {
            DataPiece::Verbatim(content) => {
                // A URL cannot carry the newline a file or a here-string ends with.
                let text = if matches!(content, Content::Text(_)) {
                    &text[..]
                } else {
                    text.trim_end_matches(['\r', '\n'])
                };
                items.extend(
                    text.split('&')
                        .filter(|s| !s.is_empty())
                        .map(encode::query_safe),
                );
            }
            DataPiece::Encoded { .. } => items.push(text.into_owned()),
        }
    }
    Ok(items.join("&"))
}

/// Counts the bytes of a stream as it is consumed.
fn counted<S>(stream: S, counter: Arc<AtomicU64>) -> impl Stream<Item = io::Result<Bytes>>
where
    S: Stream<Item = io::Result<Bytes>>,
{
    use futures_util::StreamExt;
    stream.inspect(move |chunk| {
        if let Ok(bytes) = chunk {
            counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        }
    })
}

/// A reader as a stream of chunks.
fn reader_stream<R>(reader: R) -> impl Stream<Item = io::Result<Bytes>>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    futures_util::stream::unfold(Some(reader), |state| async move {
        let mut reader = state?;
        let mut buf = BytesMut::with_capacity(64 * 1024);
        match reader.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buf.freeze()), Some(reader))),
            Err(e) => Some((Err(e), None)),
        }
    })
}

async fn stream_content(
    content: &Content,
    counter: &Arc<AtomicU64>,
) -> Result<BuiltBody, ReadError> {
    match content {
        Content::File(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| read_error(path, e))?;
            let length = file
                .metadata()
                .await
                .map_err(|e| read_error(path, e))?
                .len();
            Ok(BuiltBody {
                body: Some(reqwest::Body::wrap_stream(counted(
                    reader_stream(file),
                    counter.clone(),
                ))),
                length: Some(length),
                content_type: None,
            })
        }
        Content::Stdin => Ok(BuiltBody {
            body: Some(reqwest::Body::wrap_stream(counted(
                reader_stream(tokio::io::stdin()),
                counter.clone(),
            ))),
            length: None,
            content_type: None,
        }),
        Content::Text(t) => Ok(fixed(Bytes::from(t.clone().into_bytes()), counter)),
    }
}

fn fixed(bytes: Bytes, counter: &Arc<AtomicU64>) -> BuiltBody {
    counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    BuiltBody {
        body: Some(reqwest::Body::from(bytes)),
        length: None,
        content_type: None,
    }
}

/// Builds the body for one attempt; `counter` accumulates `size_upload`.
pub async fn build(plan: &BodyPlan, counter: &Arc<AtomicU64>) -> Result<BuiltBody, ReadError> {
    match plan {
        BodyPlan::Empty => Ok(BuiltBody {
            body: None,
            length: None,
            content_type: None,
        }),
        BodyPlan::Upload(content) => stream_content(content, counter).await,
        BodyPlan::Data(pieces) => {
            if let [DataPiece::Verbatim(content @ (Content::File(_) | Content::Stdin))] =
                pieces.as_slice()
            {
                return stream_content(content, counter).await;
            }
            let mut out = Vec::new();
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    out.push(b'&');
                }
                out.extend(piece_bytes(piece).await?);
            }
            Ok(fixed(Bytes::from(out), counter))
        }
        BodyPlan::Form(parts) => {
            let boundary = boundary();
            let bytes = multipart(parts, &boundary).await?;
            let mut built = fixed(Bytes::from(bytes), counter);
            built.content_type = Some(format!("multipart/form-data; boundary={boundary}"));
            Ok(built)
        }
    }
}

/// curl's boundary shape: 24 dashes and 16 hex digits.
fn boundary() -> String {
    let n: u64 = rand::random();
    format!("------------------------{n:016x}")
}

/// curl's guess from the file name (lib/mime.c); anything else is binary.
fn guess_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "txt" => "text/plain",
        "htm" | "html" => "text/html",
        "pdf" => "application/pdf",
        "xml" => "application/xml",
        _ => "application/octet-stream",
    }
}

fn quoted(s: &str) -> String {
    s.replace('"', "%22")
}

async fn multipart(parts: &[FormPart], boundary: &str) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    for part in parts {
        out.extend(format!("--{boundary}\r\n").as_bytes());
        let name = quoted(&part.name);
        match &part.value {
            FormValue::Text(text) => {
                out.extend(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
                out.extend(text.as_bytes());
            }
            FormValue::TextFromFile(path) => {
                out.extend(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
                out.extend(read_content(&Content::File(path.clone())).await?);
            }
            FormValue::File {
                path,
                filename,
                content_type,
            } => {
                let data = read_content(&Content::File(path.clone())).await?;
                // curl guesses from the file's own name, not `;filename=`.
                let ct = content_type
                    .clone()
                    .unwrap_or_else(|| guess_type(&path.to_string_lossy()).to_string());
                out.extend(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{}\"\r\nContent-Type: {ct}\r\n\r\n",
                        quoted(filename)
                    )
                    .as_bytes(),
                );
                out.extend(data);
            }
        }
        out.extend(b"\r\n");
    }
    out.extend(format!("--{boundary}--\r\n").as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_like_curl() {
        assert_eq!(guess_type("a.TXT"), "text/plain");
        assert_eq!(guess_type("pkg.zip"), "application/octet-stream");
        assert_eq!(guess_type("noext"), "application/octet-stream");
    }

    #[tokio::test]
    async fn get_projection() {
        let q = query_from_data(&[
            DataPiece::Verbatim(Content::Text("q=foo bar&&x=a%20b".into())),
            DataPiece::Encoded {
                name: Some("q".into()),
                content: Content::Text("a+b&c=d".into()),
            },
        ])
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q, "q=foo+bar&x=a%20b&q=a%2Bb%26c%3Dd");
    }

    #[tokio::test]
    async fn multipart_layout_matches_curl() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("f.txt");
        std::fs::write(&path, "l1\n").unwrap_or_else(|e| panic!("{e}"));
        let body = multipart(
            &[
                FormPart {
                    name: "a".into(),
                    value: FormValue::Text("b".into()),
                },
                FormPart {
                    name: "f".into(),
                    value: FormValue::File {
                        path,
                        filename: "f.txt".into(),
                        content_type: None,
                    },
                },
            ],
            "B",
        )
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            String::from_utf8_lossy(&body),
            "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nl1\n\r\n--B--\r\n"
        );
    }
}
