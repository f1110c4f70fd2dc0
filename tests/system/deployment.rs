//! The deployment of `deploy/nginx.conf`: nginx in front of two `yishi serve` processes on one
//! PostgreSQL database. The repository's file is used as it is, but for the addresses and
//! TLS (the test listens on plain HTTP on a free port).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::smtp::SmtpServer;
use crate::support::{
    Options, TestApp, free_port, fresh_postgres_database, id, serve_with, spawn_app_at, wait_ready,
};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The repository's server block with the test's addresses, and without TLS.
fn site_config(port: u16, upstreams: [&str; 2]) -> String {
    let conf = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf"))
        .expect("deploy/nginx.conf");
    assert!(conf.contains("server 127.0.0.1:8080") && conf.contains("server 127.0.0.1:8081"));
    let conf = conf
        .replace("server 127.0.0.1:8080", &format!("server {}", upstreams[0]))
        .replace("server 127.0.0.1:8081", &format!("server {}", upstreams[1]));
    // The port-80 redirect is left out; the TLS server listens on the test's port in clear.
    let (_, tls_server) = conf
        .split_once("    return 301 https://$host$request_uri;\n}\n")
        .expect("the redirect server block");
    let upstream_and_map = &conf[..conf.find("server {").expect("a server block")];
    let tls_server = tls_server
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            !(l.starts_with("ssl_") || l.starts_with("http2") || l.starts_with("add_header"))
        })
        .map(|l| {
            if l.trim_start().starts_with("listen 443") {
                format!("    listen 127.0.0.1:{port};")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("{upstream_and_map}{tls_server}\n")
}

/// nginx with the site, in a folder of its own; stopped when dropped.
struct Nginx {
    child: Child,
    dir: std::path::PathBuf,
    base: String,
}

impl Nginx {
    async fn start(upstreams: [&str; 2]) -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("yishi-nginx-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::write(dir.join("yishi.conf"), site_config(port, upstreams)).unwrap();
        std::fs::write(
            dir.join("nginx.conf"),
            format!(
                "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
                 include {d}/yishi.conf;\n}}\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx (apt-get install nginx)");
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&base, "nginx").await;
        Self { child, dir, base }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The number of open live-room sockets a process reports on `/metrics`.
async fn live_sockets(backend: &str) -> i64 {
    let text = reqwest::get(format!("{backend}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("yishi_live_sockets "))
        .and_then(|v| v.trim().parse().ok())
        .expect("yishi_live_sockets in /metrics")
}

async fn join(client: &reqwest::Client, base: &str, token: &str, sid: &str) -> Socket {
    let ticket = client
        .post(format!("{base}/api/v1/sessions/{sid}/tickets"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!(
        "{}/api/v1/sessions/{sid}/live?ticket={ticket}",
        base.replace("http://", "ws://")
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the upgrade passes nginx");
    next_matching(&mut socket, |f| f["type"] == "welcome").await;
    socket
}

async fn next_matching(socket: &mut Socket, want: impl Fn(&Value) -> bool) -> Value {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if want(&v) {
                        return v;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("the socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("the frame arrives")
}

#[tokio::test]
async fn two_processes_behind_the_repositorys_nginx_share_sign_ins_and_the_live_room() {
    let admin_url = std::env::var("YISHI_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let url = fresh_postgres_database(admin_url).await;
    let smtp = Arc::new(SmtpServer::start().await);
    // The people and an open session are made through an in-process server on the database.
    let setup: TestApp = spawn_app_at(Options::default(), smtp, url.clone()).await;
    let w = setup.world().await;
    let at = |h: i64| (chrono::Utc::now() + chrono::Duration::hours(h)).to_rfc3339();
    let sid = id(setup
        .post(
            "/sessions",
            Some(&w.secretary_a),
            json!({ "community_id": w.community_a, "title": "议事会", "purpose": "东门路灯",
                    "starts_at": at(72), "ends_at": at(74), "online": true,
                    "agenda": [{ "title": "东门路灯" }], "invited": { "all_residents": true } }),
        )
        .await
        .ok(201));
    for step in ["schedule", "open"] {
        setup
            .post(
                &format!("/sessions/{sid}/{step}"),
                Some(&w.secretary_a),
                json!({}),
            )
            .await
            .ok(200);
    }

    let email = format!("proxy-{}@example.org", uuid::Uuid::new_v4().simple());
    setup.verified_user(&email, "经由代理的居民").await;
    setup
        .grant(&w.admin, &w.community_a, &email, "resident")
        .await;

    let port_hint = free_port();
    let public = format!("http://127.0.0.1:{port_hint}");
    let env = [("YISHI_PUBLIC_URL", public.as_str())];
    let (a, a_base) = serve_with(&url, &env).await;
    let (b, b_base) = serve_with(&url, &env).await;
    let (_a, _b) = (Killed(a), Killed(b));
    let nginx = Nginx::start([
        a_base.trim_start_matches("http://"),
        b_base.trim_start_matches("http://"),
    ])
    .await;
    let client = reqwest::Client::new();

    // A sign-in made through one process holds on whichever process answers next.
    let signed_in = client
        .post(format!("{}/api/v1/accounts/sessions", nginx.base))
        .json(&json!({ "email": email, "password": crate::support::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 201);
    let token = signed_in.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..6 {
        let me = client
            .get(format!("{}/api/v1/accounts/me", nginx.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
        assert!(me.headers().contains_key("x-request-id"));
    }
    // The metrics stay inside.
    let metrics = client
        .get(format!("{}/metrics", nginx.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 403);

    // Two people in the room through nginx, on different processes.
    let mut chair = join(&client, &nginx.base, &w.secretary_a, &sid).await;
    let mut resident = join(&client, &nginx.base, &token, &sid).await;
    let mut tries = 0;
    loop {
        let (on_a, on_b) = (live_sockets(&a_base).await, live_sockets(&b_base).await);
        if (on_a, on_b) == (1, 1) {
            break;
        }
        tries += 1;
        assert!(
            tries < 10,
            "nginx never sent the second socket to the other process"
        );
        resident.close(None).await.ok();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while live_sockets(&a_base).await + live_sockets(&b_base).await != 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the closed socket stays"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A ticket and an upgrade are two requests; one more shifts nginx's round robin.
        client
            .get(format!("{}/readyz", nginx.base))
            .send()
            .await
            .unwrap();
        resident = join(&client, &nginx.base, &token, &sid).await;
    }
    // Chat crosses from one process to the other, both ways.
    chair
        .send(Message::text(
            json!({ "type": "chat", "text": "经由一号" }).to_string(),
        ))
        .await
        .unwrap();
    let got = next_matching(&mut resident, |f| f["kind"] == "chat.posted").await;
    assert_eq!(got["payload"]["text"], "经由一号");
    resident
        .send(Message::text(
            json!({ "type": "chat", "text": "经由二号" }).to_string(),
        ))
        .await
        .unwrap();
    let back = next_matching(&mut chair, |f| {
        f["kind"] == "chat.posted" && f["payload"]["text"] == "经由二号"
    })
    .await;
    assert!(back["seq"].as_i64() > got["seq"].as_i64());
}
