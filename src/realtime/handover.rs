//! The listener, and the live room taking its websockets' connections back from poem.
//!
//! poem serves every connection through layers made for HTTP: it boxes the connection and
//! splits it into two halves behind a shared lock, and hyper wraps it again (twice) for an
//! upgrade. A live room writes a small frame to each of thousands of sockets many times a
//! second, so every write through those layers counts: at 2,000 participants × 50 messages a
//! second they were about 3.5% of the process's CPU (perf), on cores the room saturates.
//!
//! Each accepted connection is registered here under its peer's address. The request, the
//! upgrade's checks (ticket, Origin, limits, request id, metrics) and its `101` answer still go
//! through poem; once hyper has handed the connection over, the room claims it
//! ([`Claim::take_over`]): the bytes hyper had already read past the request are kept, poem's
//! layers are dropped, and the room reads and writes the TCP stream itself.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use poem::http::uri::Scheme;
use poem::listener::{Acceptor, TcpAcceptor};
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The connections open to this process, by peer address, that an upgrade may claim.
#[derive(Default)]
pub struct Handover {
    open: Mutex<HashMap<SocketAddr, Arc<Claim>>>,
}

impl Handover {
    fn open(&self) -> MutexGuard<'_, HashMap<SocketAddr, Arc<Claim>>> {
        // The map holds no invariant a panic could break half-way.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The claim on the connection a request came in on, when this process's listener accepted it.
    pub fn claim(&self, peer: &RemoteAddr) -> Option<Arc<Claim>> {
        let peer = peer.as_socket_addr()?;
        self.open().get(peer).cloned()
    }
}

/// One connection's way out of poem.
#[derive(Default)]
pub struct Claim {
    /// Set once the upgrade is answered: the connection then reads nothing more for poem.
    claimed: AtomicBool,
    /// Where the connection leaves its stream when poem lets go of it, once claimed.
    stream: Mutex<Option<TcpStream>>,
}

impl Claim {
    /// Takes the TCP stream out of a connection poem has upgraded, with the bytes already read
    /// past the request (a client may send its first frames right behind the handshake).
    /// `None` only if the upgraded connection was not the one claimed: then it is closed.
    pub fn take_over(&self, mut upgraded: poem::Upgraded) -> Option<(TcpStream, Vec<u8>)> {
        self.claimed.store(true, Ordering::Release);
        // Reads now stop at the socket: what a read still returns was buffered by hyper.
        let mut early = Vec::new();
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        let mut buf = [0u8; 4096];
        loop {
            let mut read = ReadBuf::new(&mut buf);
            match Pin::new(&mut upgraded).poll_read(&mut cx, &mut read) {
                Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                    early.extend_from_slice(read.filled())
                }
                _ => break,
            }
        }
        // Dropping poem's layers drops the connection, which leaves its stream in the claim.
        drop(upgraded);
        let stream = self
            .stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        Some((stream, early))
    }
}

/// An accepted connection as poem serves it: the TCP stream, until an upgrade claims it.
pub struct Conn {
    stream: Option<TcpStream>,
    peer: Option<SocketAddr>,
    claim: Arc<Claim>,
    handover: Arc<Handover>,
}

impl Conn {
    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        self.stream
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(peer) = self.peer {
            let mut open = self.handover.open();
            // A later connection from the same address and port keeps its own entry.
            if open.get(&peer).is_some_and(|c| Arc::ptr_eq(c, &self.claim)) {
                open.remove(&peer);
            }
        }
        if self.claim.claimed.load(Ordering::Acquire) {
            *self.claim.stream.lock().unwrap_or_else(|e| e.into_inner()) = self.stream.take();
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.claim.claimed.load(Ordering::Acquire) {
            // Claimed: whatever the socket receives now is the room's.
            return Poll::Pending;
        }
        this.stream()?.poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().stream()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().stream()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream()?.poll_shutdown(cx)
    }
}

/// Accepts TCP connections with Nagle's algorithm off (`TCP_NODELAY`) and registers each in
/// the handover. A live room writes small frames to each socket as they come; with Nagle on, a
/// frame written while the client has not yet acknowledged the one before waits for that
/// acknowledgement, which the client delays (up to 40 ms on Linux). Responses are written
/// whole, so HTTP loses nothing by it.
pub struct Listener {
    tcp: TcpAcceptor,
    handover: Arc<Handover>,
}

