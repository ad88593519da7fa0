//! Where response bytes go: stdout or the `-o` file, through a decoder
//! when `--compressed` asked for one. Each chunk reaches stdout as it
//! arrives (server-sent events are never batched).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use flate2::write::{GzDecoder, ZlibDecoder};

/// The response sink: stdout, or a file opened on first write.
pub struct Sink<'a> {
    stdout: &'a mut (dyn Write + Send),
    file: Option<(PathBuf, Option<BufWriter<File>>)>,
    /// Body bytes delivered (after decoding).
    pub written: u64,
    /// Set when writing to stdout failed because the reader went away.
    pub broken_pipe: bool,
}

/// A failure writing the response (curl exit 23), or a closed stdout.
#[derive(Debug)]
pub enum WriteFailure {
    BrokenPipe,
    Failed(String),
}

impl<'a> Sink<'a> {
    pub fn new(stdout: &'a mut (dyn Write + Send), file: Option<PathBuf>) -> Self {
        Sink {
            stdout,
            file: file.map(|p| (p, None)),
            written: 0,
            broken_pipe: false,
        }
    }

    /// Creates (truncates) the `-o` file now, even if no byte follows.
    pub fn open(&mut self) -> io::Result<()> {
        if let Some((path, handle @ None)) = &mut self.file {
            *handle = Some(BufWriter::with_capacity(256 * 1024, File::create(path)?));
        }
        Ok(())
    }

    fn target(&mut self) -> io::Result<&mut dyn Write> {
        self.open()?;
        Ok(match &mut self.file {
            Some((_, Some(f))) => f,
            _ => self.stdout,
        })
    }

    /// Writes response headers (`-i`/`-I`) to the same place as the body.
    pub fn write_meta(&mut self, bytes: &[u8]) -> Result<(), WriteFailure> {
        let r = self.target().and_then(|t| {
            t.write_all(bytes)?;
            t.flush()
        });
        self.check(r)
    }

    pub fn finish(&mut self) -> Result<(), WriteFailure> {
        let r = self.target().and_then(|t| t.flush());
        self.check(r)
    }

    fn check(&mut self, r: io::Result<()>) -> Result<(), WriteFailure> {
        r.map_err(|e| {
            if e.kind() == io::ErrorKind::BrokenPipe {
                self.broken_pipe = true;
                WriteFailure::BrokenPipe
            } else {
                let what = match &self.file {
                    Some((p, _)) => format!("Failed writing body to {}: {e}", p.display()),
                    None => format!("Failed writing body: {e}"),
                };
                WriteFailure::Failed(what)
            }
        })
    }

    pub fn failure(&self, e: io::Error) -> WriteFailure {
        if e.kind() == io::ErrorKind::BrokenPipe || self.broken_pipe {
            return WriteFailure::BrokenPipe;
        }
        match &self.file {
            Some((p, _)) => {
                WriteFailure::Failed(format!("Failed writing body to {}: {e}", p.display()))
            }
            None => WriteFailure::Failed(format!("Failed writing body: {e}")),
        }
    }

    fn to_stdout(&self) -> bool {
        self.file.is_none()
    }
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let t = self.target()?;
        t.write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Files are flushed at the end; stdout after every chunk.
        if self.to_stdout() {
            self.stdout.flush()
        } else {
            Ok(())
        }
    }
}

/// Decodes a `Content-Encoding` as chunks arrive.
pub enum Decoder<W: Write> {
    Identity(W),
    Gzip(GzDecoder<W>),
    Deflate(ZlibDecoder<W>),
    Brotli(Box<brotli::DecompressorWriter<W>>),
}

impl<W: Write> Decoder<W> {
    /// `encoding` is the response's `Content-Encoding`; `None` when
    /// `--compressed` was not given (curl then passes bytes through).
    pub fn new(inner: W, encoding: Option<&str>) -> Self {
        match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
            Some("gzip" | "x-gzip") => Decoder::Gzip(GzDecoder::new(inner)),
            Some("deflate") => Decoder::Deflate(ZlibDecoder::new(inner)),
            Some("br") => {
                Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(inner, 64 * 1024)))
            }
            _ => Decoder::Identity(inner),
        }
    }

    /// Feeds one chunk and pushes whatever it decodes to the sink.
    pub fn chunk(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Decoder::Identity(w) => {
                w.write_all(bytes)?;
                w.flush()
            }
            Decoder::Gzip(d) => {
                d.write_all(bytes)?;
                d.flush()
            }
            Decoder::Deflate(d) => {
                d.write_all(bytes)?;
                d.flush()
            }
            Decoder::Brotli(d) => {
                d.write_all(bytes)?;
                d.flush()
            }
        }
    }

    pub fn finish(self) -> io::Result<()> {
        match self {
            Decoder::Identity(mut w) => w.flush(),
            Decoder::Gzip(d) => d.finish().map(|_| ()),
            Decoder::Deflate(d) => d.finish().map(|_| ()),
            Decoder::Brotli(d) => d
                .into_inner()
                .map(|_| ())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "truncated brotli stream")),
        }
    }
}
