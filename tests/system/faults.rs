//! Faults that need the machine itself: PostgreSQL restarted under load, and the disk for
//! files full. The other faults (kill -9 during a ballot burst, a mail server that never
//! answers) are in the main suite, `tests/api`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::smtp;
use crate::support::{self, Options, TestApp, free_port, id, spawn_app_at, spawn_app_with};

pub fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the command starts");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL cluster of this test's own, so that stopping it disturbs nothing else.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's programs in /usr/lib/postgresql")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("pg_ctl").exists())
            .expect("pg_ctl");
        let dir = std::env::temp_dir().join(format!("yishi-pg-{}", uuid::Uuid::new_v4().simple()));
        run(Command::new("runuser")
            .args(["-u", "postgres", "--", "mkdir", "-p"])
            .arg(&dir));
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(dir.join("data")));
        let cluster = Self {
            bin,
            dir,
            port: free_port(),
        };
        cluster.pg_ctl("start");
        cluster
    }

    fn pg_ctl(&self, action: &str) {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", "fast", "-l"])
            .arg(self.dir.join("log"));
        if action == "start" {
            cmd.arg("-o").arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.dir.display()
            ));
        }
        run(cmd.arg(action));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits (polling, bounded) until `done` holds.
pub async fn until(what: &str, seconds: u64, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {seconds} s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn readiness(app: &TestApp) -> u16 {
    let r = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

#[derive(Default)]
struct Seen {
    statuses: Vec<u16>,
    created: Vec<String>,
}

#[tokio::test]
async fn a_restarted_postgresql_gets_503s_then_service_resumes_without_restarting_yishi() {
    let cluster = Cluster::start();
    let smtp = Arc::new(smtp::SmtpServer::start().await);
    let app = spawn_app_at(Options::default(), smtp, cluster.url()).await;
    let w = app.world().await;

    // Residents write proposals and read the list, without pause, throughout.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (client, base) = (app.client.clone(), app.base.clone());
        let (seen, stop) = (seen.clone(), stop.clone());
        let (token, community) = (w.resident_a.clone(), w.community_a.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let write = client
                    .post(format!("{base}/api/v1/proposals"))
                    .bearer_auth(&token)
                    .json(
                        &json!({ "community_id": community, "title": format!("路灯 {n}"),
                                   "body": "东门的路灯坏了。", "category": "safety" }),
                    )
                    .send()
                    .await
                    .expect("the server answers");
                let status = write.status().as_u16();
                let body: Value = write.json().await.unwrap_or(Value::Null);
                let read = client
                    .get(format!("{base}/api/v1/proposals?community_id={community}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("the server answers");
                let mut seen = seen.lock().unwrap();
                seen.statuses.push(status);
                seen.statuses.push(read.status().as_u16());
                if status == 201 {
                    seen.created.push(id(&body));
                } else if status != 503 {
                    panic!("a write answered {status}: {body}");
                }
            }
        })
    };
    let count = |status: u16| {
        seen.lock()
            .unwrap()
            .statuses
            .iter()
            .filter(|s| **s == status)
            .count()
    };
    until("writes before the restart", 60, || count(201) >= 10).await;

    cluster.pg_ctl("stop");
    until("503s while the database is down", 90, || count(503) >= 2).await;
    assert_eq!(
        readiness(&app).await,
        503,
        "readiness reports the database down"
    );

    cluster.pg_ctl("start");
    let before = count(201) + count(200);
    until("service to resume", 60, || {
        count(201) + count(200) >= before + 10
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    load.await.unwrap();

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let unexpected: Vec<&u16> = seen
        .statuses
        .iter()
        .filter(|s| !matches!(s, 200 | 201 | 503))
        .collect();
    assert!(
        unexpected.is_empty(),
        "no 500 or other answers: {unexpected:?}"
    );
    // Nothing acknowledged was lost.
    for p in &seen.created {
        app.get(&format!("/proposals/{p}"), Some(&w.resident_a))
            .await
            .ok(200);
    }
    // Ready again once its listener for the other processes' notices has reconnected too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while readiness(&app).await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A tmpfs of `size` mounted on a fresh folder; unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("yishi-disk-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir));
        Self(dir)
    }

    fn resize(&self, size: &str) {
        run(Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0));
    }

    fn files(&self) -> Vec<String> {
        files_in(&self.0)
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A PDF of about `kib` KiB, different each time.
fn pdf(kib: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n%".to_vec();
    bytes.extend(uuid::Uuid::new_v4().simple().to_string().bytes());
    bytes.resize(kib * 1024, b' ');
    bytes.extend(b"\n%%EOF\n");
    bytes
}

async fn upload(app: &TestApp, token: &str, tender: &str, bytes: &[u8]) -> support::Answer {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    app.post(
        &format!("/tenders/{tender}/documents"),
        Some(token),
        json!({ "files": [{ "name": "招标文件.pdf", "content_base64": encoded }] }),
    )
    .await
}

#[tokio::test]
async fn a_full_file_store_answers_507_and_keeps_no_half_written_file() {
    let disk = SmallDisk::mount("400k");
    let app = spawn_app_with(Options {
        evidence_dir: Some(disk.0.clone()),
        ..Options::default()
    })
    .await;
    let w = app.world().await;
    let now = chrono::Utc::now();
    let tender = id(app
        .post(
            "/tenders",
            Some(&w.officer),
            json!({
                "place_id": w.subdistrict, "title": "独居老人助餐服务",
                "description": "为辖区独居老人提供助餐服务。", "category": "elderly_care",
                "budget_fen": 50_000_000, "eligibility": "依法登记的社会组织。",
                "criteria": [{ "name": "价格", "weight": 40, "price": true },
                             { "name": "服务方案", "weight": 60 }],
                "enquiry_ends_at": now + chrono::Duration::days(5),
                "tender_ends_at": now + chrono::Duration::days(10),
                "publicity_days": 5,
            }),
        )
        .await
        .ok(201));

    // 150 KiB documents until the store is full.
    let mut kept: Vec<Vec<u8>> = Vec::new();
    let full = loop {
        assert!(
            kept.len() < 5,
            "a 400 KiB disk took {} documents of 150 KiB: {:?} {}",
            kept.len(),
            disk.files(),
            String::from_utf8_lossy(&Command::new("df").arg(&disk.0).output().unwrap().stdout)
        );
        let bytes = pdf(150);
        let answer = upload(&app, &w.officer, &tender, &bytes).await;
        if answer.status.as_u16() == 201 {
            kept.push(bytes);
        } else {
            break answer;
        }
    };
    full.problem(507, "insufficient_storage");
    assert!(!kept.is_empty());

    // Nothing half-written: no partial file, a file for each listed document and no other,
    // and each listed document reads back whole.
    let files = disk.files();
    assert!(files.iter().all(|f| !f.ends_with(".partial")), "{files:?}");
    let view = app
        .get(&format!("/tenders/{tender}"), Some(&w.officer))
        .await;
    let documents = view.ok(200)["documents"].as_array().unwrap().clone();
    assert_eq!(documents.len(), kept.len());
    assert_eq!(files.len(), kept.len(), "{files:?}");
    for (document, bytes) in documents.iter().zip(&kept) {
        assert_eq!(document["sha256"], hex::encode(Sha256::digest(bytes)));
        let got = app
            .client
            .get(app.url(&format!(
                "/procurement-files/{}",
                document["id"].as_str().unwrap()
            )))
            .bearer_auth(&w.officer)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }

    // Space again: uploads work again without a restart.
    disk.resize("2m");
    upload(&app, &w.officer, &tender, &pdf(150)).await.ok(201);
}