impl Listener {
    pub fn new(listener: tokio::net::TcpListener, handover: Arc<Handover>) -> io::Result<Self> {
        Ok(Self {
            tcp: TcpAcceptor::from_tokio(listener)?,
            handover,
        })
    }
}

impl Acceptor for Listener {
    type Io = Conn;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.tcp.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Conn, LocalAddr, RemoteAddr, Scheme)> {
        let (stream, local, remote, scheme) = self.tcp.accept().await?;
        // A socket that refuses the option still works, with Nagle's delays.
        let _ = stream.set_nodelay(true);
        let peer = remote.as_socket_addr().copied();
        let claim = Arc::new(Claim::default());
        if let Some(peer) = peer {
            self.handover.open().insert(peer, claim.clone());
        }
        let conn = Conn {
            stream: Some(stream),
            peer,
            claim,
            handover: self.handover.clone(),
        };
        Ok((conn, local, remote, scheme))
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use poem::web::Data;
    use poem::{EndpointExt, Request, Response, Route, Server, get, handler};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::Role;

    use super::*;

    /// Echoes text frames, through the room's own handshake and take-over.
    #[handler]
    fn echo(req: &Request, Data(handover): Data<&Arc<Handover>>) -> Response {
        let accept = match crate::realtime::socket::check(req) {
            Ok(accept) => accept,
            Err(e) => return poem::IntoResponse::into_response(e),
        };
        crate::realtime::socket::upgrade(req, handover, accept, |mut socket| async move {
            while let Some(Ok(m)) = socket.next().await {
                if m.is_text() && socket.send(m).await.is_err() {
                    break;
                }
            }
        })
    }

    /// A client's text frame, masked as RFC 6455 requires of clients.
    fn client_frame(text: &str) -> Vec<u8> {
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x81, 0x80 | text.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        frame
    }

    /// Serves `app` through this module's listener on a port of its own.
    async fn serve(handover: &Arc<Handover>, app: impl poem::Endpoint + 'static) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = Listener::new(listener, handover.clone()).unwrap();
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        addr
    }

    /// The next frame back; a frame lost in the take-over would leave the client waiting, so
    /// the wait is bounded.
    async fn echo_of(client: &mut WebSocketStream<TcpStream>) -> Message {
        tokio::time::timeout(std::time::Duration::from_secs(10), client.next())
            .await
            .expect("the echo came back")
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn an_upgrade_takes_the_stream_over_with_what_the_client_sent_behind_its_request() {
        let handover = Arc::new(Handover::default());
        let app = Route::new().at("/ws", get(echo)).data(handover.clone());
        let addr = serve(&handover, app).await;

        // The handshake and a first frame in one write: hyper reads both before the upgrade.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let mut sent = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .into_bytes();
        sent.extend(client_frame("sent early"));
        tcp.write_all(&sent).await.unwrap();
        // The answer's head, byte by byte so nothing after it is read here.
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tcp.read_u8().await.unwrap());
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");

        let mut client = WebSocketStream::from_raw_socket(tcp, Role::Client, None).await;
        assert_eq!(echo_of(&mut client).await, Message::text("sent early"));
        client.send(Message::text("sent after")).await.unwrap();
        assert_eq!(echo_of(&mut client).await, Message::text("sent after"));
        // Taken over: poem let go of the connection, so the listener's entry for it is gone.
        assert!(handover.open().is_empty());
    }

    #[tokio::test]
    async fn plain_requests_are_served_and_forgotten_when_their_connection_closes() {
        let handover = Arc::new(Handover::default());
        let app = Route::new().at("/", get(poem::endpoint::make_sync(|_| "hello")));
        let addr = serve(&handover, app).await;

        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
        // The server closed the connection after answering; its entry goes with it.
        let peer = tcp.local_addr().unwrap();
        drop(tcp);
        let mut waited = 0;
        while handover.open().contains_key(&peer) {
            assert!(waited < 1000, "the closed connection is still registered");
            waited += 1;
            tokio::task::yield_now().await;
        }
    }
}
