//! The websocket handshake for the live room, done here rather than by poem's extractor so the
//! room can hand one shared frame to every socket (tungstenite's `Utf8Bytes` is reference
//! counted) and size each connection's buffers: a room holds thousands of sockets.

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{IntoResponse, Request, Response};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::either::Either;

use super::protocol::MAX_FRAME_BYTES;
use crate::error::ApiError;

/// A room's socket: the TCP stream itself once taken over from poem (see `crate::realtime::handover`),
/// or poem's upgraded connection when the listener was not this process's own.
pub type Socket = WebSocketStream<Either<TcpStream, poem::Upgraded>>;

/// Per-connection buffers, which a room holds thousands of: a small read buffer (client frames
/// are short and rare; a longer one, up to the limit, grows it), writes gathered up to 4 KiB
/// before a system call (a room's frames are a few hundred bytes; the write buffer keeps the
/// size it grew to, so a larger one would cost every socket that much for good). Messages a little over the room's limit
/// are still read whole so the room can refuse them with 1009 and a reason; far larger ones
/// fail in the codec before they are buffered.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(4 * 1024 * 1024)
        .max_message_size(Some(4 * MAX_FRAME_BYTES))
        .max_frame_size(Some(4 * MAX_FRAME_BYTES))
}

/// Checks that the request asks for a websocket (RFC 6455 section 4.2.1) and answers 400 with
/// a problem otherwise.
pub fn check(req: &Request) -> Result<HeaderValue, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "websocket_expected",
            "This address is a websocket: send GET with Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key.",
        )
    };
    let has = |name: header::HeaderName, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if req.method() != Method::GET
        || !has(header::UPGRADE, "websocket")
        || !has(header::CONNECTION, "upgrade")
        || req.headers().get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13"))
    {
        return Err(bad());
    }
    let key = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(bad)?;
    HeaderValue::from_str(&derive_accept_key(key.as_bytes())).map_err(|_| bad())
}

/// Answers 101 and, once the connection is handed over, runs `serve` on the socket.
pub fn upgrade<F, Fut>(
    req: &Request,
    handover: &crate::realtime::handover::Handover,
    accept: HeaderValue,
    serve: F,
) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(on_upgrade) = req.take_upgrade() else {
        return ApiError::conflict("upgrade_unavailable", "This connection cannot be upgraded.")
            .into_response();
    };
    let claim = handover.claim(req.remote_addr());
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let socket = match claim {
            Some(claim) => {
                let Some((stream, early)) = claim.take_over(upgraded) else {
                    // Not expected: the client sees the socket close and reconnects.
                    tracing::warn!("an upgraded connection was not the one claimed; closed");
                    return;
                };
                WebSocketStream::from_partially_read(
                    Either::Left(stream),
                    early,
                    Role::Server,
                    Some(config()),
                )
                .await
            }
            None => {
                WebSocketStream::from_raw_socket(
                    Either::Right(upgraded),
                    Role::Server,
                    Some(config()),
                )
                .await
            }
        };
        serve(socket).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .finish()
}
