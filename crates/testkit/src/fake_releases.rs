//! A stand-in for GitHub Releases on 127.0.0.1: `/latest` answers
//! `{"tag_name": …}` and `/download/<tag>/<file>` serves release assets.
//! An asset can be served truncated (the full `Content-Length`, half the
//! body, then the connection closes) to exercise broken downloads.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
struct Asset {
    body: Vec<u8>,
    truncated: bool,
}

pub struct FakeReleases {
    port: u16,
    assets: Arc<Mutex<HashMap<String, Asset>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeReleases {
    pub fn start(latest_tag: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let assets: Arc<Mutex<HashMap<String, Asset>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let latest = format!("{{\"tag_name\":\"{latest_tag}\",\"name\":\"{latest_tag}\"}}");
        let (a, r) = (assets.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (a, r, latest) = (a.clone(), r.clone(), latest.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(match stream.try_clone() {
                        Ok(s) => s,
                        Err(_) => return,
                    });
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                            break;
                        }
                    }
                    if let Ok(mut log) = r.lock() {
                        log.push(path.clone());
                    }
                    let mut stream = stream;
                    let asset = if path == "/latest" {
                        Some(Asset {
                            body: latest.into_bytes(),
                            truncated: false,
                        })
                    } else {
                        path.strip_prefix("/download/")
                            .and_then(|p| a.lock().ok()?.get(p).cloned())
                    };
                    match asset {
                        Some(asset) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                                asset.body.len()
                            );
                            let _ = stream.write_all(head.as_bytes());
                            let end = if asset.truncated {
                                asset.body.len() / 2
                            } else {
                                asset.body.len()
                            };
                            let _ = stream.write_all(&asset.body[..end]);
                        }
                        None => {
                            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        }
                    }
                    let _ = stream.flush();
                });
            }
        });
        Ok(FakeReleases {
            port,
            assets,
            requests,
        })
    }

    /// Serves `body` at `<download>/<tag>/<name>`.
    pub fn add(&self, tag: &str, name: &str, body: &[u8]) {
        self.insert(tag, name, body, false);
    }

    /// Serves `body` cut in half under a full `Content-Length`.
    pub fn add_truncated(&self, tag: &str, name: &str, body: &[u8]) {
        self.insert(tag, name, body, true);
    }

    fn insert(&self, tag: &str, name: &str, body: &[u8], truncated: bool) {
        if let Ok(mut assets) = self.assets.lock() {
            assets.insert(
                format!("{tag}/{name}"),
                Asset {
                    body: body.to_vec(),
                    truncated,
                },
            );
        }
    }

    /// For `APPSTRATE_RELEASES_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// For `APPSTRATE_RELEASES_DOWNLOAD_URL`.
    pub fn download_url(&self) -> String {
        format!("http://127.0.0.1:{}/download", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
