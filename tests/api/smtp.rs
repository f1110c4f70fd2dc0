//! A small but real SMTP server on loopback for the tests: it speaks enough of RFC 5321
//! (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for lettre to deliver to it, keeps every
//! message it accepted, and can be stopped and started again on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

#[derive(Clone, Debug)]
pub struct Received {
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

impl Received {
    /// The decoded text/plain part.
    pub fn text(&self) -> String {
        let parsed = mailparse::parse_mail(&self.raw).expect("a well-formed message");
        fn find(part: &mailparse::ParsedMail) -> Option<String> {
            if part.ctype.mimetype == "text/plain" {
                return part.get_body().ok();
            }
            part.subparts.iter().find_map(find)
        }
        find(&parsed).unwrap_or_default()
    }

    pub fn subject(&self) -> String {
        let parsed = mailparse::parse_mail(&self.raw).expect("a well-formed message");
        parsed
            .headers
            .iter()
            .find(|h| h.get_key().eq_ignore_ascii_case("subject"))
            .map(|h| h.get_value())
            .unwrap_or_default()
    }
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let addr = listener.local_addr().unwrap();
        let server = Self {
            addr,
            messages: Arc::default(),
            arrived: Arc::new(Notify::new()),
            task: Mutex::new(None),
        };
        server.serve(listener);
        server
    }

    fn serve(&self, listener: TcpListener) {
        let messages = self.messages.clone();
        let arrived = self.arrived.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let messages = messages.clone();
                let arrived = arrived.clone();
                tokio::spawn(async move {
                    let _ = session(stream, messages, arrived).await;
                });
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// Goes silent: connections are accepted and held, but nothing is ever said (no greeting),
    /// until `stop` and `resume`.
    pub async fn hang(&self) {
        self.stop();
        let listener = self.rebind().await;
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    /// Stops listening: connections are refused until `resume`.
    pub fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }

    pub async fn resume(&self) {
        let listener = self.rebind().await;
        self.serve(listener);
    }

    /// Listens on the server's address again (the old socket may take a moment to let go).
    async fn rebind(&self) -> TcpListener {
        let mut tries = 0;
        loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => return l,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot rebind smtp port: {e}"),
            }
        }
    }

    pub fn all(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    pub fn to(&self, address: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .collect()
    }

    /// Waits until `count` messages to `address` have arrived, or fails after `timeout`.
    pub async fn wait_for(&self, address: &str, count: usize, timeout: Duration) -> Vec<Received> {
        self.wait_matching(address, count, timeout, |_| true).await
    }

    /// Waits until `count` messages to `address` satisfy `matches`; returns those messages.
    pub async fn wait_matching(
        &self,
        address: &str,
        count: usize,
        timeout: Duration,
        matches: impl Fn(&Received) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let got: Vec<Received> = self
                .to(address)
                .into_iter()
                .filter(|m| matches(m))
                .collect();
            if got.len() >= count {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {count} matching message(s) to {address} within {timeout:?}, got {} of {}",
                    got.len(),
                    self.to(address).len()
                );
            }
        }
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    messages: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test-smtp ready\r\n").await?;
    let mut to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.trim_end().to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            write
                .write_all(b"250-test-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                .await?;
        } else if upper.starts_with("HELO")
            || upper.starts_with("MAIL FROM")
            || upper.starts_with("NOOP")
        {
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RSET") {
            to.clear();
            write.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO") {
            let addr = line.trim_end()[8..].trim().trim_start_matches('<');
            let addr = addr.split('>').next().unwrap_or_default().to_string();
            if addr.starts_with("bounce") {
                write.write_all(b"550 5.1.1 no such mailbox\r\n").await?;
            } else {
                to.push(addr);
                write.write_all(b"250 OK\r\n").await?;
            }
        } else if upper == "DATA" {
            write.write_all(b"354 end with .\r\n").await?;
            let mut raw = Vec::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                let content = line
                    .strip_prefix('.')
                    .filter(|_| line.starts_with(".."))
                    .unwrap_or(&line);
                raw.extend_from_slice(content.as_bytes());
            }
            messages.lock().unwrap().push(Received {
                to: std::mem::take(&mut to),
                raw,
            });
            arrived.notify_waiters();
            write.write_all(b"250 OK queued\r\n").await?;
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"502 not implemented\r\n").await?;
        }
    }
}
